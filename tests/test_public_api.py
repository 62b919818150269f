"""The small public API of ``import stanceframe``: what the package docstring promises works."""

from __future__ import annotations

import subprocess
import sys

import pytest

import stanceframe as sf


def test_public_names_resolve_and_are_listed():
    for name in sf.__all__:
        assert getattr(sf, name) is not None
    assert set(sf.__all__) <= set(dir(sf))
    with pytest.raises(AttributeError):
        sf.not_a_public_name  # noqa: B018


def test_docstring_example_runs(tmp_path):
    model = sf.load_model()
    doc = sf.Document(doc_id="a1", text="Berlin refused to send Taurus missiles to Kyiv.\n\n"
                                        "The special military operation continues, TASS said.")
    sentences = sf.segment(doc)
    assert [s.id for s in sentences] == ["a1-p1-s1", "a1-p2-s1"]
    tags = model.predict([s.text for s in sentences])
    assert set(tags) == {"stance", "framing"}
    assert tags["framing"].labels[1] == "russian"
    (tmp_path / "a.txt").write_text(doc.text, encoding="utf-8")
    summary = sf.run_tag([str(tmp_path / "a.txt")], model, out=tmp_path / "tags.jsonl")
    assert summary.sentences == 2 and (tmp_path / "tags.jsonl").read_text().count("\n") == 2
    with pytest.raises(sf.StanceframeError):
        sf.load_model(tmp_path / "no-such-model")


def test_import_is_cheap():
    """``import stanceframe`` loads none of the heavy libraries (they come with first use)."""
    code = "import sys, stanceframe; print(sorted(m for m in ('numpy', 'sklearn', 'torch', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
