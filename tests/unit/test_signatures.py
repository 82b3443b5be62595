"""help() and IDEs: inspect.signature works for every public class, function and method, and docstrings do not cite
documents users do not have."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

import mapioffline
import mapioffline.aio
import mapioffline.bridge
import mapioffline.interop
import mapioffline.testing

MODULES = [mapioffline, mapioffline.bridge, mapioffline.testing]


def _public(module: ModuleType) -> Iterator[tuple[str, Any]]:
    for name in module.__all__:
        obj = getattr(module, name)
        if callable(obj):
            yield f"{module.__name__}.{name}", obj
        if isinstance(obj, type) and obj.__module__.startswith("mapioffline"):
            for attribute, value in vars(obj).items():
                if attribute.startswith("_") and attribute not in ("__init__", "__enter__", "__exit__", "__iter__"):
                    continue
                member = getattr(obj, attribute)
                if callable(member) and not isinstance(member, type):
                    yield f"{module.__name__}.{name}.{attribute}", member


CALLABLES = sorted({name: obj for module in MODULES for name, obj in _public(module)}.items())


@pytest.mark.parametrize(("name", "obj"), CALLABLES, ids=[name for name, _ in CALLABLES])
def test_signature(name: str, obj: Any) -> None:
    inspect.signature(obj)


def test_the_classes_users_make_have_their_real_parameters() -> None:
    assert str(inspect.signature(mapioffline.Sink)) == "(capacity=1024)"
    assert list(inspect.signature(mapioffline.Notification).parameters)[:2] == ["kind", "client_token"]
    assert list(inspect.signature(mapioffline.open_offline).parameters) == ["profile", "backend", "wait"]
    assert list(inspect.signature(mapioffline.bridge.publish).parameters) == [
        "profile", "source", "allow_set_state", "ring_capacity"
    ]


@pytest.mark.parametrize(("name", "obj"), CALLABLES, ids=[name for name, _ in CALLABLES])
def test_docstrings_cite_no_internal_document(name: str, obj: Any) -> None:
    doc = inspect.getdoc(obj) or ""
    assert not re.search(r"\bspec\b|refinement|issue \d", doc), doc
