"""Registration of the Outlook add-in from Python (mapioffline._addin): the values written match the add-in's own
DllRegisterServer (ext/addin), and off Windows the command says why it cannot run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mapioffline import _addin

ADDIN = Path(__file__).resolve().parents[2] / "ext" / "addin"


def test_clsid_and_progid_are_the_dlls() -> None:
    source = (ADDIN / "addin.cpp").read_text()
    m = re.search(r"CLSID_OutlookAddin = \{0x(\w+), 0x(\w+), 0x(\w+), \{([^}]*)\}\}", source)
    assert m is not None
    tail = [int(b, 16) for b in m.group(4).split(",")]
    clsid = "{%08X-%04X-%04X-%02X%02X-%s}" % (int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16),
                                               tail[0], tail[1], "".join(f"{b:02X}" for b in tail[2:]))
    assert clsid == _addin.CLSID
    assert f'kProgId[] = L"{_addin.PROGID}"' in source


def test_entries_cover_both_views_and_the_addins_key_once() -> None:
    dlls = {"64": Path("C:/p/mapioffline_addin_x64.dll"), "32": Path("C:/p/mapioffline_addin_x86.dll")}
    written = _addin.entries(dlls)
    servers = {(e.view, e.value) for e in written if e.key.endswith("InprocServer32") and e.name == ""}
    assert servers == {("64", str(dlls["64"])), ("32", str(dlls["32"]))}
    shared = [e for e in written if e.view == "shared"]
    assert [(e.name, e.value) for e in shared if e.name == "LoadBehavior"] == [("LoadBehavior", 3)]
    assert all(e.key == _addin.ADDIN_KEY for e in shared)
    # The keys DllRegisterServer writes (registration.cpp's comment lists them): the same paths.
    registration = (ADDIN / "registration.cpp").read_text()
    for key in ("InprocServer32", "ThreadingModel", "ProgID", "LoadBehavior", "FriendlyName", "Description"):
        assert key in registration and any(key in e.key or key == e.name for e in written), key
    assert _addin.entries({}) == []


@pytest.mark.skipif(sys.platform == "win32", reason="the message is for other systems")
def test_addin_command_explains_it_needs_windows() -> None:
    result = subprocess.run([sys.executable, "-m", "mapioffline", "addin", "status"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert "only on Windows" in result.stderr
    assert "bridge publish" in result.stderr


def test_allow_set_state_is_the_value_the_dll_reads() -> None:
    source = (ADDIN / "addin.cpp").read_text()
    key = re.search(r'kSettingsKey\[\] = L"([^"]*)"', source)
    value = re.search(r'kAllowSetStateValue\[\] = L"([^"]*)"', source)
    assert key is not None and value is not None
    assert key.group(1).replace("\\\\", "\\") == _addin.SETTINGS_KEY
    assert value.group(1) == _addin.ALLOW_SET_STATE
    # DllRegisterServer (regsvr32) leaves requests off: it never writes the value.
    assert _addin.ALLOW_SET_STATE not in (ADDIN / "registration.cpp").read_text()
    dlls = {"64": Path("C:/p/mapioffline_addin_x64.dll")}
    assert not any(e.key == _addin.SETTINGS_KEY for e in _addin.entries(dlls))
    allowed = [e for e in _addin.entries(dlls, allow_set_state=True) if e.key == _addin.SETTINGS_KEY]
    assert allowed == [_addin.Entry("shared", _addin.SETTINGS_KEY, _addin.ALLOW_SET_STATE, 1)]


class FakeWinreg:
    """The part of winreg that _addin uses, over a dict: {(view, key): {value name: (value, type)}}. Views: "64",
    "32" (KEY_WOW64_*), "shared" (neither flag)."""

    HKEY_CURRENT_USER = object()
    KEY_READ, KEY_ALL_ACCESS, KEY_WOW64_64KEY, KEY_WOW64_32KEY = 0x20019, 0xF003F, 0x0100, 0x0200
    REG_SZ, REG_DWORD = 1, 4

    class Key:
        def __init__(self, view: str, path: str) -> None:
            self.view, self.path = view, path

        def __enter__(self) -> FakeWinreg.Key:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], dict[str, tuple[object, int]]] = {}

    def _view(self, access: int) -> str:
        return "64" if access & self.KEY_WOW64_64KEY else "32" if access & self.KEY_WOW64_32KEY else "shared"

    def CreateKeyEx(self, root: object, path: str, reserved: int = 0, access: int = 0) -> Key:
        view = self._view(access)
        parts = path.lower().split("\\")
        for i in range(1, len(parts) + 1):
            self.keys.setdefault((view, "\\".join(parts[:i])), {})
        return self.Key(view, path.lower())

    def OpenKeyEx(self, root: object, path: str, reserved: int = 0, access: int = KEY_READ) -> Key:
        view = self._view(access)
        if (view, path.lower()) not in self.keys:
            raise FileNotFoundError(path)
        return self.Key(view, path.lower())

    def OpenKey(self, root: object, path: str) -> Key:
        return self.OpenKeyEx(root, path)

    def SetValueEx(self, key: Key, name: str | None, reserved: int, kind: int, value: object) -> None:
        self.keys[(key.view, key.path)][(name or "").lower()] = (value, kind)

    def QueryValueEx(self, key: Key, name: str | None) -> tuple[object, int]:
        values = self.keys[(key.view, key.path)]
        if (name or "").lower() not in values:
            raise FileNotFoundError(name)
        return values[(name or "").lower()]

    def DeleteValue(self, key: Key, name: str) -> None:
        if self.keys[(key.view, key.path)].pop(name.lower(), None) is None:
            raise FileNotFoundError(name)

    def _children(self, view: str, path: str) -> list[str]:
        return sorted({p[len(path) + 1:].split("\\")[0] for v, p in self.keys if v == view and
                       p.startswith(path + "\\")})

    def EnumKey(self, key: Key, index: int) -> str:
        children = self._children(key.view, key.path)
        if index >= len(children):
            raise OSError("no more keys")
        return children[index]

    def DeleteKeyEx(self, root: object, path: str, access: int, reserved: int = 0) -> None:
        view = self._view(access)
        if (view, path.lower()) not in self.keys:
            raise FileNotFoundError(path)
        if self._children(view, path.lower()):
            raise PermissionError(path)  # as Windows: a key with subkeys is not deleted
        del self.keys[(view, path.lower())]


def test_install_allow_set_state_status_and_uninstall(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = FakeWinreg()
    monkeypatch.setattr(_addin, "_winreg", lambda: fake)
    monkeypatch.setattr(_addin, "dll_paths", lambda: {"64": tmp_path / "mapioffline_addin_x64.dll"})
    settings = ("shared", _addin.SETTINGS_KEY.lower())

    _addin.install()
    assert settings not in fake.keys  # off by default: nothing written
    assert _addin.status()["allow_set_state"] is False
    assert _addin.status()["load_behavior"] == 3

    _addin.install(allow_set_state=True)
    assert fake.keys[settings] == {_addin.ALLOW_SET_STATE.lower(): (1, FakeWinreg.REG_DWORD)}
    assert _addin.status()["allow_set_state"] is True

    _addin.install()  # installing again without the option turns requests off again
    assert _addin.ALLOW_SET_STATE.lower() not in fake.keys[settings]
    assert _addin.status()["allow_set_state"] is False

    _addin.install(allow_set_state=True)
    _addin.uninstall()
    assert not any(path.startswith(r"software\mapioffline") for _, path in fake.keys)
    assert _addin.status() == {"shipped": {"64": str(tmp_path / "mapioffline_addin_x64.dll")}, "dll_64": None,
                               "dll_32": None, "load_behavior": None, "allow_set_state": False}
    _addin.uninstall()  # twice is fine


def test_cli_install_passes_allow_set_state(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from mapioffline import __main__ as cli

    calls: list[bool] = []

    def install(allow_set_state: bool = False) -> list[_addin.Entry]:
        calls.append(allow_set_state)
        return []

    monkeypatch.setattr(_addin, "install", install)
    assert cli.main(["addin", "install", "--allow-set-state", "--json"]) == 0
    assert cli.main(["addin", "install"]) == 0
    assert calls == [True, False]
    out = capsys.readouterr().out.splitlines()
    assert '"allow_set_state": true' in out[0]
    assert "set_state requests refused" in out[1]
    assert cli.main(["addin", "status", "--allow-set-state"]) == 2  # an install option only
    assert calls == [True, False]
