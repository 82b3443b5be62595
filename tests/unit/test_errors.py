"""The exception hierarchy and the HRESULT table (errors.py)."""

from __future__ import annotations

import pickle

import pytest

import mapioffline
from mapioffline import ClosedError, InvalidArgument, MapiError, NoInterface, NotFound, NotSupported, Pending
from mapioffline.errors import HRESULT_NAMES, exception_for, hresult_name


def test_mapi_error_derives_from_exception_only() -> None:
    assert MapiError.__bases__ == (Exception,)


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (InvalidArgument, ValueError),
        (ClosedError, ValueError),
        (NotSupported, NotImplementedError),
        (NoInterface, TypeError),
        (NotFound, LookupError),
    ],
)
def test_subclasses_also_derive_from_the_fitting_builtin(cls: type[MapiError], builtin: type[Exception]) -> None:
    assert issubclass(cls, MapiError)
    assert issubclass(cls, builtin)
    with pytest.raises(builtin):
        raise cls("x")


def test_pending_is_retryable_and_only_a_mapi_error() -> None:
    assert Pending.__bases__ == (MapiError,)
    error = Pending()
    assert error.hresult == 0x8000000A
    assert error.name == "E_PENDING"


@pytest.mark.parametrize(
    ("hresult", "cls", "name"),
    [
        (0x8000000A, Pending, "E_PENDING"),
        (0x80070057, InvalidArgument, "E_INVALIDARG"),
        (0x80040106, InvalidArgument, "MAPI_E_UNKNOWN_FLAGS"),
        (0x80040102, NotSupported, "MAPI_E_NO_SUPPORT"),
        (0x80004001, NotSupported, "E_NOTIMPL"),
        (0x80004002, NoInterface, "E_NOINTERFACE"),
        (0x8004010F, NotFound, "MAPI_E_NOT_FOUND"),
        (0x80004005, MapiError, "MAPI_E_CALL_FAILED"),
        (0x8007000E, MapiError, "E_OUTOFMEMORY"),
    ],
)
def test_exception_for_maps_each_hresult(hresult: int, cls: type[MapiError], name: str) -> None:
    error = exception_for(hresult, "it failed")
    assert type(error) is cls
    assert error.hresult == hresult
    assert error.name == name
    assert "it failed" in str(error) and name in str(error) and f"0x{hresult:08X}" in str(error)


def test_signed_hresult_as_pywin32_shows_it_is_accepted() -> None:
    signed = 0x8000000A - 2**32  # -2147483638
    error = exception_for(signed)
    assert isinstance(error, Pending)
    assert error.hresult == 0x8000000A
    assert MapiError("x", signed).hresult == 0x8000000A
    assert hresult_name(signed) == "E_PENDING"


def test_unknown_hresult_keeps_its_value_as_name() -> None:
    error = exception_for(0x80001234)
    assert type(error) is MapiError
    assert error.name == "0x80001234"
    assert hresult_name(0x80001234) == "0x80001234"


@pytest.mark.parametrize("bad", [2**32, -(2**31) - 1, 2**40])
def test_out_of_range_hresult_is_a_value_error(bad: int) -> None:
    with pytest.raises(ValueError, match="32-bit"):
        exception_for(bad)
    with pytest.raises(ValueError):
        MapiError("x", bad)


def test_default_hresults() -> None:
    assert MapiError().hresult == 0x80004005
    assert InvalidArgument().name == "E_INVALIDARG"
    assert NotSupported().name == "MAPI_E_NO_SUPPORT"
    assert str(NotSupported()) == "MAPI_E_NO_SUPPORT (0x80040102)"


def test_names_table_uses_unsigned_keys() -> None:
    assert all(0 <= key <= 0xFFFFFFFF for key in HRESULT_NAMES)
    assert HRESULT_NAMES[0] == "S_OK"


def test_errors_are_exported_from_the_package() -> None:
    classes = {name: value for name, value in vars(mapioffline.errors).items()
               if isinstance(value, type) and issubclass(value, MapiError)}
    assert len(classes) == 9
    for name, cls in classes.items():
        assert name in mapioffline.__all__, name
        assert getattr(mapioffline, name) is cls


def test_star_import_of_errors_gives_its_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from mapioffline.errors import *", namespace)
    names = set(namespace) - {"__builtins__"}
    assert names == {name for name in vars(mapioffline.errors) if not name.startswith("_")}
    assert {"MapiError", "HRESULT_NAMES", "hresult_name", "exception_for"} <= names
    assert "annotations" not in names  # no __future__ feature leaks in


def test_catching_the_builtin_or_ours(offline: mapioffline.OfflineObject) -> None:
    offline.close()
    with pytest.raises(ValueError):  # as for a closed file
        offline.set_state(mapioffline.State.OFFLINE)
    with pytest.raises(MapiError):
        offline.set_state(mapioffline.State.OFFLINE)


def test_errors_pickle_round_trip() -> None:
    """Raised in worker processes (multiprocessing), they must survive pickling with their fields."""
    for error in (exception_for(0x8000000A, "busy"), exception_for(0x80001234), ClosedError("gone")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert (copy.hresult, copy.name, copy.message, str(copy)) == (
            error.hresult, error.name, error.message, str(error))
