"""The ``setfit`` family: SetFit's contrastive fine-tuning of the sentence encoder
(the ``setfit`` library, offline, from the local encoder folder), then a class-balanced
LogisticRegression on the tuned encoder's mean-pooled, normalised embeddings.

setfit trains only the body here (``Trainer.train_embeddings``); the head is fitted by
this module on embeddings computed with the same code that predicts (models.encoder),
so training and tagging see identical features. setfit's own ``save_pretrained`` would
pickle the head (joblib), so the folder holds instead the tuned transformer as
safetensors + tokenizer (``encoder/``) and the head as .npy.

Targets (``(target, text)`` pairs): ``target_mode="cross"`` (default) tunes the body and
embeds the text alone and crosses the embedding with the target in the head
(inputs.target_crossed), as encoder-logreg; ``pair`` tunes and embeds the string
``"target [SEP] text"`` (the tokenizer's separator); ``per-target`` fits one SetFit model
per target; ``none`` ignores targets.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stanceframe.errors import ModelFolderError
from stanceframe.models.base import TextClassifier
from stanceframe.models.encoder import (
    DEFAULT_ENCODER,
    downloads_allowed,
    encoder_version,
    explain_by_leaving_out,
    load_pretrained,
    mean_pooled,
    quiet_transformers,
    resolve_encoder,
)
from stanceframe.models.inputs import split_inputs, target_crossed
from stanceframe.models.linear import fit_logreg, linear_proba, load_head, save_head

ENCODER_DIR = "encoder"


class SetFitClassifier(TextClassifier):
    """Parameters: ``encoder`` (name or folder), ``max_length`` (tokens, at training and
    prediction), ``num_iterations`` (positive + negative pairs generated per sentence
    each), ``epochs`` and ``batch_size`` of the contrastive phase, ``body_learning_rate``,
    ``max_steps`` (cap on contrastive steps, -1: none), ``freeze_embeddings`` (keep the
    token embedding layer fixed: faster steps), ``C`` and ``class_weight`` of the
    head, ``predict_batch_size``, ``random_state``."""

    family = "setfit"

    def __init__(self, encoder: str = DEFAULT_ENCODER, max_length: int = 64, num_iterations: int = 1, epochs: int = 1,
                 batch_size: int = 16, body_learning_rate: float = 5e-5, max_steps: int = 16, freeze_embeddings: bool = True,
                 C: float = 10.0, class_weight: str | None = "balanced", predict_batch_size: int = 64,
                 random_state: int = 0, target_mode: str = "cross"):
        self.encoder = encoder
        self.max_length = max_length
        self.num_iterations = num_iterations
        self.epochs = epochs
        self.batch_size = batch_size
        self.body_learning_rate = body_learning_rate
        self.max_steps = max_steps
        self.freeze_embeddings = freeze_embeddings
        self.C = C
        self.class_weight = class_weight
        self.predict_batch_size = predict_batch_size
        self.random_state = random_state
        self.target_mode = target_mode

    def _body_texts(self, X) -> tuple[list[str], list[str | None] | None]:
        """(what the encoder reads, targets): ``target [SEP] text`` in pair mode."""
        texts, targets = split_inputs(X)
        if getattr(self, "paired_", False) and targets is not None:
            texts = [f"{t} [SEP] {x}" if t is not None else x for t, x in zip(targets, texts)]
        return texts, targets

    def _features(self, X) -> np.ndarray:
        texts, targets = self._body_texts(X)
        features = self._embed(texts).astype(np.float64)
        return target_crossed(features, targets, self.targets_) if self.targets_ else features

    def fit(self, X: Sequence[str], y: Sequence[str]) -> SetFitClassifier:
        begun = self._begin_fit(X, y)
        if begun is None:
            return self
        _, _, y = begun
        texts, _ = self._body_texts(X)
        if len(self.classes_) < 2:
            raise ValueError("need at least two labels to fit")
        label_ids = {c: i for i, c in enumerate(self.classes_)}
        y_ids = [int(label_ids[v]) for v in y]

        body = self._train_body(texts, y_ids)
        transformer = body[0]
        model, tokenizer = transformer.auto_model, transformer.tokenizer
        model.eval()
        self.model_, self.tokenizer_ = model, tokenizer
        features = self._features(X)
        self.n_features_in_ = features.shape[1]
        self.coef_, self.intercept_ = fit_logreg(features, y, self.classes_, self.C, self.class_weight,
                                                 int(self.random_state))
        self.encoder_version_ = encoder_version(self.encoder)
        return self

    def _train_body(self, texts: list[str], y_ids: list[int]):
        """SetFit's contrastive phase (CosineSimilarityLoss on generated pairs); returns
        the tuned sentence-transformers body."""
        import datasets
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments
        from transformers.trainer_callback import PrinterCallback, ProgressCallback

        source = resolve_encoder(self.encoder)
        quiet = logging.getLogger("setfit")
        level = quiet.level
        quiet.setLevel(logging.WARNING)
        bars_were_on = datasets.is_progress_bar_enabled()
        datasets.disable_progress_bars()
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), quiet_transformers():
                warnings.simplefilter("ignore")
                setfit_model = SetFitModel.from_pretrained(source, local_files_only=not downloads_allowed() or Path(source).is_dir())
                setfit_model.model_body.max_seq_length = int(self.max_length)
                if self.freeze_embeddings:
                    for param in setfit_model.model_body[0].auto_model.embeddings.parameters():
                        param.requires_grad = False
                with tempfile.TemporaryDirectory(prefix="stanceframe-setfit-") as tmp:
                    args = TrainingArguments(
                        output_dir=tmp,
                        batch_size=int(self.batch_size),
                        num_epochs=int(self.epochs),
                        num_iterations=int(self.num_iterations),
                        max_steps=int(self.max_steps),
                        body_learning_rate=float(self.body_learning_rate),
                        max_length=int(self.max_length),
                        seed=int(self.random_state),
                        show_progress_bar=False,
                        report_to="none",
                        logging_strategy="no",
                        save_strategy="no",
                    )
                    trainer = Trainer(model=setfit_model, args=args,
                                      train_dataset=Dataset.from_dict({"text": texts, "label": y_ids}))
                    for callback in (ProgressCallback, PrinterCallback):
                        trainer.st_trainer.remove_callback(callback)
                    trainer.train_embeddings(texts, y_ids, args=args)
        finally:
            quiet.setLevel(level)
            if bars_were_on:
                datasets.enable_progress_bars()
        return setfit_model.model_body

    def _embed(self, texts: list[str]) -> np.ndarray:
        return mean_pooled(self.tokenizer_, self.model_, texts, int(self.max_length), int(self.predict_batch_size))

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        return linear_proba(self, X, self._features)

    def explain(self, text, top_k: int = 8) -> list[tuple[str, float]]:
        return explain_by_leaving_out(self, text, top_k)

    # ---- persistence
    def _extra_meta(self) -> dict:
        return {"encoder": {"name": self.encoder, "package_version": getattr(self, "encoder_version_", None)},
                "target_vocabulary": list(self.targets_), "paired": bool(getattr(self, "paired_", False))}

    def _save_weights(self, path: Path) -> None:
        with quiet_transformers():
            self.model_.save_pretrained(path / ENCODER_DIR, safe_serialization=True)
            self.tokenizer_.save_pretrained(path / ENCODER_DIR)
        save_head(path, self.coef_, self.intercept_)

    def _load_weights(self, path: Path, meta: dict) -> None:
        from transformers import AutoModel, AutoTokenizer

        folder = path / ENCODER_DIR
        if not folder.is_dir():
            raise ModelFolderError(f"{folder}: missing (tuned encoder folder)")
        self.tokenizer_, self.model_ = load_pretrained(folder, AutoModel, AutoTokenizer)
        self.targets_ = [str(t) for t in meta.get("target_vocabulary") or []]
        self.paired_ = bool(meta.get("paired", False))
        hidden, k = int(self.model_.config.hidden_size), len(self.targets_)
        self.coef_, self.intercept_ = load_head(path, len(self.classes_), hidden * (k + 1) + k)
        self.n_features_in_ = self.coef_.shape[1]
        self.encoder_version_ = (meta.get("encoder") or {}).get("package_version")
