"""The tfidf families' sklearn-free predictor: its n-gram tf-idf matrix is sklearn's
``TfidfVectorizer.transform`` bit for bit (word and char_wb, the written corpus and
hostile strings), loading the shipped model and tagging with it imports neither
scikit-learn nor pandas nor scipy.stats, and a fitted model, its folder and its reload
give the same probabilities."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from support.paths import REPO

from stanceframe.models import make_estimator
from stanceframe.models.bundle import ModelBundle
from stanceframe.models.ngram_tfidf import NgramTfidf, row_sums_in_order
from stanceframe.models.tfidf_predictor import TfidfPredictor

HOSTILE = ["", " ", "   \t\n  ", "\n", "a", "a b c", "I", "x y", "ab", " a ", "Ünïcödé wörds ÄÖ", "café naïve résumé",
           "ΣΑΣ ΟΔΟΣ Σ", "İstanbul ß ﬁ", "中文句子没有空格。東京", "emoji 🙂🚀 mixed🙂words", "tab\tseparated\twords",
           "new\nlines\r\nand\x0bvertical\x0cfeeds", "nbsp\u00a0and\u2003em\u3000ideographic", "x" * 3000,
           "supercalifragilisticexpialidocious " * 20, "the the the the", "x_y __ 9 99", "\x1c\x1d\x1e\x1f sep",
           "a\u0301 combining", "lone \ud800 surrogate", "a" * 7 + " " + "b" * 4, "-- -- ..."]


def written_sentences() -> list[str]:
    path = REPO / "data" / "written" / "sentences.jsonl"
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _assert_same(fast, slow):
    assert fast.shape == slow.shape
    assert np.array_equal(fast.indptr, slow.indptr) and np.array_equal(fast.indices, slow.indices)
    assert np.array_equal(fast.data, slow.data)


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return written_sentences()


@pytest.mark.parametrize("analyzer,ngram_range,sublinear", [("word", (1, 2), True), ("word", (1, 3), False),
                                                            ("char_wb", (2, 5), True), ("char_wb", (1, 3), False),
                                                            ("char_wb", (4, 6), True)])
def test_transform_equals_sklearn_on_the_corpus_and_hostile_strings(corpus, analyzer, ngram_range, sublinear):
    fit_on = corpus[::2] + HOSTILE[1::2]  # the others are unseen
    vec = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, lowercase=True, sublinear_tf=sublinear,
                          dtype=np.float64).fit(fit_on)
    block = NgramTfidf(analyzer, ngram_range, vec.vocabulary_, vec.idf_, sublinear)
    assert block.index() is not None  # the numpy path, not the Python strings
    texts = corpus + HOSTILE
    _assert_same(block.transform(texts), vec.transform(texts))
    for text in HOSTILE:
        _assert_same(block.transform([text]), vec.transform([text]))


@pytest.mark.parametrize("analyzer", ["word", "char_wb"])
def test_the_python_string_path_equals_sklearn_too(corpus, analyzer, monkeypatch):
    """Vocabularies too large for 64-bit n-gram numbers are counted with Python strings."""
    ngram_range = (1, 2) if analyzer == "word" else (2, 5)
    vec = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, sublinear_tf=True).fit(corpus[:500] + HOSTILE)
    block = NgramTfidf(analyzer, ngram_range, vec.vocabulary_, vec.idf_, True)
    monkeypatch.setattr(block, "_index", False)  # as when the numbers do not fit
    texts = corpus[:300] + HOSTILE
    assert block.index() is None
    _assert_same(block.transform(texts), vec.transform(texts))


def test_whitespace_table_is_str_isspace_for_every_code_point():
    from stanceframe.models.char_ngrams import is_space

    codes = np.arange(0x110000, dtype=np.uint32)
    assert np.array_equal(is_space(codes), np.fromiter((chr(i).isspace() for i in range(0x110000)), dtype=bool))


def test_row_sums_add_left_to_right():
    """Not numpy's pairwise order: the sums of sklearn's Cython loop, even across blocks."""
    import stanceframe.models.ngram_tfidf as nt

    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 300, size=200)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    values = rng.random(int(indptr[-1])) * 10 ** rng.uniform(-8, 8, int(indptr[-1]))
    expected = []
    for i in range(len(lengths)):
        total = 0.0
        for v in values[indptr[i]:indptr[i + 1]]:
            total += float(v)
        expected.append(total)
    assert row_sums_in_order(values, indptr).tolist() == expected
    nt._ROW_SUM_CELLS, before = 500, nt._ROW_SUM_CELLS
    try:
        assert row_sums_in_order(values, indptr).tolist() == expected
    finally:
        nt._ROW_SUM_CELLS = before


def test_loading_and_tagging_with_the_default_model_imports_no_sklearn(tmp_path):
    code = (
        "import sys\n"
        "from stanceframe.models.bundle import ModelBundle\n"
        f"bundle = ModelBundle.load({str(REPO / 'models' / 'default')!r})\n"
        "values = bundle.predict_values(['Seoul refused to send weapons.', 'The summit opened on Tuesday.'])\n"
        "terms = bundle.estimators['stance'].explain('Seoul refused to send weapons.')\n"
        "assert len(values) == 2 and terms\n"
        "print(sorted(m for m in ('sklearn', 'pandas', 'scipy.stats') if m in sys.modules))\n"
    )
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.parametrize("family,params", [("tfidf-svm", {"char_ngrams": True}), ("tfidf-logreg", {}),
                                           ("tfidf-logreg", {"target_mode": "per-target"}),
                                           ("tfidf-svm", {"ngram_max": 3})])
def test_fitted_saved_and_reloaded_give_identical_probabilities(family, params, corpus, tmp_path):
    texts = corpus[:240]
    labels = ["a", "b", "c"] * 80
    if params.get("target_mode") == "per-target":
        texts = [("t1" if i % 2 else "t2", t) for i, t in enumerate(texts)]
    est = make_estimator(family, **params).fit(texts, labels)
    probe = list(texts[:60]) + (["plain text", ("unseen", "text")] if params.get("target_mode") else HOSTILE)
    folder = ModelBundle(family, {"stance": est}).save(tmp_path / "m")
    loaded = ModelBundle.load(folder)
    assert isinstance(loaded.estimators["stance"], TfidfPredictor)
    fitted_proba = est.predict_proba(probe)
    assert np.array_equal(loaded.predict(probe)["stance"].proba, fitted_proba)
    assert np.array_equal(type(est).load(folder / "stance").predict_proba(probe), fitted_proba)
    assert loaded.estimators["stance"].explain(probe[0]) == est.explain(probe[0])
    # a loaded bundle saves the same folder again (the `compare` promotion re-saves one)
    again = loaded.save(tmp_path / "again")
    for path in sorted((folder / "stance").rglob("*")):
        if path.is_file():
            assert path.read_bytes() == (again / "stance" / path.relative_to(folder / "stance")).read_bytes(), path


def test_a_folder_of_another_family_is_refused(tmp_path):
    from stanceframe.errors import ModelFolderError

    est = make_estimator("tfidf-logreg").fit(["one text here", "another text", "third one"], ["a", "b", "a"])
    folder = ModelBundle("tfidf-svm", {"stance": est}).save(tmp_path / "m")  # the manifest lies
    with pytest.raises(ModelFolderError, match="tfidf-logreg"):
        ModelBundle.load(folder)
