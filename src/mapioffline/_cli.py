"""What every command of ``python -m mapioffline`` shares: the exit statuses, their help text, and the one error path
(``run``) that turns whatever a command raises into one line of stderr and the status its table gives."""

from __future__ import annotations

import argparse
import errno
import os
import stat
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping

from mapioffline.errors import MapiError, NotFound, PublisherGone

PROG = "mapioffline"

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NO_PUBLISHER = 3
EXIT_PUBLISHER_GONE = 4
EXIT_INTERRUPTED = 130

#: What each status means, for any command; a command's help may say more about one (``exit_statuses(extra=)``).
STATUS_MEANINGS: dict[int, str] = {
    EXIT_OK: "success (also when the reader of the output went away, as in `... | head -1`)",
    EXIT_ERROR: 'an error, reported on one line of stderr ("mapioffline: error: ..."): a MAPI error, a bad value (such '
                "as an invalid profile name), an I/O error, a missing optional extra",
    EXIT_USAGE: "a command-line mistake (unknown command or option, bad argument), reported by argparse",
    EXIT_NO_PUBLISHER: "no publisher runs for the profile (one line of stderr)",
    EXIT_PUBLISHER_GONE: "the publisher stopped or died",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}

Run = Callable[[argparse.Namespace], int]

# The width of the descriptions and status tables in --help (argparse leaves them as given: they have line breaks).
_WIDTH = 117


class CommandLineError(Exception):
    """A mistake in the command line that argparse cannot see (e.g. an option that goes with another one): status 2."""


class CommandError(Exception):
    """A failure a command reports in its own words: status 1, the message as the line."""


def exit_statuses(statuses: Iterable[int], extra: Mapping[int, str] | None = None) -> str:
    """The "exit status:" section of a command's --help: each of ``statuses`` with its meaning, and ``extra[status]``
    after it where given."""
    lines = ["exit status:"]
    for status in sorted(statuses):
        meaning = STATUS_MEANINGS[status] + (f"; {extra[status]}" if extra and status in extra else "")
        lines.append(textwrap.fill(meaning, width=_WIDTH, initial_indent=f"  {status:<4} ", subsequent_indent=" " * 7,
                                   break_on_hyphens=False))
    return "\n".join(lines)


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, *, run: Run | None,
                statuses: Iterable[int], help: str, description: str,
                extra: Mapping[int, str] | None = None) -> argparse.ArgumentParser:
    """A subcommand that runs ``run`` (None for a group of subcommands) and may end only with ``statuses`` (listed
    by its --help, with ``extra`` said about some)."""
    codes = frozenset(statuses)
    parser = commands.add_parser(name, help=help,
                                 description=textwrap.fill(description, width=_WIDTH, break_on_hyphens=False),
                                 epilog=exit_statuses(codes, extra),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    if run is not None:
        parser.set_defaults(run=run, statuses=codes)
    return parser


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


def _reader_gone() -> int:
    # The reader went away (`... | head -1`): that is how a pipeline ends, not an error. Point stdout at /dev/null so
    # that the interpreter's final flush does not complain again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_OK


def _pipe_reader_gone(error: OSError) -> bool:
    """Whether `error` is a write to stdout finding its reader gone. POSIX says BrokenPipeError (EPIPE); CPython on
    Windows reports the pipe's ERROR_NO_DATA as OSError EINVAL, with no file name, so there it is that error while
    stdout is a pipe."""
    if isinstance(error, BrokenPipeError):
        return True
    if sys.platform != "win32" or error.errno != errno.EINVAL or error.filename is not None or sys.stdout is None:
        return False
    try:
        return stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode)
    except (OSError, ValueError):
        return False


def _documented(status: int, statuses: frozenset[int]) -> int:
    """``status`` if the command lists it, else 1 (its table never promised that one)."""
    return status if status in statuses else EXIT_ERROR


def run(args: argparse.Namespace) -> int:
    """Runs the command ``args`` names (``args.run``); returns its exit status. The one error path of every command:
    a closed output pipe is success; NotFound and PublisherGone are 3 and 4 where the command lists them; every
    other error is one line of stderr and 1; Ctrl-C is 130."""
    command: Run = args.run
    statuses: frozenset[int] = args.statuses
    try:
        status = command(args)
        if sys.stdout is not None:
            sys.stdout.flush()  # a closed pipe shows here at the latest, not in the interpreter's final flush
        return status
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except CommandLineError as error:
        _error(str(error))
        return EXIT_USAGE
    except NotFound as error:
        _error(str(error))
        return _documented(EXIT_NO_PUBLISHER, statuses)
    except PublisherGone as error:
        _error(str(error))
        return _documented(EXIT_PUBLISHER_GONE, statuses)
    except (CommandError, MapiError, ValueError, OSError, ImportError) as error:
        if isinstance(error, OSError) and _pipe_reader_gone(error):
            return _reader_gone()
        _error(str(error))
        return EXIT_ERROR
    except Exception as error:  # a defect of ours: still one line, with the type to search for
        _error(f"{type(error).__name__}: {error}")
        return EXIT_ERROR
