"""Reading a labelled set from a Hugging Face dataset: ``hf:FOLDER[#split]`` (saved with
``datasets.save_to_disk``) or ``hf:NAME[#split]`` (the hub, when online). ``datasets`` is
imported only when such a source is read."""

from __future__ import annotations

import os
from pathlib import Path

from stanceframe.errors import DataFileError

HF_PREFIX = "hf:"  # --data hf:FOLDER[#split] (datasets.save_to_disk) or hf:hub/name[#split] (online)


def is_hf_spec(source) -> bool:
    return isinstance(source, str) and source.startswith(HF_PREFIX)


def _hub_offline() -> bool:
    return any(os.environ.get(v, "").lower() in {"1", "true", "yes", "on"}
               for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def _one_line(exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__


def load_hf_dataset(spec: str):
    """The ``datasets.Dataset`` named by ``hf:FOLDER[#split]`` (``datasets.load_from_disk``;
    a DatasetDict gives its ``split``, default ``train``) or, when the folder does not
    exist and the hub is reachable, ``hf:NAME[#split]`` (``datasets.load_dataset``).
    Offline or unreadable: a :class:`DataFileError`, one line."""
    import datasets

    ref, _, split = spec[len(HF_PREFIX):].partition("#")
    if not ref:
        raise DataFileError(spec, None, "expected hf:FOLDER or hf:NAME (optionally #split)")
    folder = Path(ref).expanduser()
    if folder.exists():
        try:
            ds = datasets.load_from_disk(str(folder))
        except Exception as exc:  # noqa: BLE001 - one line naming the folder
            raise DataFileError(spec, None, f"not a dataset saved with save_to_disk ({_one_line(exc)})") from None
        if isinstance(ds, datasets.DatasetDict):
            split = split or "train"
            if split not in ds:
                raise DataFileError(spec, None, f"no split {split!r}; the DatasetDict has: {', '.join(ds)}")
            ds = ds[split]
        elif split:
            raise DataFileError(spec, None, f"a single Dataset has no splits; drop '#{split}'")
        return ds
    if _hub_offline():
        raise DataFileError(spec, None, "no such folder, and the Hugging Face hub is offline (HF_HUB_OFFLINE / "
                                        "HF_DATASETS_OFFLINE): save the dataset with save_to_disk and pass hf:FOLDER")
    try:
        return datasets.load_dataset(ref, split=split or "train")
    except Exception as exc:  # noqa: BLE001 - no network, unknown name, no such split: one line
        raise DataFileError(spec, None, f"no such folder, and the hub could not provide {ref!r} ({_one_line(exc)})") from None


def hf_records(spec: str):
    """(row number from 1, record, None) for each row; ClassLabel columns give label names."""
    import datasets

    ds = load_hf_dataset(spec)
    names = {col: feature.int2str for col, feature in ds.features.items() if isinstance(feature, datasets.ClassLabel)}
    for i, row in enumerate(ds, start=1):
        for col, int2str in names.items():
            value = row.get(col)
            if isinstance(value, int) and value >= 0:
                row[col] = int2str(value)
        yield i, row, None, None

