"""Document ids: safe in file names and sentence ids, stable across machines and runs, and
unique within a run (an id seen before gets the hash of its file's name)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

ID_HASH_CHARS = 8  # hex digits of the name's hash appended to an id whose safe form changed or collides
_UNSAFE_ID_CHARS = re.compile(r"[^\w.-]+")  # \w: Unicode letters and digits are kept


def name_hash(name: str) -> str:
    """A short stable hash of a file name (the same name gives the same hash on any machine)."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:ID_HASH_CHARS]


def safe_id(value: str) -> str:
    """A doc id safe in file names and sentence ids: ``value`` itself when it is already
    safe (letters of any script, digits, ``_ . -``; not starting or ending with ``-``),
    else its safe form plus ``-`` and :func:`name_hash` of ``value``, so that ``a b`` and
    ``a-b`` stay apart and a name made only of other characters still gets its own id."""
    safe = _UNSAFE_ID_CHARS.sub("-", unicodedata.normalize("NFC", value)).strip("-")
    if safe == value and safe:
        return safe
    return f"{safe or 'doc'}-{name_hash(value)}"


def doc_id_for(path: Path, root: Path | None = None) -> str:
    """``stem`` of the file, or its path below ``root`` without suffix (``a/b.txt`` → ``a__b``)."""
    if root is not None and root != path:
        try:
            rel = path.relative_to(root).with_suffix("")
            return safe_id("__".join(rel.parts))
        except ValueError:
            pass
    return safe_id(path.stem)


class UniqueIds:
    """Doc ids of one run kept unique: an id seen before gets ``-`` and the hash of its
    file's name (its path below the folder it was found in), the same on every run of the
    same inputs."""

    def __init__(self):
        self.seen: set[str] = set()

    def __call__(self, doc_id: str, name: str) -> str:
        if doc_id in self.seen:
            doc_id = f"{doc_id}-{name_hash(name)}"
            while doc_id in self.seen:  # the hashed form itself taken: hash again
                doc_id = f"{doc_id}-{name_hash(doc_id)}"
        self.seen.add(doc_id)
        return doc_id


def id_name(path: Path, root: Path | None = None) -> str:
    """The name a collision hash is taken of: the path below ``root``, else the file name."""
    if root is not None and root != path:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return path.name
