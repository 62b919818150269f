"""The ``tfidf-logreg`` and ``tfidf-svm`` families: word 1..n-gram TF-IDF (optionally
hstacked with char_wb 2-5-grams) and a linear classifier.

Saved without pickle: each vectorizer's vocabulary (JSON) and idf (.npy), the linear
weights (.npy) and, for the SVM, the sigmoid calibrator's (a, b) per class. Loading
rebuilds the vectorizers from those and computes probabilities from the arrays, the
same code path ``fit`` uses, so a reloaded model gives identical probabilities.

Targets (``(target, text)`` pairs): ``target_mode="cross"`` (default) appends a copy of
every n-gram feature specific to the row's target plus a per-target bias
(base.target_crossed: "t=abortion|word" features next to the shared "word"), one model;
``per-target`` fits one model per target (base.py); ``none`` ignores targets. Measured on
TweetEval stance by ``stanceframe benchmark tweeteval`` (crossed features are the better
default; see the README).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from stanceframe.errors import ModelFolderError
from stanceframe.models.base import (
    TextClassifier,
    crossed_to_base,
    read_json,
    save_array,
    split_inputs,
    target_crossed,
)
from stanceframe.models.linear import (
    class_direction,
    decision_scores,
    fit_logreg,
    load_head,
    logreg_proba,
    n_score_rows,
    read_array,
    save_head,
)
from stanceframe.models.word_ngrams import BatchTokens, NgramIndex, batch_tokens

CHAR_NGRAM_RANGE = (2, 5)


SKLEARN_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_LAST_TOKENS = threading.local()  # the last batch's tokens, shared by the tasks of a bundle
_LAST_FEATURES = threading.local()  # ...and its tf-idf matrix, when their vectorizers are the same


def fast_transform(vec: TfidfVectorizer, texts: list[str]):
    """``vec.transform(texts)``, the same matrix bit for bit, faster for the word
    analyzer these families build. sklearn makes a Python string of every token and every
    n-gram of every text and looks each one up in a loop; here (``word_ngrams``) the
    tokens of the batch are found, identified and combined into n-grams with numpy, and
    the known n-grams are found by binary search in the vocabulary's sorted numbers. The
    tokens of a batch are computed once for all the tasks of a bundle (both tasks score
    the same batch; when their vectorizers are equal the whole matrix is reused), and the
    tf-idf weighting is ``TfidfTransformer.transform``'s operations. Other analyzers (char
    n-grams), and vocabularies too large for 64-bit n-gram numbers, go to sklearn."""
    index = ngram_index(vec) if _plain_word_analyzer(vec) else None
    if index is None:
        return vec.transform(texts)
    key = _vectorizer_key(vec)
    last = getattr(_LAST_FEATURES, "value", None)
    if last is not None and last[0] == key and last[1] == texts:
        return last[2].copy()  # the other task's vectorizer is the same (fitted on the same texts)
    rows, cols = index.lookup(_batch_tokens(texts), len(texts))
    counts = sp.csr_matrix((np.ones(len(cols), dtype=np.float64), (rows, cols)),
                           shape=(len(texts), len(vec.vocabulary_)), dtype=np.float64)
    counts.sum_duplicates()  # canonical: summed counts, sorted columns (what sklearn builds)
    features = _tfidf_weighting(vec._tfidf, counts)
    _LAST_FEATURES.value = (key, list(texts), features.copy())
    return features


def ngram_index(vec: TfidfVectorizer) -> NgramIndex | None:
    """``vec``'s :class:`NgramIndex`, built once per fitted vectorizer; ``None`` when its
    vocabulary is too large for 64-bit n-gram numbers (or, never seen, two of its tokens
    share a hash)."""
    cached = getattr(vec, "_stanceframe_ngram_index", None)
    if cached is None or cached[0] is not vec.vocabulary_:
        index = NgramIndex(vec.vocabulary_, int(vec.ngram_range[1]))
        cached = (vec.vocabulary_, index if index.fits else None)
        vec._stanceframe_ngram_index = cached
    return cached[1]


def _batch_tokens(texts: list[str]) -> BatchTokens:
    """``batch_tokens(texts)``; the previous call's result when the batch is the same."""
    last = getattr(_LAST_TOKENS, "value", None)
    if last is not None and last[0] == texts:
        return last[1]
    tokens = batch_tokens(texts)
    _LAST_TOKENS.value = (list(texts), tokens)
    return tokens


def _vectorizer_key(vec: TfidfVectorizer) -> tuple:
    """What ``fast_transform``'s output depends on besides the texts: n-gram range, tf and
    norm settings, vocabulary and idf. A bundle's tasks fitted on the same sentences have
    equal keys, so the second task reuses the first one's matrix. Computed once per
    fitted vectorizer."""
    key = getattr(vec, "_stanceframe_key", None)
    if key is None:
        import hashlib

        vocab = hashlib.sha256(json.dumps(vec.vocabulary_, sort_keys=True, ensure_ascii=False,
                                          default=int).encode()).hexdigest()
        idf = hashlib.sha256(np.ascontiguousarray(vec.idf_, dtype=np.float64).tobytes()).hexdigest()
        key = (tuple(vec.ngram_range), bool(vec.sublinear_tf), vec.norm, vocab, idf)
        vec._stanceframe_key = key
    return key


def _tfidf_weighting(tfidf, counts):
    """``TfidfTransformer.transform(counts, copy=False)`` without its per-call input
    validation (milliseconds per batch): the same in-place operations in the same order,
    and sklearn's own Cython row normalisation, so the same floats."""
    try:
        from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2
    except ImportError:  # pragma: no cover - a future sklearn without it
        return tfidf.transform(counts, copy=False)
    if tfidf.norm not in ("l2", None) or not hasattr(tfidf, "idf_"):
        return tfidf.transform(counts, copy=False)
    if tfidf.sublinear_tf:
        np.log(counts.data, counts.data)
        counts.data += 1.0
    counts.data *= tfidf.idf_[counts.indices]
    if tfidf.norm == "l2":
        inplace_csr_row_normalize_l2(counts)
    return counts


def _plain_word_analyzer(vec: TfidfVectorizer) -> bool:
    """True when ``vec`` tokenizes as this module's fast path does: lowercased text,
    sklearn's default token pattern, 1..n word n-grams, no stop words, raw counts."""
    return (vec.analyzer == "word" and vec.input == "content" and vec.preprocessor is None
            and vec.tokenizer is None and vec.lowercase and vec.strip_accents is None
            and vec.stop_words is None and vec.token_pattern == SKLEARN_TOKEN_PATTERN
            and not vec.binary and vec.ngram_range[0] == 1 and vec.dtype == np.float64
            and hasattr(vec, "_tfidf") and hasattr(vec, "vocabulary_"))


class _TfidfLinear(TextClassifier):
    """Shared TF-IDF features, explanation and persistence; subclasses fit the head."""

    # ---- features
    def _make_vectorizers(self) -> dict[str, TfidfVectorizer]:
        vecs = {
            "word": TfidfVectorizer(
                ngram_range=(1, int(self.ngram_max)), lowercase=True, sublinear_tf=bool(self.sublinear_tf),
                min_df=self.min_df, max_features=self.max_features, dtype=np.float64,
            )
        }
        if self.char_ngrams:
            vecs["char"] = TfidfVectorizer(
                analyzer="char_wb", ngram_range=CHAR_NGRAM_RANGE, lowercase=True,
                sublinear_tf=bool(self.sublinear_tf), min_df=self.min_df, max_features=self.max_features,
                dtype=np.float64,
            )
        return vecs

    def _features(self, texts: list[str]):
        blocks = [fast_transform(vec, texts) for vec in self.vectorizers_.values()]
        return blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")

    @property
    def feature_names_(self) -> np.ndarray:
        names = [vec.get_feature_names_out() for vec in self.vectorizers_.values()]
        return np.concatenate(names) if len(names) > 1 else names[0]

    def _input_features(self, X):
        """Features of texts or ``(target, text)`` pairs: the n-grams, crossed with the
        target when the model was fitted with targets (``target_mode="cross"``)."""
        texts, targets = split_inputs(X)
        features = self._features(texts)
        if self.targets_:
            features = target_crossed(features, targets, self.targets_)
        return features

    def fit(self, X: Sequence[str], y: Sequence[str]):
        begun = self._begin_fit(X, y, ("cross", "per-target", "none"))
        if begun is None:
            return self
        texts, targets, y = begun
        self.vectorizers_ = self._make_vectorizers()
        blocks = [vec.fit_transform(texts) for vec in self.vectorizers_.values()]
        features = blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")
        if self.targets_:
            features = target_crossed(features, targets, self.targets_)
        self.n_features_in_ = features.shape[1]
        self._fit_head(features, y)
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        if self.per_target_:
            return self._predict_per_target(X)
        texts, _ = split_inputs(X)
        if not texts:
            return np.zeros((0, len(self.classes_)))
        return self._proba(decision_scores(self._input_features(X), self.coef_, self.intercept_))

    def explain(self, text, top_k: int = 8) -> list[tuple[str, float]]:
        """Word n-grams of ``text`` (or a ``(target, text)`` pair) weighted by tfidf value
        x the predicted class's coefficient (signed: negative terms pulled away from the
        predicted class); a crossed feature counts for the n-gram it copies."""
        if self.per_target_:
            texts, targets = split_inputs([text])
            model = self.target_models_.get(targets[0]) if targets else None
            return model.explain(texts[0], top_k) if model is not None else []
        features = self._input_features([text])
        pred = int(self._proba(decision_scores(features, self.coef_, self.intercept_))[0].argmax())
        row = features.tocsr()
        n_base = sum(len(v.vocabulary_) for v in self.vectorizers_.values())
        word_block = len(self.vectorizers_["word"].vocabulary_)
        contrib = row.data * class_direction(self.coef_, pred)[row.indices]
        base = crossed_to_base(row.indices, n_base, len(self.targets_))
        keep = (base >= 0) & (base < word_block)  # char n-grams drive scores too but read badly as terms
        totals: dict[int, float] = {}
        for column, value in zip(base[keep], contrib[keep]):
            totals[int(column)] = totals.get(int(column), 0.0) + float(value)
        names = self.vectorizers_["word"].get_feature_names_out()
        ranked = sorted(((names[c], w) for c, w in totals.items()), key=lambda kv: (-abs(kv[1]), kv[0]))
        return [(str(term), float(w)) for term, w in ranked[:top_k] if w != 0.0]

    def _extra_meta(self) -> dict:
        return {"target_vocabulary": list(self.targets_)}

    # ---- persistence
    def _save_weights(self, path: Path) -> None:
        for name, vec in self.vectorizers_.items():
            vocab = {term: int(idx) for term, idx in vec.vocabulary_.items()}
            (path / f"vocab_{name}.json").write_text(json.dumps(vocab, ensure_ascii=False, sort_keys=True))
            save_array(path / f"idf_{name}.npy", vec.idf_)
        save_head(path, self.coef_, self.intercept_)
        self._save_extra(path)

    def _load_weights(self, path: Path, meta: dict) -> None:
        vecs = self._make_vectorizers()
        for name, vec in vecs.items():
            vocab = read_json(path / f"vocab_{name}.json")
            if not isinstance(vocab, dict) or not all(isinstance(v, int) for v in vocab.values()):
                raise ModelFolderError(f"{path / f'vocab_{name}.json'}: expected an object of term -> column")
            if sorted(vocab.values()) != list(range(len(vocab))):
                raise ModelFolderError(f"{path / f'vocab_{name}.json'}: columns are not 0..{len(vocab) - 1}")
            vec.vocabulary = vocab  # fixed vocabulary: sklearn sets vocabulary_ from it
            vec.idf_ = read_array(path / f"idf_{name}.npy", (len(vocab),))
        self.vectorizers_ = vecs
        self.targets_ = [str(t) for t in meta.get("target_vocabulary") or []]
        n_base, k = sum(len(v.vocabulary) for v in vecs.values()), len(self.targets_)
        self.n_features_in_ = n_base * (k + 1) + k
        self.coef_, self.intercept_ = load_head(path, len(self.classes_), self.n_features_in_)
        self._load_extra(path)

    def _save_extra(self, path: Path) -> None:
        pass

    def _load_extra(self, path: Path) -> None:
        pass


class TfidfLogRegClassifier(_TfidfLinear):
    """TF-IDF + class-balanced LogisticRegression (multinomial for 3+ labels)."""

    family = "tfidf-logreg"

    def __init__(self, C: float = 10.0, ngram_max: int = 2, char_ngrams: bool = False, min_df: int = 1,
                 max_features: int | None = None, sublinear_tf: bool = True, class_weight: str | None = "balanced",
                 random_state: int = 0, target_mode: str = "cross"):
        self.C = C
        self.ngram_max = ngram_max
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.class_weight = class_weight
        self.random_state = random_state
        self.target_mode = target_mode

    def _fit_head(self, features, y) -> None:
        self.coef_, self.intercept_ = fit_logreg(features, y, self.classes_, self.C, self.class_weight, self.random_state)

    def _proba(self, scores: np.ndarray) -> np.ndarray:
        return logreg_proba(scores)


class TfidfSVMClassifier(_TfidfLinear):
    """TF-IDF + class-balanced LinearSVC (one-vs-rest), probabilities from per-class
    sigmoid calibration (Platt) fitted on out-of-fold decision values."""

    family = "tfidf-svm"

    def __init__(self, C: float = 1.0, ngram_max: int = 2, char_ngrams: bool = False, min_df: int = 1,
                 max_features: int | None = None, sublinear_tf: bool = True, class_weight: str | None = "balanced",
                 calibration_cv: int = 3, random_state: int = 0, target_mode: str = "cross"):
        self.C = C
        self.ngram_max = ngram_max
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.class_weight = class_weight
        self.calibration_cv = calibration_cv
        self.random_state = random_state
        self.target_mode = target_mode

    def _svc(self) -> LinearSVC:
        return LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.random_state, max_iter=10000)

    def _fit_head(self, features, y) -> None:
        min_count = min(int((y == c).sum()) for c in self.classes_)
        folds = min(int(self.calibration_cv), min_count)
        rows = n_score_rows(len(self.classes_))
        if folds >= 2:
            cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
            calibrated = CalibratedClassifierCV(self._svc(), method="sigmoid", cv=cv, ensemble=False)
            calibrated.fit(features, y)
            inner = calibrated.calibrated_classifiers_[0]
            svc = inner.estimator
            calib = np.array([[c.a_, c.b_] for c in inner.calibrators], dtype=np.float64)
        else:
            # a label with one example: no held-out scores to calibrate on; a plain
            # sigmoid of the margin (a=-1, b=0) keeps the ranking and sums to one.
            svc = self._svc().fit(features, y)
            calib = np.tile([-1.0, 0.0], (rows, 1))
        if list(svc.classes_) != list(self.classes_):  # pragma: no cover
            raise RuntimeError("label order mismatch")
        self.coef_ = svc.coef_.astype(np.float64)
        self.intercept_ = np.atleast_1d(svc.intercept_).astype(np.float64)
        self.calibration_ = calib

    def _proba(self, scores: np.ndarray) -> np.ndarray:
        a, b = self.calibration_[:, 0], self.calibration_[:, 1]
        p = expit(-(a * scores + b))
        if p.shape[1] == 1:
            return np.column_stack([1.0 - p[:, 0], p[:, 0]])
        total = p.sum(axis=1, keepdims=True)
        uniform = np.full_like(p, 1.0 / p.shape[1])
        return np.divide(p, total, out=uniform, where=total != 0)

    def _save_extra(self, path: Path) -> None:
        save_array(path / "calibration.npy", self.calibration_)

    def _load_extra(self, path: Path) -> None:
        self.calibration_ = read_array(path / "calibration.npy", (n_score_rows(len(self.classes_)), 2))
