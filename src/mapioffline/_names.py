"""How messages show a profile name: shortened when long (a message stays one readable line), and as a
command-line argument to copy."""

from __future__ import annotations

import shlex
import sys

__all__ = ["shown", "as_argument"]

#: Names up to this many characters are shown whole.
SHOWN_CHARS = 48


def shown(name: str) -> str:
    """``name`` quoted for a message (``repr``, so unprintable characters and surrogates are escaped); a longer
    name than SHOWN_CHARS is cut, with its length: ``'pppp…' (300 characters)``."""
    if len(name) <= SHOWN_CHARS:
        return repr(name)
    return f"{name[:SHOWN_CHARS] + '…'!r} ({len(name)} characters)"


def as_argument(name: str) -> str:
    """``name`` as one argument of a command the user can copy into this platform's shell."""
    if sys.platform == "win32":
        import subprocess  # its quoting rules are the Windows ones; the module is not needed at import otherwise

        return subprocess.list2cmdline([name])
    return shlex.quote(name)
