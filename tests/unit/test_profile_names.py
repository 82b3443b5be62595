"""One profile-name rule for every backend and the bridge's publisher (issue 19.5): 1 to 255 UTF-16 code units, no
unpaired surrogate, no NUL; anything else is InvalidArgument (a ValueError) with the same message everywhere, and a
message never repeats a long name whole."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

import mapioffline
from mapioffline import _bridge
from mapioffline._names import as_argument, shown

needs_bridge = pytest.mark.skipif(not (sys.platform.startswith("linux") or sys.platform == "win32"),
                                  reason="the bridge channel exists on Linux and Windows")


def _open(backend: str) -> Callable[[str], object]:
    def open_(name: str) -> object:
        with mapioffline.open_offline(name, backend=backend):
            pass
        return None
    return open_


def _publish(name: str) -> object:
    with _bridge.publish(name):
        pass
    return None


# Every way a profile name reaches the native layer.
EVERY_ENTRY = [pytest.param(_open("embedded"), id="embedded"),
               pytest.param(_open("bridge"), id="bridge", marks=needs_bridge),
               pytest.param(_open("auto"), id="auto", marks=needs_bridge),
               pytest.param(_publish, id="publish", marks=needs_bridge)]


@pytest.mark.parametrize("entry", EVERY_ENTRY)
@pytest.mark.parametrize(("name", "why"), [
    ("", "a profile name must not be empty"),
    ("p" * 256, "a profile name has at most 255 UTF-16 code units"),
    ("p" * 100_000, "a profile name has at most 255 UTF-16 code units"),
    ("\U0001F600" * 128, "a profile name has at most 255 UTF-16 code units"),  # 128 characters, 256 units
    ("caf\udce9", "a profile name must be text: it has an unpaired surrogate"),  # b"caf\xe9" from a UTF-8 argv
    ("\ud800x", "a profile name must be text: it has an unpaired surrogate"),
    ("\ud800", "a profile name must be text: it has an unpaired surrogate"),
    ("a\0b", "a profile name must not contain NUL characters"),
])
def test_every_entry_refuses_the_same_names_with_the_same_message(entry: Callable[[str], object], name: str,
                                                                  why: str) -> None:
    with pytest.raises(mapioffline.InvalidArgument) as raised:
        entry(name)
    assert isinstance(raised.value, ValueError)
    assert raised.value.message == f"invalid profile name {shown(name)}: {why}"
    assert len(str(raised.value)) < 200  # a long name is shortened


@pytest.mark.parametrize("name", ["p" * 255, "\U0001F600" * 127 + "p", "Ωμέγα", "a b"])
def test_a_name_at_the_limit_opens_and_publishes(name: str) -> None:
    with mapioffline.open_offline(name, backend="embedded") as obj:
        assert obj.profile == name
    if sys.platform.startswith("linux") or sys.platform == "win32":
        with _bridge.publish(name), mapioffline.open_offline(name, backend="bridge") as obj:
            assert obj.state is mapioffline.State.ONLINE


def test_outlook_backend_checks_the_name_too_on_windows() -> None:
    if sys.platform != "win32":
        pytest.skip("off Windows the Outlook backend is NotSupported whatever the name")
    with pytest.raises(mapioffline.InvalidArgument, match="at most 255"):
        mapioffline.open_offline("p" * 256, backend="outlook")


def test_shown_keeps_short_names_and_cuts_long_ones() -> None:
    assert shown("Work") == "'Work'"
    assert shown("p" * 48) == repr("p" * 48)
    assert shown("p" * 300) == repr("p" * 48 + "…") + " (300 characters)"
    assert shown("caf\udce9") == "'caf\\udce9'"  # printable on any stream


@needs_bridge
def test_messages_that_quote_a_valid_long_name_shorten_it() -> None:
    name = "p" * 255
    with pytest.raises(mapioffline.NotFound) as raised:
        mapioffline.open_offline(name, backend="bridge")
    text = str(raised.value)
    assert shown(name) in text
    assert text.count("p" * 200) == 1  # once, in the command to copy: `bridge publish --profile <name>`
    assert f"--profile {as_argument(name)}`" in text


def test_as_argument_quotes_for_the_shell() -> None:
    assert as_argument("Work") == "Work"
    assert as_argument("My Work") == ("'My Work'" if sys.platform != "win32" else '"My Work"')
