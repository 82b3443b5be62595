"""One source per constant: every number the Python side writes down (the enums, the flags, the HRESULT table and
the exception classes' defaults) is checked against the C header the core is built from, so the two cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mapioffline import FLAG_BLOCK, OFFLINE_MASK, STATE_ALL, Capability, NotifyKind, State, errors

INCLUDE = Path(__file__).resolve().parents[2] / "ext" / "include" / "mapioffline"

pytestmark = pytest.mark.skipif(not (INCLUDE / "abi.h").is_file(),
                                reason="the C headers are in the source tree, not beside these tests")


def _header_values() -> dict[str, int]:
    """Every `#define NAME ((TYPE)0x...)`, `#define NAME N` and `NAME = N` enumerator of the public headers, with
    `#define A B` aliases resolved."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(INCLUDE.glob("*.h")))
    values: dict[str, int] = {}
    for name, number in re.findall(r"#define\s+(\w+)\s+\(\(\w+\)(0x[0-9A-Fa-f]+|\d+)\)", text):
        values[name] = int(number, 0)
    for name, number in re.findall(r"#define\s+(\w+)\s+\(?(-?\d+|0x[0-9A-Fa-f]+)u?\)?\s", text):
        values.setdefault(name, int(number, 0))
    for name, number in re.findall(r"^\s+(MAPIOFFLINE_\w+)\s*=\s*(\d+)", text, re.MULTILINE):
        values[name] = int(number)
    for name, alias in re.findall(r"#define\s+(\w+)\s+([A-Z_]+)\s*$", text, re.MULTILINE):
        if alias in values:
            values.setdefault(name, values[alias])
    return values


HEADER = _header_values() if (INCLUDE / "abi.h").is_file() else {}


def test_states_capabilities_and_flags_are_the_headers() -> None:
    assert State.OFFLINE == HEADER["MAPIOFFLINE_STATE_OFFLINE"]
    assert State.ONLINE == HEADER["MAPIOFFLINE_STATE_ONLINE"]
    assert Capability.OFFLINE == HEADER["MAPIOFFLINE_CAPABILITY_OFFLINE"]
    assert Capability.ONLINE == HEADER["MAPIOFFLINE_CAPABILITY_ONLINE"]
    assert OFFLINE_MASK == HEADER["MAPIOFFLINE_STATE_OFFLINE_MASK"]
    assert STATE_ALL == HEADER["MAPIOFFLINE_STATE_ALL"]
    assert FLAG_BLOCK == HEADER["MAPIOFFLINE_FLAG_BLOCK"]


def test_notify_kinds_are_the_headers() -> None:
    for kind in (NotifyKind.STATECHANGE_START, NotifyKind.STATECHANGE, NotifyKind.STATECHANGE_DONE):
        assert kind == HEADER[f"MAPIOFFLINE_NOTIFY_TYPE_{kind.name}"], kind


def test_every_named_hresult_is_the_headers() -> None:
    # The table's names are the header's, except E_ACCESSDENIED, which the header spells for the bridge.
    spelled = {"E_ACCESSDENIED": "MAPIOFFLINE_E_ACCESS_DENIED"}
    for value, name in errors.HRESULT_NAMES.items():
        assert HEADER[spelled.get(name, name)] == value, name


def test_every_exception_default_is_a_named_hresult() -> None:
    for cls in (errors.MapiError, errors.InvalidArgument, errors.Pending, errors.NotSupported, errors.NoInterface,
                errors.NotFound, errors.PublisherGone):
        assert cls.default_hresult in errors.HRESULT_NAMES, cls
