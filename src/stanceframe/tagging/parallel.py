"""Parallel work while tagging: how many cores are usable, batches of a torch model
predicted side by side (one torch thread each), and the forked worker processes that read
and split documents while this process predicts and writes."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from stanceframe.errors import StanceframeError

if TYPE_CHECKING:
    from stanceframe.tagging.tagger import Tagger


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one, else
    every core)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def batch_parallel_inference(model) -> int:
    """How many batches a torch model predicts at once: one per usable core (at least 2
    cores), each batch's network on one torch thread (``torch_threads(1)`` around the run).
    Small length-sorted batches parallelise badly inside one matrix product (the threads
    synchronise every layer and spin while they wait, worse on a shared machine); whole
    batches side by side do not. Each batch is computed the same way whatever the load
    (one thread), so a run and its ``--resume`` give the same bytes. 1 (in order, torch's
    own threads) for models without torch networks; ``STANCEFRAME_INFERENCE_THREADS``
    overrides."""
    env = os.environ.get("STANCEFRAME_INFERENCE_THREADS")
    if env is not None and env.strip().isdigit():
        return max(1, int(env))
    cores = usable_cores()
    return cores if has_torch_networks(model) and cores >= 2 else 1


def has_torch_networks(model) -> bool:
    """Whether any of the model's estimators holds a torch network (transformer families)."""
    if "torch" not in sys.modules:  # nothing loaded a network
        return False
    import torch

    return any(isinstance(value, torch.nn.Module)
               for est in getattr(model, "estimators", {}).values() for value in vars(est).values())


class torch_threads:
    """``torch.set_num_threads(n)`` for a block (nothing when torch is not loaded or n is None)."""

    def __init__(self, n: int | None):
        self.n, self.before = n, None

    def __enter__(self):
        if self.n is not None and "torch" in sys.modules:
            import torch

            self.before = torch.get_num_threads()
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        if self.before is not None:
            import torch

            torch.set_num_threads(self.before)


WORKER_CHUNK_ITEMS = 32  # input items per message; worker k of n splits chunks k, k + n, k + 2n...


def segmentation_workers(unit: str, workers: int | None = None) -> int:
    """How many forked processes read and split documents while this one predicts and
    writes: none for ``--unit record`` or where ``fork`` is missing; else ``workers`` when
    given, else ``STANCEFRAME_SEGMENT_WORKERS``, else one on two or more usable cores with
    one of them idle (:func:`other_runnable_threads` at most cores - 2), none otherwise.
    One by default: on 2 cores a second worker made tfidf tagging slower
    (docs/performance.md); more can pay on machines with more cores, where splitting is the
    slower half."""
    import multiprocessing

    if unit != "document" or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    if workers is not None:
        return max(0, int(workers))
    env = os.environ.get("STANCEFRAME_SEGMENT_WORKERS", "").strip()
    if env.isdigit():
        return int(env)
    cores = usable_cores()
    # a worker only pays when a core is idle: on a busy machine both processes get a
    # fraction of a core and the extra pickling makes the run slower (measured: 11.4k vs
    # 9.0k sentences/s with tfidf at load average 2.5 on 2 cores); same bytes either way
    return 1 if cores >= 2 and other_runnable_threads() <= cores - 2 else 0


def other_runnable_threads(samples: int = 5, interval: float = 0.002) -> float:
    """How many threads of other work want a CPU now: the kernel's count of runnable
    threads (``/proc/loadavg``'s 4th field, which counts the thread reading it), median of a
    few samples 2 ms apart, minus this one. Instantaneous on purpose: the 1-minute load
    average also remembers this process's own recent work (a ``tag`` right after a fit or a
    previous ``tag`` saw a busy machine that was idle). Where ``/proc`` is missing: the
    1-minute load average."""
    counts = []
    for i in range(samples):
        try:
            with open("/proc/loadavg", encoding="ascii") as handle:
                counts.append(int(handle.read().split()[3].split("/")[0]))
        except (OSError, ValueError, IndexError):
            return os.getloadavg()[0]
        if i + 1 < samples:
            time.sleep(interval)
    counts.sort()
    return max(0, counts[len(counts) // 2] - 1)


def prepared_in_workers(tagger: Tagger, make_items, n_workers: int, first_item: int = 0) -> Iterator[tuple]:
    """``tagger._prepare(item)`` for each item of ``make_items()``, in order, computed in
    ``n_workers`` forked child processes (reading and sentence splitting) while this process
    predicts and writes. Items go by chunks of :data:`WORKER_CHUNK_ITEMS` (counted from the
    first input item, ``first_item`` being the index of the first one ``make_items`` gives):
    worker k splits chunks k, k + n, ... and this process reads the chunks from the workers'
    pipes in turn, so the order is the input's. Every worker goes through all the inputs
    but only reads the text files and splits the documents of its own chunks
    (``make_items(wanted)``). One pipe per worker, child to parent: when this process falls
    behind, a child blocks on a full pipe, so memory stays bounded; if this process dies a
    child's next write fails and it exits. The entries are exactly those of the in-process
    path, so windows, rows and ``--resume`` are unchanged."""
    import multiprocessing

    from stanceframe.corpus import sentence_tokenizer

    sentence_tokenizer()  # built once, inherited by the children
    ctx = multiprocessing.get_context("fork")
    procs, receivers = [], []
    try:
        for k in range(n_workers):
            receiver, sender = ctx.Pipe(duplex=False)
            _widen_pipe(sender)
            proc = ctx.Process(target=_segmentation_worker, daemon=True, name=f"stanceframe-segmentation-{k}",
                               args=(tagger, make_items, receivers + [receiver], sender, k, n_workers, first_item))
            proc.start()
            sender.close()
            procs.append(proc)
            receivers.append(receiver)
        chunk = first_item // WORKER_CHUNK_ITEMS
        while True:
            k = chunk % n_workers
            try:
                kind, payload = receivers[k].recv()
            except EOFError:
                procs[k].join(5)
                raise StanceframeError(f"tag: a segmentation worker stopped unexpectedly (exit code "
                                       f"{procs[k].exitcode}); STANCEFRAME_SEGMENT_WORKERS=0 splits in this "
                                       f"process") from None
            if kind == "entries":
                yield from payload
                chunk += 1
            elif kind == "error":
                raise RuntimeError(f"tag: a segmentation worker failed:\n{payload}")
            else:  # "done": worker k has no chunk `chunk`, so no chunk is left
                break
    finally:
        for receiver in receivers:
            receiver.close()
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(5)


WORKER_PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size


def _widen_pipe(connection, size: int = WORKER_PIPE_BYTES) -> None:
    """Let a worker run about a megabyte (a few windows) ahead instead of the default
    64 KiB, less than one message: with the default the worker blocked on a full pipe
    while this process predicted, then this process waited while the worker split the
    next message, so the two mostly took turns. Linux only; elsewhere the default stays."""
    try:
        import fcntl

        fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, size)
    except (ImportError, AttributeError, OSError):
        pass


def _segmentation_worker(tagger: Tagger, make_items, receivers, sender, k: int, n_workers: int,
                         first_item: int) -> None:
    import signal
    import traceback

    for receiver in receivers:  # the parent's ends (this worker's and the earlier workers')
        receiver.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _exit_with_parent()

    def mine(index: int) -> bool:
        return (index // WORKER_CHUNK_ITEMS) % n_workers == k

    try:
        batch, current = [], None
        for index, item in enumerate(make_items(mine), start=first_item):
            if not mine(index):
                continue
            chunk = index // WORKER_CHUNK_ITEMS
            if batch and chunk != current:
                sender.send(("entries", batch))
                batch = []
            current = chunk
            batch.append(tagger._prepare(item))
        if batch:
            sender.send(("entries", batch))
        sender.send(("done", None))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the parent has gone
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises it
        try:
            sender.send(("error", traceback.format_exc()))
        except OSError:
            pass
    finally:
        sender.close()


def _exit_with_parent() -> None:
    """Linux: SIGTERM this process when its parent dies (a child blocked reading stdin would
    otherwise outlive a killed ``tag``)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
