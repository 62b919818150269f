"""The ``tfidf-logreg`` and ``tfidf-svm`` families: word 1..n-gram TF-IDF (optionally
hstacked with char_wb 2-5-grams) and a linear classifier, fitted with scikit-learn.

Fit with sklearn, predict with arrays: ``fit`` fits the TfidfVectorizers and the head,
then builds a :class:`~stanceframe.models.tfidf_predictor.TfidfPredictor` from their
vocabularies, idf and weights; ``predict_proba`` and ``explain`` are the predictor's, and
so is the folder (tfidf_predictor.py: vocabularies as JSON, idf, weights and the SVM's
sigmoid calibration as .npy, no pickle). A fitted model and its reload run the same
code on the same arrays, so they give identical probabilities.

Targets (``(target, text)`` pairs): ``target_mode="cross"`` (default) appends a copy of
every n-gram feature specific to the row's target plus a per-target bias
(inputs.target_crossed: "t=abortion|word" features next to the shared "word"), one model;
``per-target`` fits one model per target (base.py); ``none`` ignores targets. Measured on
TweetEval stance by ``stanceframe benchmark tweeteval`` (crossed features are the better
default; see docs/byod.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from stanceframe.models.base import TextClassifier
from stanceframe.models.linear import fit_logreg, n_score_rows
from stanceframe.models.ngram_tfidf import NgramTfidf
from stanceframe.models.tfidf_predictor import FEATURE_DEFAULTS, TfidfPredictor, feature_blocks, stacked_features


class _TfidfLinear(TextClassifier):
    """Shared TF-IDF features (fitted with sklearn) and the predictor they build;
    subclasses fit the head (``_fit_head``: ``coef_``, ``intercept_`` and, for the SVM,
    ``calibration_``)."""

    calibration_ = None

    def _make_vectorizers(self) -> dict[str, TfidfVectorizer]:
        return {name: TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, lowercase=True,
                                      sublinear_tf=bool(self.sublinear_tf), min_df=self.min_df,
                                      max_features=self.max_features, dtype=np.float64)
                for name, (analyzer, ngram_range) in feature_blocks(self.get_params()).items()}

    def fit(self, X: Sequence[str], y: Sequence[str]):
        begun = self._begin_fit(X, y, ("cross", "per-target", "none"))
        if begun is None:
            self._per_target_predictor()
            return self
        texts, targets, y = begun
        self.vectorizers_ = self._make_vectorizers()
        features = stacked_features([vec.fit_transform(texts) for vec in self.vectorizers_.values()], targets,
                                    self.targets_)
        self.n_features_in_ = features.shape[1]
        self._fit_head(features, y)
        blocks = {name: NgramTfidf(vec.analyzer, vec.ngram_range, vec.vocabulary_, vec.idf_, vec.sublinear_tf)
                  for name, vec in self.vectorizers_.items()}
        self.predictor_ = TfidfPredictor(self.family, self.get_params(), self.classes_, blocks, self.targets_,
                                         self.coef_, self.intercept_, self.calibration_)
        return self

    def _per_target_predictor(self) -> None:
        """``predictor_`` of a per-target model: its targets' predictors."""
        models = {target: model.predictor_ for target, model in self.target_models_.items()}
        self.predictor_ = TfidfPredictor.per_target(self.family, self.get_params(), self.classes_, self.targets_,
                                                    self.target_constant_, models)

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        return self.predictor_.predict_proba(X)

    def explain(self, text, top_k: int = 8) -> list[tuple[str, float]]:
        return self.predictor_.explain(text, top_k)

    @property
    def feature_names_(self) -> np.ndarray:
        names = [block.terms for block in self.predictor_.blocks.values()]
        return np.concatenate(names) if len(names) > 1 else names[0]

    # ---- persistence: the predictor's folder
    def _extra_meta(self) -> dict:
        return self.predictor_._extra_meta()

    def _save_weights(self, path: Path) -> None:
        self.predictor_._save_weights(path)

    def _load_weights(self, path: Path, meta: dict) -> None:
        self.predictor_ = TfidfPredictor.from_weights(path, self.family, self.get_params(), self.classes_, meta)
        predictor = self.predictor_
        self.targets_, self.coef_, self.intercept_ = predictor.targets_, predictor.coef_, predictor.intercept_
        self.calibration_, self.n_features_in_ = predictor.calibration_, predictor.n_features

    def _load_per_target(self, path: Path, spec: dict) -> None:
        super()._load_per_target(path, spec)
        self._per_target_predictor()


class TfidfLogRegClassifier(_TfidfLinear):
    """TF-IDF + class-balanced LogisticRegression (multinomial for 3+ labels)."""

    family = "tfidf-logreg"

    def __init__(self, C: float = 10.0, ngram_max: int = FEATURE_DEFAULTS["ngram_max"],
                 char_ngrams: bool = FEATURE_DEFAULTS["char_ngrams"], min_df: int = 1, max_features: int | None = None,
                 sublinear_tf: bool = FEATURE_DEFAULTS["sublinear_tf"], class_weight: str | None = "balanced",
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


class TfidfSVMClassifier(_TfidfLinear):
    """TF-IDF + class-balanced LinearSVC (one-vs-rest), probabilities from per-class
    sigmoid calibration (Platt) fitted on out-of-fold decision values."""

    family = "tfidf-svm"

    def __init__(self, C: float = 1.0, ngram_max: int = FEATURE_DEFAULTS["ngram_max"],
                 char_ngrams: bool = FEATURE_DEFAULTS["char_ngrams"], min_df: int = 1, max_features: int | None = None,
                 sublinear_tf: bool = FEATURE_DEFAULTS["sublinear_tf"], class_weight: str | None = "balanced",
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
