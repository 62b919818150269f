"""Record types: a :class:`Document` to segment (and the :class:`Part` of a large file it
may be), a :class:`Sentence` with its id and span, a :class:`Skipped` input and why, a
:class:`PassedOver` WARC record (not a page), and a :class:`RecordLine` of a JSONL/CSV file."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import NamedTuple


@dataclass
class Document:
    """One unit of text to segment: a file, or one record of a JSONL/CSV file."""

    doc_id: str
    text: str
    source: str = ""
    line: int | None = None  # the record's line in ``source`` (JSONL/CSV)
    meta: dict = field(default_factory=dict)  # other fields of a record (target, date...)
    warnings: list[str] = field(default_factory=list)
    part: Part | None = None  # where this text sits in a large file read in parts


@dataclass(frozen=True)
class Part:
    """A part of a text file larger than :data:`~stanceframe.corpus.readers.PART_BYTES`,
    read and tagged on its own so that memory does not grow with the file: ``offset``
    characters and ``paragraphs`` non-empty paragraphs of the document come before it, and
    ``blank_lines`` is the whole document's paragraph rule (see
    :func:`~stanceframe.corpus.segmentation.paragraph_spans`), so its sentences get the ids
    and spans they have in the whole document."""

    index: int
    offset: int
    paragraphs: int
    blank_lines: bool


@dataclass
class Skipped:
    """An input that could not be read; ``reason`` is one line for the user."""

    source: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {self.reason}"


@dataclass
class PassedOver:
    """A record of a web archive that is not an article page (not HTML, an HTTP status other
    than 200, a revisit without payload): not tagged and not an error, only counted by
    ``reason`` (a short kind, e.g. ``not HTML``) in the run's summary."""

    source: str
    reason: str


@dataclass
class Sentence:
    """One sentence of a document: its stable id, its place (1-based paragraph and sentence
    numbers, character span in the document's text) and its whitespace-folded text."""

    id: str
    doc_id: str
    paragraph: int
    sentence: int
    start: int
    end: int
    text: str

    def to_dict(self) -> dict:
        return asdict(self)

    def __reduce__(self):
        # positional fields: fewer bytes and faster unpickling than a dataclass's default (a
        # state dict per object); tag's segmentation worker sends sentences by pipe
        return (Sentence, (self.id, self.doc_id, self.paragraph, self.sentence, self.start, self.end, self.text))


class RecordLine(NamedTuple):
    """One data line of a JSONL/CSV file: its record, or why it is unreadable, and a
    warning (bytes that are not UTF-8, decoded with the fallback)."""

    line: int
    record: dict | None
    error: str | None
    warning: str | None = None
