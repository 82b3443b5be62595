"""The README runs: every ```python block is a complete program that exits 0 with nothing on stderr in a fresh
interpreter on the embedded object, and prints exactly what the "Output:" block after it shows (``<int>`` stands
for any integer). Blocks fenced ```python windows need Windows/Outlook and are left to the Windows CI job. The
quick-start commands are the ones .ci/run runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
CI_RUN = README.parent / ".ci" / "run"
# asyncio's slow-callback report (base_events: "Executing <Handle ...> took 0.103 seconds").
_SLOW_CALLBACK = re.compile(r"Executing <.*> took \d+\.\d+ seconds\r?$")

if not README.is_file():  # pragma: no cover - tests run against an installed wheel, without the source tree
    pytest.skip("the README is in the source tree only", allow_module_level=True)

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass
class Block:
    info: str  # the fence's info string: "python", "python windows", "text", "sh", ...
    code: str
    line: int  # 1-based line of the opening fence
    output: str | None = None  # the "Output:" block that follows, if any


def blocks(text: str) -> list[Block]:
    found: list[Block] = []
    last_end = 0
    for match in _FENCE.finditer(text):
        block = Block(match.group(1).strip(), match.group(2), text.count("\n", 0, match.start()) + 1)
        between = text[last_end:match.start()]
        if found and block.info == "text" and between.strip() == "Output:":
            found[-1].output = block.code
        else:
            found.append(block)
        last_end = match.end()
    return found


ALL = blocks(README.read_text(encoding="utf-8"))
PYTHON = [b for b in ALL if b.info == "python"]
# Need Windows (and Outlook's process, where they say so): run by a Windows CI job, where this file runs too.
WINDOWS = [b for b in ALL if b.info == "python windows"]


def _pattern(expected: str) -> re.Pattern[str]:
    return re.compile("".join(r"\d+" if part == "<int>" else re.escape(part)
                              for part in re.split(r"(<int>)", expected)) + r"\Z")


def test_the_readme_has_its_examples() -> None:
    # Usage, unknown values, callback, asyncio, last_state, raw records, interop, errors, testing: if one
    # disappeared (or lost its fence), the README changed shape and this test should be looked at.
    assert len(PYTHON) >= 9
    assert all(b.output is not None for b in PYTHON if "print(" in b.code), "a printing example without Output"


@pytest.mark.parametrize("block", PYTHON, ids=[f"README.md:{b.line}" for b in PYTHON])
def test_example_runs_as_written(block: Block, tmp_path: Path) -> None:
    _run_and_check(block, tmp_path)


@pytest.mark.skipif(sys.platform != "win32", reason="a ```python windows block runs on Windows only")
@pytest.mark.parametrize("block", WINDOWS, ids=[f"README.md:{b.line}" for b in WINDOWS])
def test_windows_example_runs_as_written(block: Block, tmp_path: Path) -> None:
    _run_and_check(block, tmp_path)


def _run_and_check(block: Block, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(block.code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}  # a fresh interpreter, as a user's
    result = subprocess.run([sys.executable, "-X", "dev", os.fspath(script)], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path, env=env)
    assert result.returncode == 0, f"README.md:{block.line}\n{result.stderr}"
    # -X dev: no ResourceWarning either. -X dev also turns on asyncio's debug mode, which logs every callback that
    # ran over 0.1 s: on a loaded machine (CI's parallel stages, Wine) that measures the machine, not the example.
    stderr = "".join(line for line in result.stderr.splitlines(keepends=True) if not _SLOW_CALLBACK.match(line))
    assert stderr == "", f"README.md:{block.line}\n{result.stderr}"
    if block.output is not None:
        assert _pattern(block.output).match(result.stdout), (
            f"README.md:{block.line} printed\n{result.stdout}\nbut its Output block says\n{block.output}")


def test_output_patterns_can_fail() -> None:
    assert _pattern("a <int> b\n").match("a 12 b\n")
    assert not _pattern("a <int> b\n").match("a x b\n")
    assert not _pattern("a\n").match("a\nb\n")


def test_quick_start_commands() -> None:
    text = README.read_text(encoding="utf-8")
    quick_start = text[text.index("## Quick start"):text.index("## Usage")]
    commands = [b.code.strip() for b in blocks(quick_start) if b.info == "sh"]
    assert commands[0] == "python3 -m venv .venv && . .venv/bin/activate && pip install . && python -m mapioffline demo"
    assert commands[1] == ("python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && "
                           "python -m pytest")
    # CI runs that same full test command (no marker, nothing left out).
    if CI_RUN.is_file():
        assert "pip install -q -e '.[test]' && python -m pytest\n" in CI_RUN.read_text(encoding="utf-8")


def test_the_fast_path_leaves_out_exactly_the_native_cross_target_tests() -> None:
    # The `native` marker is set by folder (conftest.py): the slow kind, every test file that builds ext/ (CMake, the
    # libFuzzer build) or runs Windows code under Wine, lives in tests/native and nothing else does.
    text = README.read_text(encoding="utf-8")
    assert 'python -m pytest -m "not native and not model and not stress" -n auto --dist loadfile' in text
    tests = Path(__file__).resolve().parents[1]

    def builds_or_runs_wine(path: Path) -> bool:
        text = path.read_text(encoding="utf-8")
        return "from wine_session import" in text or "cmake" in text.lower() or '"fuzz"' in text

    slow = {path.relative_to(tests).as_posix() for path in tests.rglob("test_*.py")
            if path.name != Path(__file__).name and builds_or_runs_wine(path)}
    native = {path.relative_to(tests).as_posix() for path in (tests / "native").glob("test_*.py")}
    assert "native/test_native_targets.py" in slow
    assert slow == native
