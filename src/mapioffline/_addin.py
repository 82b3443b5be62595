"""Per-user registration of the Outlook add-in (ext/addin): ``python -m mapioffline addin install | uninstall |
status``. Writes the same keys as the DLL's own DllRegisterServer (what ``regsvr32`` does), under
HKEY_CURRENT_USER, so no elevation is needed; Outlook then loads the add-in at start-up (LoadBehavior 3).

Outlook's bitness need not match Python's: the 64-bit DLL is registered in the 64-bit view of Software\\Classes and
the 32-bit DLL in the 32-bit view, each where it exists in the package.

Off by default, the add-in also runs other processes' ``set_state`` requests (on Outlook's own thread) when the
user's ``HKCU\\Software\\mapioffline\\Addin`` value ``AllowSetState`` is the DWORD 1, which ``install
--allow-set-state`` writes, ``install`` without it removes, and ``status`` reports. Outlook reads it at start-up.
``DllRegisterServer`` never writes it."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CLSID", "PROGID", "SETTINGS_KEY", "ALLOW_SET_STATE", "Entry", "entries", "install", "uninstall", "status",
           "dll_paths"]

CLSID = "{6D3E4F2A-8B1C-4E5D-9A7F-3C2B1D0E9F81}"  # ext/addin/addin.cpp, CLSID_OutlookAddin
PROGID = "MapiOffline.OutlookAddin"
DESCRIPTION = "Publishes Outlook's online/offline state to other processes of this user"
CLASS_KEY = rf"Software\Classes\CLSID\{CLSID}"
PROGID_KEY = rf"Software\Classes\{PROGID}"
ADDIN_KEY = rf"Software\Microsoft\Office\Outlook\Addins\{PROGID}"
# The add-in's own settings (ext/addin/addin.cpp, kSettingsKey / kAllowSetStateValue): not redirected per view.
SETTINGS_KEY = r"Software\mapioffline\Addin"
ALLOW_SET_STATE = "AllowSetState"


@dataclass(frozen=True)
class Entry:
    """One registry value: view ("64", "32" or "shared"), key under HKCU, value name ("" = default), value."""

    view: str
    key: str
    name: str
    value: str | int


def dll_paths() -> dict[str, Path]:
    """The add-in DLLs shipped in this installation, by bitness ("64", "32")."""
    folder = Path(__file__).with_name("addin")
    found = {bits: folder / f"mapioffline_addin_x{'64' if bits == '64' else '86'}.dll" for bits in ("64", "32")}
    return {bits: path for bits, path in found.items() if path.is_file()}


def entries(dlls: dict[str, Path], allow_set_state: bool = False) -> list[Entry]:
    """Every value to write for the given DLLs: the COM class in each DLL's own view, the Addins key once, and
    AllowSetState = 1 when requests are allowed."""
    result: list[Entry] = []
    for view, path in sorted(dlls.items()):
        result += [
            Entry(view, CLASS_KEY, "", DESCRIPTION),
            Entry(view, CLASS_KEY + r"\InprocServer32", "", str(path)),
            Entry(view, CLASS_KEY + r"\InprocServer32", "ThreadingModel", "Apartment"),
            Entry(view, CLASS_KEY + r"\ProgID", "", PROGID),
            Entry(view, PROGID_KEY, "", DESCRIPTION),
            Entry(view, PROGID_KEY + r"\CLSID", "", CLSID),
        ]
    if dlls:
        result += [
            Entry("shared", ADDIN_KEY, "FriendlyName", "mapioffline"),
            Entry("shared", ADDIN_KEY, "Description", DESCRIPTION),
            Entry("shared", ADDIN_KEY, "LoadBehavior", 3),
        ]
        if allow_set_state:
            result.append(Entry("shared", SETTINGS_KEY, ALLOW_SET_STATE, 1))
    return result


class NotOnWindows(RuntimeError):
    """The add-in exists only for Outlook on Windows."""


def _winreg() -> Any:
    if sys.platform != "win32":
        raise NotOnWindows(
            "the Outlook add-in exists only on Windows (Outlook for Windows); on this system, publish with "
            "`python -m mapioffline bridge publish --profile P`"
        )
    import winreg

    return winreg


def _access(winreg: Any, view: str) -> int:
    flags = {"64": winreg.KEY_WOW64_64KEY, "32": winreg.KEY_WOW64_32KEY}.get(view, 0)
    return int(winreg.KEY_ALL_ACCESS | flags)


def install(allow_set_state: bool = False) -> list[Entry]:
    """Registers every shipped DLL for this user; with allow_set_state, lets other processes ask Outlook for
    set_state (AllowSetState = 1), without it removes that value. Raises NotOnWindows elsewhere, FileNotFoundError
    without DLLs."""
    winreg = _winreg()
    dlls = dll_paths()
    if not dlls:
        raise FileNotFoundError("this installation has no add-in DLL (Windows wheels ship mapioffline/addin/*.dll)")
    written = entries(dlls, allow_set_state)
    if not allow_set_state:
        _delete_value(winreg, SETTINGS_KEY, ALLOW_SET_STATE)
    for e in written:
        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, e.key, 0, _access(winreg, e.view)) as key:
            if isinstance(e.value, int):
                winreg.SetValueEx(key, e.name or None, 0, winreg.REG_DWORD, e.value)
            else:
                winreg.SetValueEx(key, e.name or None, 0, winreg.REG_SZ, e.value)
    return written


def _delete_tree(winreg: Any, key: str, view: str) -> None:
    try:
        with winreg.OpenKeyEx(winreg.HKEY_CURRENT_USER, key, 0, _access(winreg, view)) as k:
            while True:
                try:
                    child = winreg.EnumKey(k, 0)
                except OSError:
                    break
                _delete_tree(winreg, key + "\\" + child, view)
        winreg.DeleteKeyEx(winreg.HKEY_CURRENT_USER, key, _access(winreg, view), 0)
    except FileNotFoundError:
        pass


def _delete_value(winreg: Any, key: str, name: str) -> None:
    try:
        with winreg.OpenKeyEx(winreg.HKEY_CURRENT_USER, key, 0, _access(winreg, "shared")) as k:
            winreg.DeleteValue(k, name)
    except FileNotFoundError:
        pass


def uninstall() -> None:
    """Removes the registration from both views and the add-in's settings (missing keys are fine). Raises
    NotOnWindows elsewhere."""
    winreg = _winreg()
    for view in ("64", "32"):
        _delete_tree(winreg, CLASS_KEY, view)
        _delete_tree(winreg, PROGID_KEY, view)
    _delete_tree(winreg, ADDIN_KEY, "shared")
    _delete_tree(winreg, SETTINGS_KEY, "shared")
    try:  # Software\mapioffline itself, unless something else of ours lives there
        winreg.DeleteKeyEx(winreg.HKEY_CURRENT_USER, SETTINGS_KEY.rsplit("\\", 1)[0], _access(winreg, "shared"), 0)
    except OSError:
        pass


def status() -> dict[str, object]:
    """What is registered: the DLL of each view, the Addins key's LoadBehavior and whether set_state requests are
    allowed (AllowSetState is the DWORD 1, as the add-in reads it). Raises NotOnWindows elsewhere."""
    winreg = _winreg()
    result: dict[str, object] = {"shipped": {bits: str(p) for bits, p in dll_paths().items()}}
    for view in ("64", "32"):
        try:
            with winreg.OpenKeyEx(winreg.HKEY_CURRENT_USER, CLASS_KEY + r"\InprocServer32", 0,
                                  int(winreg.KEY_READ | (winreg.KEY_WOW64_64KEY if view == "64"
                                                         else winreg.KEY_WOW64_32KEY))) as key:
                result[f"dll_{view}"] = winreg.QueryValueEx(key, None)[0]
        except FileNotFoundError:
            result[f"dll_{view}"] = None
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, ADDIN_KEY) as key:
            result["load_behavior"] = winreg.QueryValueEx(key, "LoadBehavior")[0]
    except FileNotFoundError:
        result["load_behavior"] = None
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, SETTINGS_KEY) as key:
            value, kind = winreg.QueryValueEx(key, ALLOW_SET_STATE)
            result["allow_set_state"] = kind == winreg.REG_DWORD and value == 1
    except FileNotFoundError:
        result["allow_set_state"] = False
    return result
