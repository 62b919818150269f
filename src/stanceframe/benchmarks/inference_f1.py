"""``benchmark speed --f1``: does ``tag``'s optimised inference path score what the plain
transformers pipeline scores? Macro-F1 of ``encoder-finetune`` on the seed grouped
cross-validation, each fold's model fitted once and its test sentences scored both ways."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from stanceframe.benchmarks.speed_settings import PIPELINE_BATCH_SIZE, SEED, TRANSFORMER_FAMILY
from stanceframe.paths import contrast_file, corpora


def pipeline_proba(est, texts: list[str]):
    """Probabilities (columns in ``est.classes_`` order) from the transformers pipeline over
    ``est``'s fine-tuned network: the unoptimised reference inference path."""
    import numpy as np
    from transformers import pipeline

    model = getattr(est, "reference_model", est.model_)
    pipe = pipeline("text-classification", model=model, tokenizer=est.tokenizer_, batch_size=PIPELINE_BATCH_SIZE,
                    device=-1)
    column = {str(c): j for j, c in enumerate(est.classes_)}
    out = np.zeros((len(texts), len(est.classes_)))
    for i, scores in enumerate(pipe(texts, truncation=True, max_length=int(est.max_length), top_k=None)):
        for item in scores:
            out[i, column[item["label"]]] = item["score"]
    return out


F1_FIT_PARAMS = {"epochs": 2}  # what is compared is two inference paths of the same fitted networks


def tag_path_proba(est, task: str, texts: list[str]):
    """``est``'s probabilities (columns in ``est.classes_`` order) computed exactly as ``tag``
    computes them: ``Tagger.predict`` (inputs sorted by tokens, batches of tag's default size,
    batches side by side on one torch thread each)."""
    import numpy as np

    from stanceframe.models.bundle import ModelBundle
    from stanceframe.tagging.parallel import torch_threads
    from stanceframe.tagging.tagger import Tagger

    tagger = Tagger(ModelBundle(TRANSFORMER_FAMILY, {task: est}))
    try:
        with torch_threads(1 if tagger.inference_threads > 1 else None):
            values = tagger.predict(list(texts))
    finally:
        tagger.close()
    columns = tagger.model.prediction_columns
    picked = [columns.index(f"p_{task}_{c}") for c in est.classes_]
    return np.asarray([[row[i] for i in picked] for row in values], dtype=float)


def inference_path_f1(root: Path, n_splits: int = 5, params: dict | None = None,
                      log: Callable[[str], None] = lambda m: None) -> dict:
    """Macro-F1 of ``encoder-finetune`` on the seed grouped cross-validation (the folds of
    ``compare``: seed 13, grouped by paragraph, contrast sentences in training only) with
    each fold's model fitted once and its test sentences scored two ways: by the path ``tag``
    runs (:func:`tag_path_proba`) and by the unoptimised transformers pipeline."""
    import numpy as np

    from stanceframe import experiments as ex
    from stanceframe.dataset import grouped_folds
    from stanceframe.evaluate import task_metrics

    gold = ex.load_training_data([corpora(root)[0].labels], None)
    extra = ex.load_training_data([contrast_file(root)], gold.tasks)
    params = dict(F1_FIT_PARAMS if params is None else params)
    out = {"n_splits": n_splits, "params": params, "tasks": {}}
    for task in gold.tasks:
        labels = gold.schema.task(task).label_names
        scores = {"tag": [], "pipeline": []}
        max_diff, agree, n = 0.0, 0, 0
        folds = grouped_folds(gold.labels(task), gold.groups, n_splits=n_splits, n_repeats=1, seed=SEED)
        for k, (train_idx, test_idx) in enumerate(folds):
            train, test = gold.subset(train_idx) + extra, gold.subset(test_idx)
            est = ex.build_estimator(TRANSFORMER_FAMILY, task, params, SEED)
            est.fit(train.texts, train.labels(task))
            probas = {"tag": tag_path_proba(est, task, test.texts), "pipeline": pipeline_proba(est, test.texts)}
            for path, proba in probas.items():
                full = np.zeros((len(test), len(labels)))
                for j, c in enumerate(est.classes_):
                    full[:, labels.index(str(c))] = proba[:, j]
                scores[path].append(task_metrics(test.labels(task), full, labels, labels)["macro_f1"])
            max_diff = max(max_diff, float(np.abs(probas["tag"] - probas["pipeline"]).max()))
            agree += int((probas["tag"].argmax(1) == probas["pipeline"].argmax(1)).sum())
            n += len(test)
            log(f"f1: {task} fold {k}: tag {scores['tag'][-1]:.4f}, pipeline {scores['pipeline'][-1]:.4f}")
        out["tasks"][task] = {"macro_f1_tag": float(np.mean(scores["tag"])),
                              "macro_f1_pipeline": float(np.mean(scores["pipeline"])),
                              "max_abs_proba_diff": max_diff, "label_agreement": agree / n}
    return out
