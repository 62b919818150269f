"""The speed benchmark's report as Markdown: the table of measurements, the machine, the
versions, the sentences, the ``--f1`` comparison and whether the targets were met."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from stanceframe.benchmarks.speed_settings import RSS_FAMILY, TARGETS, TRANSFORMER_FAMILY
from stanceframe.markdown import markdown_table


def split_note(workers: Sequence[int]) -> str:
    """Where the runs read and split documents: ``splitting in 2 worker processes``,
    ``splitting in-process``, or how many runs did which."""
    def where(n):
        return "in-process" if n == 0 else f"in {n} worker process{'es' if n > 1 else ''}"

    kinds = Counter(workers)
    if len(kinds) == 1:
        return f"splitting {where(workers[0])}"
    return "splitting " + ", ".join(f"{where(n)} in {c} of {len(workers)} runs" for n, c in sorted(kinds.items()))


MEASUREMENT_HEADERS = ["measurement", "family / model", "sentences", "sentences/s", "notes"]
F1_HEADERS = ["task", "macro-F1, `tag`'s path", "macro-F1, transformers pipeline", "difference (points)",
              "max abs. probability difference", "same label"]


def measurement_rows(report: dict) -> list[list[str | None]]:
    """One row a measurement: end to end per family, the peer, the ceiling, the ratios, peak
    RSS per size and its growth, fit seconds per fitted family."""
    rows = []
    for family, r in report["families"].items():
        runs = ", ".join(f"{x:.2f}" for x in r["runs_s"])
        worker = r.get("segmentation_workers") or []
        split = "; " + split_note(worker) if worker else ""
        rows.append(["end to end `tag` (JSONL file in → JSONL file out)", family, f"{r['sentences']:,}",
                     f"{r['sentences_per_s']:,.0f}",
                     f"median of {len(r['runs_s'])} after a warm-up (runs: {runs} s{split})"])
    if report.get("pipeline"):
        p, c = report["pipeline"], report["ceiling"]
        rows.append(["peer: `transformers.pipeline(\"text-classification\", batch_size=64)`",
                     f"{TRANSFORMER_FAMILY} (one pipeline per task)", f"{p['sentences']:,}",
                     f"{p['sentences_per_s']:,.0f}", "same sentences, already split"])
        rows.append(["ceiling: forward pass alone", f"{TRANSFORMER_FAMILY} (the networks `tag` runs)",
                     f"{c['sentences']:,}", f"{c['sentences_per_s']:,.0f}",
                     f"pre-tokenized, length-sorted batches of {c['batch_size']}, {c.get('threads', 1)} at a time "
                     "as `tag` runs them"])
        rows.append(["`ratio_vs_pipeline` (end to end ÷ peer)", TRANSFORMER_FAMILY, None,
                     f"**{report['ratio_vs_pipeline']:.2f}**", f"target ≥ {TARGETS['ratio_vs_pipeline']}"])
        rows.append(["`ratio_vs_raw` (end to end ÷ ceiling)", TRANSFORMER_FAMILY, None,
                     f"**{report['ratio_vs_raw']:.2f}**", f"target ≥ {TARGETS['ratio_vs_raw']}"])
    rows += onnx_rows(report.get("onnx") or [])
    for size, r in report.get("rss", {}).items():
        rate = f"{r['sentences'] / r['seconds']:,.0f}" if r.get("sentences") and r["seconds"] else ""
        rows.append(["peak RSS of `stanceframe tag` (fresh process)", report.get("rss_model", RSS_FAMILY),
                     f"{int(size):,}", rate,
                     f"**{r['peak_rss_mb']:,.0f} MB** (both processes' PSS: {r.get('peak_pss_mb', 0):,.0f} MB; "
                     f"{r['seconds']:.0f} s incl. start-up)"])
    if "rss_growth" in report:
        rows.append(["peak RSS growth, largest vs smallest", report.get("rss_model", RSS_FAMILY), None, None,
                     f"**{report['rss_growth']:+.1%}** (target ≤ +10%)"])
    for family, secs in report["fit_seconds"].items():
        if not secs:  # the shipped model: timed, not fitted
            continue
        total = sum(secs.values())
        rows.append(["fit seconds on the seed set", family, None, None,
                     f"{total:,.1f} s ({', '.join(f'{t} {v:.1f}' for t, v in secs.items())})"])
    return rows


def onnx_rows(sections: list[dict]) -> list[list[str | None]]:
    """The ONNX section's rows per model: end to end per path (with its ratios), the
    pipeline, the forward pass alone, start-up and peak RSS."""
    rows = []
    for sec in sections:
        model = f"{sec['family']} `{sec['model'].rstrip('/').split('/')[-1]}`"
        n = f"{sec['sentences']:,}"
        for path, r in sec["end_to_end"].items():
            notes = [f"{sec['ratio_vs_torch'][path]:.2f}× PyTorch"]
            if sec.get("ratio_vs_pipeline"):
                notes.append(f"{sec['ratio_vs_pipeline'][path]:.2f}× the pipeline")
            if path in sec["ratio_vs_forward"]:
                notes.append(f"{sec['ratio_vs_forward'][path]:.2f} of its forward pass")
            if "startup" in sec:
                notes.append(f"start-up of `tag` on one article {sec['startup'][path]['median_s']:.2f} s")
            if "peak_rss_mb" in sec:
                notes.append(f"peak RSS {sec['peak_rss_mb'][path]:,.0f} MB")
            runs = ", ".join(f"{x:.2f}" for x in r["runs_s"])
            rows.append([f"end to end `tag`, {path}", model, n, f"{r['sentences_per_s']:,.0f}",
                         "; ".join(notes) + f" (runs: {runs} s, alternating)"])
        if sec.get("pipeline"):
            rows.append(["peer: `transformers.pipeline`", model, n, f"{sec['pipeline']['sentences_per_s']:,.0f}",
                         "same model and sentences, already split"])
        for path, r in sec["forward"].items():
            rows.append([f"forward pass alone, {path}", model, n, f"{r['sentences_per_s']:,.0f}",
                         "pre-tokenized, length-sorted batches, side by side as `tag` runs them"])
    return rows


def f1_rows(f1: dict) -> list[list[str]]:
    """One row a task of the ``--f1`` comparison."""
    return [[task, f"{r['macro_f1_tag']:.4f}", f"{r['macro_f1_pipeline']:.4f}",
             f"{100 * (r['macro_f1_tag'] - r['macro_f1_pipeline']):+.2f}", f"{r['max_abs_proba_diff']:.1e}",
             f"{r['label_agreement']:.1%}"] for task, r in f1["tasks"].items()]


def to_markdown(report: dict, command: str | None = None) -> str:
    """The report as a Markdown table plus the machine and versions."""
    s = report["settings"]
    m, v = report["machine"], report["versions"]
    out = []
    if command:
        out.append(f"Command: `{command}`\n")
    out.append(markdown_table(MEASUREMENT_HEADERS, measurement_rows(report), align="llrrl"))
    out.append("")
    out.append(f"Machine: {m['cpu']}, {m['cores']} cores ({m.get('usable_cores', m['cores'])} usable), "
               f"torch threads {report['torch_threads']}; load average {m['load_average'][0]:.2f} at start, "
               f"{m.get('load_average_end', m['load_average'])[0]:.2f} at the end; {m['platform']}.")
    out.append("Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".")
    out.append(f"Sentences: {'synthetic (seed + contrast sentences varied)' if s['input'] == 'synthetic' else s['input']}"
               f"; {s['sentences']:,} for the fast families, the first {s['transformer_sentences']:,} for the "
               f"transformer families, the peer and the ceiling ({s['distinct_sentence_share']:.0%} of those distinct).")
    if report.get("f1"):
        f1 = report["f1"]
        out.append("")
        out.append(f"Macro-F1 of {TRANSFORMER_FAMILY} ({f1['params']}) on the seed grouped cross-validation "
                   f"({f1['n_splits']} folds, each fold's model fitted once, its test sentences scored by both "
                   "inference paths):")
        out.append("")
        out.append(markdown_table(F1_HEADERS, f1_rows(f1), align="lrrrrr"))
        out.append("")
    for note in report.get("notes", []):
        out.append(f"Note: {note}.")
    if s.get("quick"):
        out.append("Targets: not judged on a --quick run (too few sentences: start-up costs dominate); "
                   "run without --quick.")
    elif report.get("targets"):
        out.append("Targets: " + "; ".join(f"{k}: {'met' if ok else 'NOT met'}" for k, ok in report["targets"].items())
                   + ".")
    return "\n".join(out) + "\n"
