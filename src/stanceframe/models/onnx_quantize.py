"""Dynamic int8 quantisation of an exported network, and the guard that decides whether a
model may run it.

``quantized(folder)`` writes ``model.int8.onnx`` beside the float32 export (ONNX Runtime's
``quantize_dynamic``: weights of the matrix products as signed int8, activations quantised
per batch at run time); nothing torch.

:func:`int8_guard` decides whether a model may run int8, per task: macro-F1 of the float32
and the int8 network on every grouped-CV fold and on the real-text check, measured by
``stanceframe compare`` on its own fold models (:class:`Int8Checker`, families with
``int8_check = true``) and recorded in the promoted model's manifest (``int8_evidence``), and
the share of labels that flip on the seed's sentences, run now on the model itself. int8 is
accepted only when no task loses more than :data:`MAX_F1_DROP` (1 point) on any fold or the
real-text check and at most :data:`MAX_FLIPS` (1 %) of the seed's labels flip; the figures are
reported either way. ``stanceframe onnx MODEL --precision int8`` runs it and, when accepted,
records ``"onnx": {"precision": "int8", ...}`` in the model's manifest: what makes ``tag``
load the int8 network.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stanceframe.models.onnx_runtime import MODEL_FILE

MAX_F1_DROP = 0.01  # macro-F1, per task and set
MAX_FLIPS = 0.01  # share of the seed's labels, per task
_LOCK = threading.Lock()


def quantized(folder: Path) -> Path:
    """``folder``'s int8 network, quantised now when missing."""
    target = folder / MODEL_FILE["int8"]
    with _LOCK:
        if target.is_file():
            return target
        import logging

        from onnxruntime.quantization import QuantType, quantize_dynamic

        logging.getLogger("root").setLevel(logging.ERROR)  # quantize_dynamic's advice on pre-processing
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            out = Path(tmp) / MODEL_FILE["int8"]
            quantize_dynamic(folder / MODEL_FILE["fp32"], out, weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul", "Gemm"])
            shutil.move(str(out), target)
    return target


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Macro-F1 over the labels that occur in either (scikit-learn's ``f1_score(average="macro")``)."""
    labels = sorted(set(y_true) | set(y_pred))
    t, p = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    f1s = []
    for lab in labels:
        tp = float(np.sum((p == lab) & (t == lab)))
        fp = float(np.sum((p == lab) & (t != lab)))
        fn = float(np.sum((p != lab) & (t == lab)))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(f1s)) if f1s else 0.0


def int8_guard(fp32, int8, evidence: dict | None, seed_texts: Sequence[str]) -> dict:
    """The guard's figures and verdict. ``fp32`` / ``int8``: the same model loaded at each
    precision (``ModelBundle``s); ``evidence``: the manifest's ``int8_evidence`` (per task,
    the int8 figures of compare's grouped-CV fold models and of its real-text fit);
    ``seed_texts``: the sentences whose labels must not flip, run now on this model."""
    evidence = evidence if isinstance(evidence, dict) else {}
    report: dict = {"cv": {}, "realtext": {}, "flips": {}, "max_f1_drop": MAX_F1_DROP, "max_flips": MAX_FLIPS,
                    "reasons": []}
    for task in fp32.tasks:
        figures = evidence.get(task) if isinstance(evidence.get(task), dict) else {}
        folds = [f for f in figures.get("cv") or [] if isinstance(f, dict) and "drop" in f]
        if not folds:
            report["reasons"].append(f"{task}: no grouped-CV int8 figures in the manifest (`stanceframe compare "
                                     "--promote` measures them for the families with int8_check = true)")
        report["cv"][task] = folds
        for i, fold in enumerate(folds, 1):
            if fold["drop"] > MAX_F1_DROP:
                report["reasons"].append(f"{task} macro-F1 on grouped-CV fold {i} drops {100 * fold['drop']:.1f} "
                                         f"points ({fold['fp32']:.3f} -> {fold['int8']:.3f})")
        real = figures.get("realtext")
        if isinstance(real, dict) and "drop" in real:
            report["realtext"][task] = real
            if real["drop"] > MAX_F1_DROP:
                report["reasons"].append(f"{task} macro-F1 on the real-text check drops {100 * real['drop']:.1f} "
                                         f"points ({real['fp32']:.3f} -> {real['int8']:.3f})")
    texts = list(seed_texts)
    a, b = fp32.predict(texts), int8.predict(texts)
    for task in fp32.tasks:
        c = compare_labels(np.asarray(a[task].proba), np.asarray(b[task].proba), fp32.classes(task),
                           [None] * len(texts))
        report["flips"][task] = {"flipped": c["flipped"], "sentences": len(texts), "share": c["flip_share"],
                                 "max_abs_proba_diff": c["max_abs_proba_diff"]}
        share = c["flipped"] / max(1, len(texts))  # judged unrounded
        if share > MAX_FLIPS:
            report["reasons"].append(f"{task}: {c['flipped']} of {len(texts)} seed labels flip ({share:.1%})")
    report["accepted"] = not report["reasons"]
    return report


def guard_lines(report: dict) -> list[str]:
    """The guard's figures as lines for a person."""
    lines = []
    for task, folds in report["cv"].items():
        for i, r in enumerate(folds, 1):
            lines.append(f"grouped CV fold {i} {task}: macro-F1 fp32 {r['fp32']:.4f}, int8 {r['int8']:.4f} "
                         f"(drop {100 * r['drop']:+.2f} points; {r['sentences']} sentences, "
                         f"{r['flip_share']:.2%} of labels flip)")
    for task, r in report["realtext"].items():
        lines.append(f"real-text check {task}: macro-F1 fp32 {r['fp32']:.4f}, int8 {r['int8']:.4f} "
                     f"(drop {100 * r['drop']:+.2f} points; {r['sentences']} sentences)")
    for task, r in report["flips"].items():
        lines.append(f"seed {task}: {r['flipped']} of {r['sentences']} labels flip ({r['share']:.2%}); "
                     f"max abs probability difference {r['max_abs_proba_diff']:.4f}")
    verdict = "accepted" if report["accepted"] else "refused: " + "; ".join(report["reasons"])
    lines.append(f"int8: {verdict} (limits: {100 * MAX_F1_DROP:.0f} point of macro-F1 per task, "
                 f"{MAX_FLIPS:.0%} of labels flipping)")
    return lines


class Int8Checker:
    """int8 against float32 for models that are not kept (compare's fold models and its
    real-text fit): each model saved in a scratch folder, exported and quantised into a
    scratch ONNX cache (removed by :meth:`close`), its int8 labels scored against the gold
    and compared with the float32 labels the caller already has (the PyTorch path, equal
    to ONNX float32 within the parity tolerance)."""

    def __init__(self, families: Sequence[str] = ()):
        self.families = set(families)  # the families a compare run checks
        self._tmp = tempfile.TemporaryDirectory(prefix="stanceframe-int8-")
        self._n = 0

    def check_task(self, family: str, est, X, fp32_proba, classes: Sequence[str], gold: Sequence) -> dict:
        """One task's figures: macro-F1 of the float32 and int8 labels, the drop, the
        share of labels that flip and the largest probability difference."""
        from stanceframe.models.bundle import task_loader
        from stanceframe.models.fitted import aligned_proba
        from stanceframe.models.onnx_runtime import scratch_cache

        root = Path(self._tmp.name)
        self._n += 1
        folder = root / f"model-{self._n}"
        try:
            est.save(folder)
            with scratch_cache(root / "onnx"):
                int8 = task_loader(family, "int8")(folder)
                p8 = aligned_proba(np.asarray(int8.predict_proba(X)), [str(c) for c in int8.classes_], list(classes))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return compare_labels(np.asarray(fp32_proba), p8, list(classes), gold)

    def close(self) -> None:
        self._tmp.cleanup()


def compare_labels(p32: np.ndarray, p8: np.ndarray, classes: list[str], gold: Sequence) -> dict:
    """The guard's figures for one task on one set: ``p32`` / ``p8`` probabilities (columns
    in ``classes``' order), ``gold`` labels (None: unlabelled, left out of the F1)."""
    a = [classes[i] for i in p32.argmax(axis=1)] if len(p32) else []
    b = [classes[i] for i in p8.argmax(axis=1)] if len(p8) else []
    keep = [i for i, y in enumerate(gold) if y is not None]
    truth = [gold[i] for i in keep]
    f_a = macro_f1(truth, [a[i] for i in keep])
    f_b = macro_f1(truth, [b[i] for i in keep])
    flips = sum(x != y for x, y in zip(a, b))
    return {"fp32": round(f_a, 4), "int8": round(f_b, 4), "drop": round(f_a - f_b, 4), "sentences": len(keep),
            "flipped": flips, "flip_share": round(flips / max(1, len(a)), 4),
            "max_abs_proba_diff": round(float(np.max(np.abs(p32 - p8))) if len(p32) else 0.0, 4)}


def set_precision(folder: Path, precision: str, seed_texts: Sequence[str] = (), log=lambda line: None) -> dict:
    """Export ``folder``'s encoder networks (when not cached) and make ``precision`` the one
    its manifest asks for. int8 runs :func:`int8_guard` first (the manifest's
    ``int8_evidence``, ``seed_texts``)
    and is refused (:class:`~stanceframe.errors.ModelFolderError`, with the figures) when
    it fails; the guard's figures are recorded in the manifest either way it is accepted.
    Returns the ``onnx`` entry written."""
    import datetime as _dt
    import json

    from stanceframe.errors import ModelFolderError
    from stanceframe.models.bundle import MANIFEST, ModelBundle
    from stanceframe.models.onnx_runtime import RUNTIME_ENV, runtime

    if runtime() != "onnx":
        raise ModelFolderError(f"{RUNTIME_ENV}=torch: the ONNX export needs the onnx runtime")
    folder = Path(folder)
    fp32 = ModelBundle.load(folder, precision="fp32")  # exports what is not cached, parity-checked
    entry: dict = {"precision": precision}
    if precision == "int8":
        int8 = ModelBundle.load(folder, precision="int8")
        report = int8_guard(fp32, int8, fp32.manifest.get("int8_evidence"), seed_texts)
        for line in guard_lines(report):
            log(line)
        if not report["accepted"]:
            raise ModelFolderError(f"{folder}: int8 refused: " + "; ".join(report["reasons"]))
        entry["int8_guard"] = report
    entry["set"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    manifest_path = folder / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["onnx"] = entry
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n")
    return entry
