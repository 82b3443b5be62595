"""Registration of the Outlook add-in from Python (mapioffline._addin): the values written match the add-in's own
DllRegisterServer (ext/addin), and off Windows the command says why it cannot run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mapioffline import _addin

ADDIN = Path(__file__).resolve().parent.parent / "ext" / "addin"


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
