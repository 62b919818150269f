"""The corpus: reading inputs into documents and splitting documents into sentences with
stable ids, the same way for labelling, training and tagging. One module a job:

- ``records``: the record types (``Document``, ``Part``, ``Sentence``, ``Skipped``, ``PassedOver``,
  ``RecordLine``);
- ``readers``: which files an input names, and .txt/.md/.html files, JSONL/CSV files and
  standard input read into documents (large text files in parts);
- ``web``: an HTML page's main text and metadata (trafilatura), decoded by its declared charset;
- ``warc``: web archives (WARC, WARC.gz) streamed record by record, each HTML page a document;
- ``record_files``: JSONL/CSV lines read with bounded memory, parsed and checked, each record a document;
- ``sources``: opening an input, the one bounded reader of files, pipes, devices and standard input;
- ``decoding``: bytes to text (UTF-8, else cp1252 with a warning; binary refused);
- ``ids``: document ids, safe, stable and unique within a run;
- ``segmentation``: paragraphs and sentences of a document, stable sentence ids and spans;
- ``boilerplate``: which lines are page furniture, not article text;
- ``punkt``: the fast Punkt sentence splitter and the one builder of its parameters.

The names other modules use are importable from here.
"""

from stanceframe.corpus.boilerplate import is_boilerplate
from stanceframe.corpus.decoding import BINARY_SNIFF_BYTES
from stanceframe.corpus.ids import UniqueIds, doc_id_for, id_name
from stanceframe.corpus.punkt import sentence_tokenizer
from stanceframe.corpus.readers import (
    PART_BYTES,
    READ_CHUNK_BYTES,
    RECORD_SUFFIXES,
    SUPPORTED_SUFFIXES,
    TEXT_SUFFIXES,
    expand_inputs,
    is_large_text,
    is_supported,
    read_documents_strict,
    read_path,
    read_stdin,
    single_item,
    stream_text,
    text_parts,
)
from stanceframe.corpus.record_files import TABLE_SUFFIXES, bounded_lines, iter_records, lone_surrogate, record_document
from stanceframe.corpus.records import Document, Part, PassedOver, RecordLine, Sentence, Skipped
from stanceframe.corpus.segmentation import MAX_SENTENCE_CHARS, segment
from stanceframe.corpus.sources import bounded_stream, open_input, source_name
from stanceframe.corpus.warc import WARC_SUFFIXES, is_warc

__all__ = [
    "BINARY_SNIFF_BYTES", "MAX_SENTENCE_CHARS", "PART_BYTES", "READ_CHUNK_BYTES", "RECORD_SUFFIXES",
    "SUPPORTED_SUFFIXES", "TABLE_SUFFIXES", "TEXT_SUFFIXES", "WARC_SUFFIXES", "Document", "Part", "PassedOver",
    "RecordLine", "Sentence", "Skipped", "UniqueIds", "bounded_lines", "bounded_stream", "doc_id_for", "expand_inputs",
    "id_name", "is_boilerplate", "is_large_text", "is_supported", "is_warc", "iter_records", "lone_surrogate",
    "open_input", "read_documents_strict", "read_path", "read_stdin", "record_document", "segment",
    "sentence_tokenizer", "single_item", "source_name", "stream_text", "text_parts",
]
