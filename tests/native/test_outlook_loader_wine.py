"""The Outlook loader (ext/src/outlook_loader.cpp, spec §5) against a stand-in olmapi32.dll, under Wine.

ext/tests/outlook builds our embedded object into an olmapi32.dll that exports exactly what Outlook's DLL exports
(HrOpenOfflineObj on x64, HrOpenOfflineObj@20 on x86), one that exports only the other spelling (which the loader
tries second), one without either, and outlook_loader_test.exe, whose CTest runs cover: argument errors, nothing
found, the DLL already loaded, the other-spelling DLL loaded (found, and reported by mapioffline_outlook_export),
the DLL without the export, and the DLL found through the DllPathEx registry value (REG_SZ and REG_EXPAND_SZ, written into a
private Wine prefix by CTest fixtures). The FGetComponentPath route needs an MSI-registered Outlook component and is
not tested. The x64 build runs under Wine; the i686 build is built only, and both stand-ins' export tables are read
with objdump. A toolchain that cannot work here (its probe build or run fails: native_probe.py) skips, unless
MAPIOFFLINE_REQUIRE_ALL_TARGETS=1 (set by .ci/run): then it fails. Marked `native`, like test_native_targets.py.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from native_probe import Toolchain, require
from wine_session import wine_session


EXT = Path(__file__).resolve().parents[2] / "ext"
MINGW64 = ["-DCMAKE_SYSTEM_NAME=Windows", "-DCMAKE_C_COMPILER=x86_64-w64-mingw32-gcc-posix",
           "-DCMAKE_CXX_COMPILER=x86_64-w64-mingw32-g++-posix", "-DCMAKE_CROSSCOMPILING_EMULATOR=wine"]
MINGW32 = ["-DCMAKE_SYSTEM_NAME=Windows", "-DCMAKE_C_COMPILER=i686-w64-mingw32-gcc-posix",
           "-DCMAKE_CXX_COMPILER=i686-w64-mingw32-g++-posix"]
TARGETS = ["outlook_loader_test", "olmapi32_standin", "olmapi32_alt", "olmapi32_noexport"]

# Summary labels printed by outlook_loader_test, and every CTest test of ext/tests/outlook, in the order the
# registry fixtures impose on them.
MODES = {"invalid", "loaded", "alternate", "noexport", "none", "registry", "registry_expand", "none_after_cleanup"}
ORDERED = ["outlook_loader.none",
           "outlook_loader.registry_setup", "outlook_loader.registry", "outlook_loader.registry_cleanup",
           "outlook_loader.registry_expand_setup", "outlook_loader.registry_expand",
           "outlook_loader.registry_expand_cleanup",
           "outlook_loader.none_after_cleanup"]
ALL_TESTS = {"outlook_loader.invalid", "outlook_loader.loaded", "outlook_loader.alternate", "outlook_loader.noexport",
             *ORDERED}
# What a self-contained DLL may import: the system's own DLLs, never the mingw runtime (libstdc++, libgcc, pthread).
SYSTEM_DLL = re.compile(r"(kernel32|msvcrt|ucrtbase|advapi32|ole32|user32|api-ms-win-[\w-]+)\.dll", re.I)


WIN64 = Toolchain("x86_64-w64-mingw32-gcc-posix", "x86_64-w64-mingw32-g++-posix", link_flags=("-static",),
                  emulator=("wine",), extra_tools=("wine", "x86_64-w64-mingw32-objdump"))
WIN32 = Toolchain("i686-w64-mingw32-gcc-posix", "i686-w64-mingw32-g++-posix", link_flags=("-static",), run=False,
                  extra_tools=("i686-w64-mingw32-objdump",))


def _run(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{output[-6000:]}"
    return output


def _build(build: Path, cmake_args: list[str], env: dict[str, str] | None = None) -> Path:
    _run(["cmake", "-S", str(EXT), "-B", str(build), "-DBUILD_TESTING=ON", *cmake_args], env)
    _run(["cmake", "--build", str(build), "-j", str(os.cpu_count() or 2), "--target", *TARGETS], env)
    return build / "tests" / "outlook"


def _exports(objdump: str, dll: Path) -> tuple[str | None, list[str], list[str]]:
    """(the export directory's DLL name, the exported names, the imported DLLs) of a PE file."""
    out = _run([objdump, "-p", str(dll)])
    table = re.search(r"\[Ordinal/Name Pointer\] Table\n(.*?)(?:\n[ \t]*\n|\Z)", out, re.S)
    names = re.findall(r"^\s+\[\s*\d+\]\s+(\S+)\s*$", table.group(1), re.M) if table else []
    dll_name = re.search(r"^Name\s+[0-9a-fA-F]+\s+(\S+)\s*$", out, re.M)
    imports = re.findall(r"DLL Name: (\S+)", out)
    return (dll_name.group(1) if dll_name else None), names, imports


def _check_dlls(objdump: str, outlook: Path, export: str, other: str) -> None:
    name, names, imports = _exports(objdump, outlook / "olmapi32.dll")
    print(f"{outlook.parent.parent.name}: olmapi32.dll exports {names}, imports {imports}")
    assert name == "olmapi32.dll"
    assert names == [export]
    assert imports and all(SYSTEM_DLL.fullmatch(dll) for dll in imports), imports
    # The other-spelling stand-in: only the name the loader tries second on this architecture.
    name, names, imports = _exports(objdump, outlook / "alt" / "olmapi32.dll")
    print(f"{outlook.parent.parent.name}: alt/olmapi32.dll exports {names}")
    assert name == "olmapi32.dll"
    assert names == [other]
    assert imports and all(SYSTEM_DLL.fullmatch(dll) for dll in imports), imports
    name, names, imports = _exports(objdump, outlook / "noexport" / "olmapi32.dll")
    assert name == "olmapi32.dll"
    assert names == ["mapioffline_noexport_marker"]
    assert imports and all(SYSTEM_DLL.fullmatch(dll) for dll in imports), imports


@pytest.fixture(scope="module")
def x64_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    # A private prefix: the CTest fixtures write HKLM\Software\Clients\Mail\Microsoft Outlook\DllPathEx into it.
    return {**os.environ, "WINEDEBUG": "-all", "WINEPREFIX": str(tmp_path_factory.mktemp("wineprefix-outlook"))}


@pytest.fixture(scope="module")
def x64_build(x64_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(WIN64, "windows-x64-wine", x64_env)
    build = tmp_path_factory.mktemp("outlook-windows-x64")
    _build(build, MINGW64, x64_env)
    return build


def test_x64_standin_exports(x64_build: Path) -> None:
    _check_dlls("x86_64-w64-mingw32-objdump", x64_build / "tests" / "outlook", "HrOpenOfflineObj",
                "HrOpenOfflineObj@20")


def test_i686_standin_exports(tmp_path_factory: pytest.TempPathFactory) -> None:
    require(WIN32, "windows-i686-build-only")
    build = tmp_path_factory.mktemp("outlook-windows-i686")
    outlook = _build(build, MINGW32)
    assert (outlook / "outlook_loader_test.exe").is_file()  # the 32-bit loader and its test compile
    _check_dlls("i686-w64-mingw32-objdump", outlook, "HrOpenOfflineObj@20", "HrOpenOfflineObj")


def test_outlook_loader_modes_under_wine(x64_build: Path, x64_env: dict[str, str]) -> None:
    with wine_session(x64_env):
        output = _run(["ctest", "--test-dir", str(x64_build), "-R", r"^outlook_loader\.", "--output-on-failure",
                       "-V", "--timeout", "60"], x64_env, timeout=300)

    suites = re.findall(r"outlook_loader_test\[(\w+)\]: (\d+) checks, (\d+) failures", output)
    assert {mode for mode, _, _ in suites} == MODES, output[-6000:]
    assert len(suites) == len(MODES)
    assert all(int(checks) > 0 and failures == "0" for _, checks, failures in suites), suites
    passed = re.findall(r"Test\s+#\d+: (outlook_loader\.\w+) \.+\s+Passed", output)
    assert set(passed) == ALL_TESTS, output[-6000:]
    started = re.findall(r"Start\s+\d+: (outlook_loader\.\w+)", output)
    assert [name for name in started if name in ORDERED] == ORDERED, started
    print("windows-x64-wine: " + ", ".join(f"{mode} {checks} checks" for mode, checks, _ in suites))
