"""mapioffline.interop: the ctypes structures have the header's layout (checked against what the C compiler
reports for the header on 32- and 64-bit, and against this build's abi_info()), and work for a real Advise and a
real drain_into."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import HRESULT, ULONG, vtable_call

import mapioffline
from mapioffline import NotifyKind, OfflineObject, Sink, State, _core
from mapioffline.interop import (
    MAPIOFFLINE_ADVISE_TYPE_STATECHANGE,
    MAPIOFFLINE_ADVISEINFO,
    MAPIOFFLINE_CALLBACK_TYPE_NOTIFY,
    MAPIOFFLINE_NOTIFY,
    MAPIOFFLINE_RECORD,
    _advise_info_fields,
)
from mapioffline.testing import pump

HEADER_DIR = Path(__file__).resolve().parents[2] / "ext" / "include"

# (struct, field, the C expression of its offset): every field of the three structures.
FIELDS = [
    ("MAPIOFFLINE_ADVISEINFO", "ulSize", "ulSize"),
    ("MAPIOFFLINE_ADVISEINFO", "ulClientToken", "ulClientToken"),
    ("MAPIOFFLINE_ADVISEINFO", "CallbackType", "CallbackType"),
    ("MAPIOFFLINE_ADVISEINFO", "pCallback", "pCallback"),
    ("MAPIOFFLINE_ADVISEINFO", "ulAdviseTypes", "ulAdviseTypes"),
    ("MAPIOFFLINE_ADVISEINFO", "ulStateMask", "ulStateMask"),
    ("MAPIOFFLINE_NOTIFY", "ulSize", "ulSize"),
    ("MAPIOFFLINE_NOTIFY", "NotifyType", "NotifyType"),
    ("MAPIOFFLINE_NOTIFY", "ulClientToken", "ulClientToken"),
    ("MAPIOFFLINE_NOTIFY", "ulMask", "Info.StateChange.ulMask"),
    ("MAPIOFFLINE_NOTIFY", "ulStateOld", "Info.StateChange.ulStateOld"),
    ("MAPIOFFLINE_NOTIFY", "ulStateNew", "Info.StateChange.ulStateNew"),
    ("MAPIOFFLINE_RECORD", "notify", "notify"),
    ("MAPIOFFLINE_RECORD", "timestamp_ns", "timestamp_ns"),
]


def _ctypes_offset(structure: Any, c_path: str) -> int:
    """Offset of a dotted field path (``Info.StateChange.ulMask``) in a ctypes structure."""
    offset = 0
    for part in c_path.split("."):
        descriptor = getattr(structure, part)
        offset += descriptor.offset
        structure = dict(structure._fields_)[part]
    return offset


def _layout(advise_info: Any) -> dict[str, int]:
    structures = {"MAPIOFFLINE_ADVISEINFO": advise_info, "MAPIOFFLINE_NOTIFY": MAPIOFFLINE_NOTIFY,
                  "MAPIOFFLINE_RECORD": MAPIOFFLINE_RECORD}
    layout = {f"sizeof_{name}": ctypes.sizeof(s) for name, s in structures.items()}
    for struct, field, c_path in FIELDS:
        layout[f"{struct}.{field}"] = _ctypes_offset(structures[struct], c_path)
    return layout


def _compiler_layout(tmp_path: Path, bits: int) -> dict[str, int]:
    """Sizes and offsets as the C compiler lays out the header for -m32/-m64 (built and run here)."""
    compiler = os.environ.get("CC") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None or not (HEADER_DIR / "mapioffline" / "mapioffline.h").is_file():
        pytest.skip("needs a C compiler and the source tree's ext/include")
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include \"mapioffline/mapioffline.h\"", "int main(void) {"]
    for name in ("MAPIOFFLINE_ADVISEINFO", "MAPIOFFLINE_NOTIFY", "MAPIOFFLINE_RECORD"):
        lines.append(f'  printf("sizeof_{name} %u\\n", (unsigned)sizeof({name}));')
    for struct, field, c_path in FIELDS:
        lines.append(f'  printf("{struct}.{field} %u\\n", (unsigned)offsetof({struct}, {c_path}));')
    lines += ["  return 0;", "}"]
    source = tmp_path / "layout.c"
    source.write_text("\n".join(lines) + "\n")
    program = tmp_path / f"layout{bits}"
    build = subprocess.run([compiler, f"-m{bits}", "-std=c99", "-I", os.fspath(HEADER_DIR), os.fspath(source),
                            "-o", os.fspath(program)], capture_output=True, text=True)
    if build.returncode != 0:
        pytest.skip(f"{compiler} cannot build -m{bits} programs here: {build.stderr.strip()[:200]}")
    out = subprocess.run([os.fspath(program)], capture_output=True, text=True, check=True).stdout
    return {key: int(value) for key, value in (line.split() for line in out.splitlines())}


def test_layout_matches_this_build_of_the_header() -> None:
    info = _core.abi_info()
    ours = _layout(MAPIOFFLINE_ADVISEINFO)
    assert ours["sizeof_MAPIOFFLINE_ADVISEINFO"] == info["sizeof_MAPIOFFLINE_ADVISEINFO"]
    assert ours["sizeof_MAPIOFFLINE_NOTIFY"] == info["sizeof_MAPIOFFLINE_NOTIFY"]
    assert ours["sizeof_MAPIOFFLINE_RECORD"] == info["sizeof_record"] == mapioffline.RECORD_SIZE
    for struct, field, _ in FIELDS:
        key = f"offsetof_{'record' if struct == 'MAPIOFFLINE_RECORD' else struct}_{field}"
        assert ours[f"{struct}.{field}"] == info[key], key


@pytest.mark.parametrize("bits", [32, 64])
def test_layout_matches_the_compiler_on_32_and_64_bit(tmp_path: Path, bits: int) -> None:
    # On this interpreter c_void_p has the native size; for the other width, the same field list with a
    # pointer-sized stand-in of that width (a pointer is a plain integer of its size and alignment on both ABIs).
    native_bits = 8 * ctypes.sizeof(ctypes.c_void_p)
    if bits == native_bits:
        advise_info: Any = MAPIOFFLINE_ADVISEINFO
    else:
        stand_in = ctypes.c_uint32 if bits == 32 else ctypes.c_uint64
        advise_info = type(f"ADVISEINFO{bits}", (ctypes.Structure,), {"_fields_": _advise_info_fields(stand_in)})
    expected = _compiler_layout(tmp_path, bits)
    assert _layout(advise_info) == expected
    # The sizes that differ between the two ABIs really do differ (the comparison above is not vacuous).
    assert expected["sizeof_MAPIOFFLINE_ADVISEINFO"] == (24 if bits == 32 else 32)
    assert expected["MAPIOFFLINE_ADVISEINFO.pCallback"] == (12 if bits == 32 else 16)


def test_a_real_advise_with_the_ctypes_structure(offline: OfflineObject) -> None:
    with Sink(16) as sink:
        info = MAPIOFFLINE_ADVISEINFO(
            ulSize=ctypes.sizeof(MAPIOFFLINE_ADVISEINFO), ulClientToken=21,
            CallbackType=MAPIOFFLINE_CALLBACK_TYPE_NOTIFY, pCallback=sink.com_pointer,
            ulAdviseTypes=MAPIOFFLINE_ADVISE_TYPE_STATECHANGE, ulStateMask=mapioffline.STATE_ALL)
        token = ULONG(0)
        advise = vtable_call(offline.com_pointer, 7, HRESULT, ULONG, ctypes.POINTER(MAPIOFFLINE_ADVISEINFO),
                             ctypes.POINTER(ULONG))
        assert advise(0, ctypes.byref(info), ctypes.byref(token)) == 0
        try:
            offline.set_state(State.OFFLINE)
            got = sink.drain()
        finally:
            assert vtable_call(offline.com_pointer, 8, HRESULT, ULONG, ULONG)(0, token.value) == 0
    assert [(n.kind, n.client_token, n.new_state) for n in got] == [
        (NotifyKind.STATECHANGE_START, 21, State.OFFLINE), (NotifyKind.STATECHANGE, 21, State.OFFLINE),
        (NotifyKind.STATECHANGE_DONE, 21, State.OFFLINE)]


def test_drain_into_an_array_of_records() -> None:
    with Sink(8) as sink:
        pump(sink.com_pointer, 3, kind=NotifyKind.STATECHANGE, client_token=5, old_state=2, new_state=1, sequence=True)
        records = (MAPIOFFLINE_RECORD * 4)()
        assert sink.drain_into(records) == 3
    first = records[0]
    assert first.notify.ulSize == ctypes.sizeof(MAPIOFFLINE_NOTIFY) == 24
    assert first.notify.NotifyType == NotifyKind.STATECHANGE
    assert [r.notify.Info.StateChange.ulStateOld for r in records[:3]] == [0, 1, 2]  # the pump's sequence
    assert first.notify.Info.StateChange.ulStateNew == State.OFFLINE
    assert 0 < first.timestamp_ns <= records[2].timestamp_ns <= mapioffline.now_ns()


def test_a_notify_structure_sent_by_hand_arrives() -> None:
    with Sink(4) as sink:
        n = MAPIOFFLINE_NOTIFY(ulSize=ctypes.sizeof(MAPIOFFLINE_NOTIFY), NotifyType=3, ulClientToken=9)
        n.Info.StateChange.ulMask, n.Info.StateChange.ulStateOld, n.Info.StateChange.ulStateNew = 3, 1, 2
        notify = vtable_call(sink.com_pointer, 3, None, ctypes.POINTER(MAPIOFFLINE_NOTIFY))
        notify(ctypes.byref(n))
        got = sink.get(timeout=0)
    assert (got.kind, got.client_token, got.mask, got.old_state, got.new_state) == (
        NotifyKind.STATECHANGE_DONE, 9, 3, State.OFFLINE, State.ONLINE)
