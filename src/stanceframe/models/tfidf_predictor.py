"""A fitted ``tfidf-logreg`` / ``tfidf-svm`` model as arrays, and the one place its folder
is read and written: "fit with sklearn, predict with arrays".

The estimators (tfidf.py) fit with scikit-learn and then build a :class:`TfidfPredictor`
from their fitted vectorizers and head; their ``predict_proba`` and ``explain`` are the
predictor's. ``ModelBundle.load`` builds the predictor straight from the folder
(:meth:`TfidfPredictor.load`), so tagging with a tfidf model imports neither
scikit-learn nor pandas nor scipy.stats. The folder holds each vectorizer's vocabulary
(``vocab_<block>.json``) and idf (``idf_<block>.npy``), the linear head (``coef.npy``,
``intercept.npy``) and, for the SVM, the sigmoid calibration's ``(a, b)`` per score
column (``calibration.npy``); a per-target model holds one such folder per target.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from stanceframe.errors import ModelFolderError
from stanceframe.models.fitted import FittedModel, read_per_target
from stanceframe.models.folder import PARAMS_FILE, read_array, read_json, read_json_with_bytes, save_array
from stanceframe.models.inputs import crossed_to_base, split_inputs, target_crossed
from stanceframe.models.linear import (
    class_direction,
    decision_scores,
    linear_proba,
    load_head,
    logreg_proba,
    n_score_rows,
    save_head,
    sigmoid_calibrated_proba,
)
from stanceframe.models.ngram_tfidf import NgramTfidf, vocabulary_json

TFIDF_FAMILIES = ("tfidf-logreg", "tfidf-svm")
CALIBRATED_FAMILY = "tfidf-svm"  # its head's scores go through a sigmoid calibration
CHAR_NGRAM_RANGE = (2, 5)
FEATURE_DEFAULTS = {"ngram_max": 2, "char_ngrams": False, "sublinear_tf": True}  # the estimators' defaults
CALIBRATION_FILE = "calibration.npy"


def feature_blocks(params: dict) -> dict[str, tuple[str, tuple[int, int]]]:
    """The n-gram blocks a model of these hyperparameters has, in feature order:
    name -> (analyzer, ngram_range); the word block, then the char_wb one if asked for."""
    settings = {**FEATURE_DEFAULTS, **params}
    blocks = {"word": ("word", (1, int(settings["ngram_max"])))}
    if settings["char_ngrams"]:
        blocks["char"] = ("char_wb", CHAR_NGRAM_RANGE)
    return blocks


def stacked_features(blocks: list, targets: Sequence[str] | None, target_vocabulary: Sequence[str]):
    """The blocks' tf-idf matrices side by side (in feature order), crossed with each row's
    target when the model has targets (inputs.target_crossed): the head's input."""
    features = blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")
    return target_crossed(features, targets, target_vocabulary) if target_vocabulary else features


class TfidfPredictor(FittedModel):
    """``blocks`` (name -> :class:`NgramTfidf`, hstacked in this order), ``targets_`` (the
    targets its features are crossed with, inputs.target_crossed), the head ``coef_`` / ``intercept_`` and, for
    the SVM, ``calibration_``; ``params`` are the estimator's hyperparameters (saved
    with the folder). :meth:`per_target` builds the one-model-per-target kind instead."""

    def __init__(self, family: str, params: dict, classes: Sequence[str], blocks: dict[str, NgramTfidf],
                 targets: Sequence[str], coef: np.ndarray, intercept: np.ndarray,
                 calibration: np.ndarray | None = None):
        self.family, self.params = family, dict(params)
        self.classes_ = np.asarray(list(classes), dtype=object)
        self.blocks, self.targets_ = blocks, list(targets)
        self.coef_, self.intercept_, self.calibration_ = coef, intercept, calibration
        self.target_models_ = None
        self._word_terms = None

    @classmethod
    def per_target(cls, family: str, params: dict, classes: Sequence[str], targets: Sequence[str],
                   constant: dict[str, str], models: dict[str, TfidfPredictor]) -> TfidfPredictor:
        """One predictor per target (``target_mode="per-target"``); ``constant``: the
        targets with a single label."""
        out = cls(family, params, classes, {}, targets, None, None)
        out.target_constant_, out.target_models_ = dict(constant), dict(models)
        return out

    def get_params(self) -> dict:
        return dict(self.params)

    # ---- prediction
    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        return linear_proba(self, X, self.features, self.proba)

    def features(self, X):
        """Features of texts or ``(target, text)`` pairs: the n-gram blocks side by side,
        crossed with the target when the model was fitted with targets."""
        texts, targets = split_inputs(X)
        return stacked_features([block.transform(texts) for block in self.blocks.values()], targets, self.targets_)

    def proba(self, scores: np.ndarray) -> np.ndarray:
        if self.calibration_ is not None:
            return sigmoid_calibrated_proba(scores, self.calibration_)
        return logreg_proba(scores)

    def explain(self, text, top_k: int = 8) -> list[tuple[str, float]]:
        """Word n-grams of ``text`` (or a ``(target, text)`` pair) weighted by tfidf value
        x the predicted class's coefficient (signed: negative terms pulled away from the
        predicted class); a crossed feature counts for the n-gram it copies."""
        if self.per_target_:
            texts, targets = split_inputs([text])
            model = self.target_models_.get(targets[0]) if targets else None
            return model.explain(texts[0], top_k) if model is not None else []
        features = self.features([text])
        pred = int(self.proba(decision_scores(features, self.coef_, self.intercept_))[0].argmax())
        row = features.tocsr()
        word_block = len(self.blocks["word"].vocabulary)
        contrib = row.data * class_direction(self.coef_, pred)[row.indices]
        base = crossed_to_base(row.indices, self.n_base_features, len(self.targets_))
        keep = (base >= 0) & (base < word_block)  # char n-grams drive scores too but read badly as terms
        totals: dict[int, float] = {}
        for column, value in zip(base[keep], contrib[keep]):
            totals[int(column)] = totals.get(int(column), 0.0) + float(value)
        if self._word_terms is None:
            self._word_terms = self.blocks["word"].terms
        names = self._word_terms
        ranked = sorted(((names[c], w) for c, w in totals.items()), key=lambda kv: (-abs(kv[1]), kv[0]))
        return [(str(term), float(w)) for term, w in ranked[:top_k] if w != 0.0]

    @property
    def n_base_features(self) -> int:
        """Every block's n-grams: the columns before any target crossing."""
        return sum(len(block.vocabulary) for block in self.blocks.values())

    @property
    def n_features(self) -> int:
        """Columns of the head: every block's n-grams, once shared and once per target, plus
        a bias per target."""
        k = len(self.targets_)
        return self.n_base_features * (k + 1) + k

    # ---- the folder
    def _extra_meta(self) -> dict:
        return {"target_vocabulary": list(self.targets_)}

    def _save_weights(self, path: Path) -> None:
        for name, block in self.blocks.items():
            (path / f"vocab_{name}.json").write_text(vocabulary_json(block.vocabulary))
            save_array(path / f"idf_{name}.npy", block.idf)
        save_head(path, self.coef_, self.intercept_)
        if self.calibration_ is not None:
            save_array(path / CALIBRATION_FILE, self.calibration_)

    @classmethod
    def load(cls, path: str | Path, family: str | None = None) -> TfidfPredictor:
        """The predictor of a tfidf model folder (``estimator.json`` and its weights), of
        ``family`` when given (a folder of another family is refused)."""
        path = Path(path)
        meta = read_json(path / PARAMS_FILE)
        found = meta.get("family")
        if found not in TFIDF_FAMILIES or (family is not None and found != family):
            raise ModelFolderError(f"{path}: holds family {found!r}, not {family or ' or '.join(TFIDF_FAMILIES)!r}")
        family = found
        params, classes = meta.get("params", {}), meta.get("classes")
        if not isinstance(params, dict) or not isinstance(classes, list):
            raise ModelFolderError(f"{path / PARAMS_FILE}: expected an object of params and a list of classes")
        if "per_target" in meta:
            targets, constant, models = read_per_target(path, meta["per_target"], classes,
                                                        lambda folder: cls.load(folder, family))
            return cls.per_target(family, params, classes, targets, constant, models)
        return cls.from_weights(path, family, params, classes, meta)

    @classmethod
    def from_weights(cls, path: Path, family: str, params: dict, classes: Sequence[str],
                     meta: dict) -> TfidfPredictor:
        """The predictor of the weight files in ``path`` (``meta``: its estimator.json)."""
        try:
            settings = feature_blocks(params)
            sublinear = bool(params.get("sublinear_tf", FEATURE_DEFAULTS["sublinear_tf"]))
        except (TypeError, ValueError) as exc:
            raise ModelFolderError(f"{path / PARAMS_FILE}: parameters do not fit {family}: {exc}") from None
        blocks = {}
        for name, (analyzer, ngram_range) in settings.items():
            vocab_file = path / f"vocab_{name}.json"
            vocab, data = read_json_with_bytes(vocab_file)
            if not isinstance(vocab, dict) or not all(isinstance(v, int) for v in vocab.values()):
                raise ModelFolderError(f"{vocab_file}: expected an object of term -> column")
            if sorted(vocab.values()) != list(range(len(vocab))):
                raise ModelFolderError(f"{vocab_file}: columns are not 0..{len(vocab) - 1}")
            idf = read_array(path / f"idf_{name}.npy", (len(vocab),))
            digest = hashlib.sha256(data).hexdigest()  # the key a bundle's tasks share blocks by
            blocks[name] = NgramTfidf(analyzer, ngram_range, vocab, idf, sublinear, digest)
        targets = [str(t) for t in meta.get("target_vocabulary") or []]
        out = cls(family, params, classes, blocks, targets, None, None)
        out.coef_, out.intercept_ = load_head(path, len(classes), out.n_features)
        if family == CALIBRATED_FAMILY:
            out.calibration_ = read_array(path / CALIBRATION_FILE, (n_score_rows(len(classes)), 2))
        return out
