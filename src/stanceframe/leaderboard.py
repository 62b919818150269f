"""compare's tables: the leaderboard in Markdown (with the protocol it was measured
under), a task's per-class report in Markdown and the misclassified sentences as CSV."""

from __future__ import annotations

from stanceframe.experiment_config import ExperimentConfig
from stanceframe.markdown import markdown_table


def leaderboard_markdown(rows: list[dict], config: ExperimentConfig | None = None, best: str | None = None,
                         best_per_task: dict[str, str] | None = None) -> str:
    lines = []
    if config:
        grouping = "article" if config.group_by == "article" else "paragraph"
        costly = ", ".join([f"{f} {r}×" for f, r in config.cv_repeats.items() if r < config.n_repeats]
                           + [f"{f} first {k} fold{'s' if k > 1 else ''}" for f, k in config.cv_folds.items()
                              if k < config.n_splits * config.n_repeats])
        lines.append(f"Cross-validation: stratified {config.n_splits}-fold grouped by {grouping}, repeated "
                     f"{config.n_repeats}× (seed {config.seed}{'; ' + costly if costly else ''}); "
                     f"train-only sentences (contrast set) in training folds only.")
        if config.realtext:
            lines.append("Real-text check: each family fitted on everything except the articles of "
                         f"{', '.join(config.realtext)}, scored on their sentences.")
        lines.append("")
    has_real = any("realtext_macro_f1" in r for r in rows)
    headers = ["family", "task", "CV macro-F1 (mean ± std)", "CV per-class F1", "CV per-class precision"]
    headers += ["real-text macro-F1", "real-text per-class F1", "real-text predicted shares"] if has_real else []
    headers += ["accuracy", "ECE", "fit s", "sentences/s"]
    lines.append(markdown_table(headers, [_leaderboard_row(r, has_real) for r in rows]))
    lines += int8_lines(rows)
    if best:
        rule = f"{config.promote_rule} over {' + '.join(config.promote_protocols)}" if config else "rule"
        lines.append(f"\nBest family ({rule}): **{best}**")
    if best_per_task:
        protocols = " + ".join(config.promote_protocols) if config else "the protocols"
        lines.append("\nBest per task (macro-F1, mean of " + protocols + "): "
                     + ", ".join(f"{t} **{f}**" for t, f in best_per_task.items()))
    return "\n".join(lines) + "\n"


def _leaderboard_row(r: dict, has_real: bool) -> list[str]:
    row = [r["family"], r["task"], f"{r['macro_f1']:.3f} ± {r['macro_f1_std']:.3f}",
           ", ".join(f"{k} {v:.2f}" for k, v in r["per_class_f1"].items()),
           ", ".join(f"{k} {v:.2f}" for k, v in r.get("per_class_precision", {}).items())]
    if has_real:
        rp = ", ".join(f"{k} {v:.2f}" for k, v in r.get("realtext_per_class_f1", {}).items())
        shares = ", ".join(f"{k} {v:.0%}" for k, v in r.get("realtext_predicted_share", {}).items())
        row += [f"{r['realtext_macro_f1']:.3f}", rp, shares] if "realtext_macro_f1" in r else [None, None, None]
    return row + [f"{r['accuracy']:.3f}", f"{r['ece']:.3f}", f"{r['fit_seconds']:.2f}", f"{r['sentences_per_s']:,.0f}"]


def int8_lines(rows: list[dict]) -> list[str]:
    """The int8 check of the families that ran it: per task and fold (and the real-text
    fit), macro-F1 of the float32 and the int8 network and the share of labels that flip."""
    checked = [r for r in rows if r.get("int8")]
    if not checked:
        return []
    lines = ["", "int8 (ONNX Runtime dynamic quantisation) of the same fitted models:", ""]
    for r in checked:
        parts = [f"fold {i + 1} {c['fp32']:.3f} → {c['int8']:.3f} ({c['flip_share']:.1%} flip)"
                 for i, c in enumerate(r["int8"].get("cv", []))]
        if "realtext" in r["int8"]:
            c = r["int8"]["realtext"]
            parts.append(f"real text {c['fp32']:.3f} → {c['int8']:.3f} ({c['flip_share']:.1%} flip)")
        lines.append(f"- {r['family']} {r['task']}: " + "; ".join(parts))
    return lines


def per_class_markdown(summary: dict) -> str:
    rows = [[label, *(f"{v[m]['mean']:.3f} ± {v[m]['std']:.3f}" for m in ("precision", "recall", "f1"))]
            for label, v in summary["per_class"].items()]
    return markdown_table(["label", "precision", "recall", "F1"], rows) + "\n"


def misclassified_csv(rows: list[dict]) -> str:
    import csv
    import io

    if not rows:
        return "id,text,gold,predicted,confidence\n"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
