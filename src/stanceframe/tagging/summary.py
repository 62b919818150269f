"""What a ``tag`` run reports: its :class:`TagSummary` (counts, skip reasons, rate, exit
code) and the progress bar with messages above it."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from stanceframe.corpus import PassedOver, Skipped
from stanceframe.terminal import printable


@dataclass
class TagSummary:
    documents: int = 0
    sentences: int = 0
    skipped: int = 0
    warnings: int = 0
    reasons: Counter = field(default_factory=Counter)  # skip reason kind -> count
    passed: Counter = field(default_factory=Counter)  # WARC records that are not pages: kind -> count
    seconds: float = 0.0
    resumed_items: int = 0  # input items an earlier run had done
    run_sentences: int = 0  # sentences tagged by this run (for the rate)
    output: str | None = None
    already_complete: bool = False
    segmentation_workers: int = 0  # processes that read and split documents (0: this one did)

    def skip(self, item: Skipped) -> None:
        self.skipped += 1
        self.reasons[item.reason.split(" (")[0].split(";")[0].strip()] += 1

    def pass_over(self, item: PassedOver) -> None:
        self.passed[item.reason] += 1

    def counts(self) -> dict:
        counts = {"documents": self.documents, "sentences": self.sentences, "skipped": self.skipped,
                  "warnings": self.warnings, "reasons": dict(self.reasons)}
        if self.passed:
            counts["passed"] = dict(self.passed)
        return counts

    def add_counts(self, counts: dict) -> None:
        self.documents += counts.get("documents", 0)
        self.sentences += counts.get("sentences", 0)
        self.skipped += counts.get("skipped", 0)
        self.warnings += counts.get("warnings", 0)
        self.reasons.update(counts.get("reasons", {}))
        self.passed.update(counts.get("passed", {}))

    @property
    def exit_code(self) -> int:
        """0: something tagged, nothing skipped; 1: some input skipped (or nothing tagged)."""
        if self.already_complete:
            return 0
        return 1 if self.skipped or not self.documents else 0

    def text(self) -> str:
        if self.already_complete:
            return f"{self.output}: already complete, nothing to resume"
        rate = self.run_sentences / self.seconds if self.seconds > 0 else 0.0
        parts = [f"tagged {self.documents:,} document(s), {self.sentences:,} sentence(s); "
                 f"{self.seconds:.1f} s ({rate:,.0f} sentences/s)"]
        if self.resumed_items:
            parts.append(f"resumed after the {self.resumed_items:,} input item(s) an earlier run had done "
                         f"(counts include them)")
        if self.skipped:
            kinds = ", ".join(f"{k}: {v}" for k, v in self.reasons.most_common())
            parts.append(f"skipped {self.skipped:,} ({kinds})")
        if self.passed:
            kinds = ", ".join(f"{k}: {v}" for k, v in sorted(self.passed.items(), key=lambda kv: (-kv[1], kv[0])))
            parts.append(f"passed over {sum(self.passed.values()):,} WARC record(s) that are not pages ({kinds})")
        if self.warnings:
            parts.append(f"{self.warnings:,} warning(s)")
        if self.output:
            parts.append(f"wrote {self.output}")
        return "; ".join(parts)


class Progress:
    """tqdm bar on stderr counting documents, with sentences/s; messages above it."""

    def __init__(self, enabled: bool, stream=None):
        self.stream = stream or sys.stderr
        self.bar = None
        self.start = time.perf_counter()
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(unit="doc", desc="tagging", file=self.stream, dynamic_ncols=True, mininterval=0.5)

    def log(self, message: str) -> None:
        message = printable(message)  # one line: a file name or text cannot fake lines or escapes
        if self.bar is not None:
            self.bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def update(self, documents: int, sentences_total: int) -> None:
        if self.bar is None:
            return
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        self.bar.set_postfix_str(f"{sentences_total:,} sentences, {sentences_total / elapsed:,.0f} sent/s",
                                 refresh=False)
        self.bar.update(documents)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
