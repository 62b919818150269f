"""Peak memory of a command in a fresh process: ``python -m stanceframe.benchmarks.memory
COMMAND...`` runs COMMAND as its only child, samples the proportional set size (PSS: shared
pages split between the processes sharing them) of the child and its children together 20
times a second, and prints ``bench-maxrss-kb=N bench-peak-pss-kb=M`` on stderr (N: the
largest ``ru_maxrss`` of its waited-for children); its exit status is the child's.

It runs in a small wrapper process of its own because a child forked from a large process
(the benchmark's) would inherit that process's high-water mark, which Linux carries over
exec into ``ru_maxrss``. So this module imports only the standard library at the top, and
the packages above it (``stanceframe``, ``stanceframe.benchmarks``) must stay light to
import. :func:`peak_rss` is the benchmark's side: it runs ``stanceframe tag`` under it.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

MODULE = "stanceframe.benchmarks.memory"  # run as `python -m MODULE COMMAND...`
SAMPLE_SECONDS = 0.05
REPORT_RE = re.compile(r"bench-maxrss-kb=(\d+) bench-peak-pss-kb=(\d+)")


def pss_kb(pid: int) -> int:
    """The PSS in kB of process ``pid`` and its direct children, added up (0 once gone)."""
    pids, total = [pid], 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                pids += [int(c) for c in handle.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as handle:
                total += sum(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
        except OSError:
            pass
    return total


def main(command: list[str]) -> int:
    """Run ``command``, sample its PSS until it ends, print the report line; its exit status."""
    proc = subprocess.Popen(command)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, pss_kb(proc.pid))
        time.sleep(SAMPLE_SECONDS)
    kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"bench-maxrss-kb={kb} bench-peak-pss-kb={peak}", file=sys.stderr)
    return proc.returncode


def peak_rss(model_dir: Path, corpus: Path, scratch: Path) -> dict:
    """Peak memory of ``stanceframe tag CORPUS --model DIR --out FILE`` in a fresh process,
    started by this module's small wrapper whose only child it is: ``peak_rss_mb`` is
    ``ru_maxrss`` (``RUSAGE_CHILDREN``: the largest of tag's processes, main or segmentation
    worker), ``peak_pss_mb`` the sampled peak of their proportional set sizes added up."""
    out = scratch / "rss-out.jsonl"
    cmd = ["tag", str(corpus), "--model", str(model_dir), "--out", str(out), "--quiet"]
    measured, stderr = command_peak(cmd)
    out.unlink(missing_ok=True)
    return {**measured, "sentences": _tagged_sentences(stderr)}


def command_peak(args: list[str], ok: tuple[int, ...] = (0, 1)) -> tuple[dict, str]:
    """``stanceframe ARGS`` in a fresh process under this module's wrapper: its wall time,
    ``peak_rss_mb`` (``ru_maxrss`` of its processes) and ``peak_pss_mb``; and its stderr."""
    from stanceframe.errors import StanceframeError

    cmd = [sys.executable, "-m", "stanceframe", *args]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", MODULE, *cmd], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=env)
    seconds = time.perf_counter() - started
    stderr = done.stderr.decode("utf-8", "replace")
    found = REPORT_RE.search(stderr)
    if done.returncode not in ok or not found:
        raise StanceframeError(f"bench: `stanceframe {' '.join(args)}` failed: {stderr.strip()[-500:]}")
    return ({"peak_rss_mb": round(int(found.group(1)) / 1024, 1), "peak_pss_mb": round(int(found.group(2)) / 1024, 1),
             "seconds": round(seconds, 2)}, stderr)


def _tagged_sentences(summary_line: str) -> int | None:
    m = re.search(r"([\d,]+) sentence\(s\)", summary_line)
    return int(m.group(1).replace(",", "")) if m else None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
