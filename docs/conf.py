"""Sphinx configuration: the API reference is built from the installed package's docstrings and signatures
(autodoc); `.ci/docs` builds it with warnings as errors and nitpicky references."""

from __future__ import annotations

import mapioffline

project = "mapioffline"
author = "mapioffline developers"
copyright = "mapioffline developers"  # noqa: A001 - Sphinx's name
release = mapioffline.__version__
version = release

extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
intersphinx_mapping: dict[str, tuple[str, None]] = {}  # offline builds: no inventory is fetched
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
# Types the reference names but does not document as objects of their own: the standard library's and the
# binding's private bases (documented through their public subclasses).
nitpick_ignore_regex = [
    ("py:class", r"(collections\.abc|typing|ctypes|asyncio|enum|types)\..*"),
    ("py:class", r"(int|float|str|bool|bytes|object|dict|list|tuple|type|None|BaseException|Exception)"),
    ("py:class", r"(Callable|Coroutine|Any|Self|TracebackType|NamedTuple|WriteableBuffer)"),
    ("py:class", r"mapioffline\._core\.(_Handle|_Pin|OfflineObject|Sink)"),
    ("py:exc", r"(ValueError|TypeError|TimeoutError|KeyboardInterrupt|NotImplementedError|OSError)"),
]
html_theme = "alabaster"
html_title = f"mapioffline {release}"
exclude_patterns = ["_build"]
