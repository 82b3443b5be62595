"""The exhaustive model checks of the concurrency protocols (ext/model/), and that what they model still exists.

Each checker explores every interleaving of its scenarios under a store-buffer memory model and runs mutants of the
protocol that it must catch; a violation or an uncaught mutant exits non-zero. The checks take minutes, so they
carry the `model` marker: the full test command runs them, the fast path leaves them out."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODELS = sorted((REPO / "ext" / "model").glob("*_model.py"))
NATIVE_SOURCES = [p for p in (REPO / "ext").rglob("*") if p.suffix in {".h", ".cpp"}]


def test_the_models_are_found() -> None:
    assert {p.name for p in MODELS} >= {"sink_protocol_model.py", "wake_protocol_model.py"}


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.stem)
def test_every_cited_native_name_still_exists(model: Path) -> None:
    # A model stands for code it names (Class::member): a rename or removal there must reach the model too.
    cited = set(re.findall(r"\b([A-Z]\w*)::(\w+)\b", model.read_text(encoding="utf-8")))
    assert cited, f"{model.name} cites no native name"
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in NATIVE_SOURCES)
    missing = []
    for owner, member in sorted(cited):
        # A class, or an alias naming one (`using Sink = BasicSink<...>;`: the product's instantiation).
        declared = re.search(rf"\b(class|struct)\s+{owner}\b|\busing\s+{owner}\s*=\s*\w+<", text)
        if not declared or not re.search(rf"\b{member}\b", text):
            missing.append(f"{owner}::{member}")
    assert not missing, f"{model.name} cites names the native code no longer has: {', '.join(missing)}"


@pytest.mark.model
@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.stem)
def test_model_check_passes_and_catches_every_mutant(model: Path) -> None:
    result = subprocess.run([sys.executable, str(model)], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "states" in result.stdout, result.stdout  # it explored something (each checker prints its counts)
