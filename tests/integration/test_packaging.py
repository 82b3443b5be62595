"""What the release ships (issue 18.9): metadata a package index shows, a native library without debug info, and
figures printed rounded."""

from __future__ import annotations

import importlib.metadata
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mapioffline import _core


def test_metadata_names_the_python_versions_and_every_project_url() -> None:
    meta = importlib.metadata.metadata("mapioffline")
    classifiers = meta.get_all("Classifier") or []
    for minor in range(10, 15):  # requires-python >= 3.10; cibuildwheel builds cp310-cp314
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert "Programming Language :: Python :: 3 :: Only" in classifiers
    urls = {entry.split(",", 1)[0].strip(): entry.split(",", 1)[1].strip() for entry in meta.get_all("Project-URL") or []}
    assert {"Source", "Documentation", "Changelog", "Issues"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())


def _elf_section_names(path: Path) -> list[str]:
    """The section names of a 64-bit little-endian ELF file."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "a 64-bit little-endian ELF file"
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names_at = headers[shstrndx][4]  # sh_offset of the section-name table
    return [data[names_at + h[0]:data.index(b"\0", names_at + h[0])].decode() for h in headers]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF: the Linux library")
def test_a_release_build_carries_no_debug_info() -> None:
    library = Path(_core.__file__)
    sections = _elf_section_names(library)
    assert ".text" in sections
    debug = [name for name in sections if name.startswith(".debug_")]
    if _core._DEBUG_INFO:  # MAPIOFFLINE_DEBUG=1 or a sanitizer build: debug info asked for
        assert ".debug_info" in debug
    else:
        assert debug == [], f"{library} ({library.stat().st_size:,} bytes) has {debug}"


def test_the_exit_warning_prints_the_time_rounded() -> None:
    code = textwrap.dedent("""
        import threading
        import mapioffline
        obj = mapioffline.open_offline("exit-rounded", backend="embedded")
        sub = obj.advise(callback=lambda n: threading.Event().wait())
        obj.set_state(mapioffline.State.OFFLINE)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "MAPIOFFLINE_EXIT_TIMEOUT": "0.3"})
    assert result.returncode == 0, result.stderr
    # What is left of the bound when this dispatcher's turn comes is a hair under 0.3 s: shown as 0.3.
    assert "a callback did not finish within 0.3 s;" in result.stderr, result.stderr


# What `import mapioffline` and the CLI's start may import. asyncio (half of the package's import time, ~50 ms) is
# for those who await: `aget()`, `async for` and `await_state()` import it when first used.
NOT_AT_IMPORT = ("asyncio", "subprocess", "concurrent.futures", "ssl")


@pytest.mark.parametrize("code", ["import mapioffline",
                                  "import sys; sys.argv = ['mapioffline', '--version']; import runpy\n"
                                  "try: runpy.run_module('mapioffline', run_name='__main__')\n"
                                  "except SystemExit: pass"])
def test_importing_the_package_or_starting_the_cli_leaves_asyncio_unloaded(code: str) -> None:
    check = f"{code}\nimport sys\nprint('loaded:', *(m for m in {NOT_AT_IMPORT!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "loaded:", result.stdout
