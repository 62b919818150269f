"""The articles to label: read and segmented by the project's own reader and segmenter
(``tagging.inputs.iter_documents`` + ``corpus.segment``), so sentence ids and spans are the ones
``train`` and ``tag`` use. A file that cannot be read is skipped with one line naming it
(and its line, for JSONL/CSV records), as ``tag`` does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from stanceframe.corpus import Document, Sentence, Skipped, segment
from stanceframe.errors import StanceframeError


@dataclass
class Project:
    sentences: list[Sentence]
    documents: list[str]  # doc ids, in input order
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_project(paths: Sequence[str], *, text_field: str = "text", id_field: str = "id") -> Project:
    """Every sentence of the articles named by ``paths`` (files, folders, globs), in order."""
    from stanceframe.tagging.inputs import iter_documents, resolve_inputs

    if any(str(p) == "-" for p in paths):
        raise StanceframeError("annotate reads files and folders, not standard input (-)")
    sentences, docs, skipped, warnings = [], [], [], []
    for item in iter_documents(resolve_inputs(list(paths)), text_field=text_field, id_field=id_field):
        if isinstance(item, Skipped):
            skipped.append(item)
            continue
        if not isinstance(item, Document):
            continue
        warnings += item.warnings
        found = segment(item)
        if not found:
            skipped.append(Skipped(item.source, item.line, "no sentences (empty or boilerplate only)"))
            continue
        if item.doc_id not in docs:
            docs.append(item.doc_id)
        sentences += found
    if not sentences:
        reasons = "; ".join(str(s) for s in skipped) or "no input"
        raise StanceframeError(f"nothing to annotate ({reasons})")
    return Project(sentences, docs, skipped, warnings)
