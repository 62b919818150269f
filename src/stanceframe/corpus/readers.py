"""Reading inputs into documents: which files are read (:func:`expand_inputs`), a .txt/.md
file as one document (large text files in parts), an .html page as one document
(:mod:`~stanceframe.corpus.web`), a JSONL/CSV file as one document per record
(:mod:`~stanceframe.corpus.record_files`), a WARC file as one document per page
(:mod:`~stanceframe.corpus.warc`), and standard input."""

from __future__ import annotations

import bisect
import codecs
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from stanceframe.corpus.decoding import BINARY_SNIFF_BYTES, FALLBACK_ENCODING, decode_bytes, not_utf8_warning
from stanceframe.corpus.ids import doc_id_for
from stanceframe.corpus.record_files import TABLE_SUFFIXES, record_file_documents, table_file_documents
from stanceframe.corpus.records import Document, Part, Skipped
from stanceframe.corpus.segmentation import BLANK_LINE, paragraph_spans
from stanceframe.corpus.sources import MAX_WHOLE_BYTES, READ_CHUNK_BYTES, open_input, source_name, stream_cut_reason
from stanceframe.corpus.warc import WARC_SUFFIXES, is_warc, warc_documents
from stanceframe.corpus.web import HTML_SUFFIXES, html_document
from stanceframe.errors import DataFileError

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".html", ".htm"}
RECORD_SUFFIXES = {".jsonl", ".ndjson", ".csv"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | RECORD_SUFFIXES | set(WARC_SUFFIXES)


def is_supported(path: str | Path) -> bool:
    """Whether a folder's file is read (by its suffix; ``.warc.gz`` has two)."""
    return str(path).lower().endswith(tuple(SUPPORTED_SUFFIXES))

# Linear time on any input: no rule's scan crosses the character that could start another
# match of it ([^\][] in links, [^*\n] in italics), so a page of unclosed markers ('*a ' *
# 20000, '[a' * 20000) costs one pass instead of one pass per marker.
_MD_RULES = [
    (re.compile(r"!\[[^\]\[\n]*\]\([^()\n]*\)"), ""),  # images
    (re.compile(r"\[([^\]\[\n]+)\]\([^()\n]*\)"), r"\1"),  # links → their text
    # [ \t], not \s: a marker must not swallow the blank line before it (merging paragraphs)
    (re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+", re.M), ""),  # headings
    (re.compile(r"^[ \t]{0,3}>[ \t]?", re.M), ""),  # block quotes
    (re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+", re.M), ""),  # list markers
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])"), r"\1"),  # italics
    (re.compile(r"`([^`]+)`"), r"\1"),  # inline code
]
_MD_FENCE_START = re.compile(r"^```", re.M)
_MD_FENCE_CLOSE = re.compile(r"```\s*$", re.M)


def _drop_code_blocks(md: str) -> str:
    """``md`` without its fenced code blocks: what ``re.sub(r"^```.*?^```\\s*$", "", md,
    flags=re.M | re.S)`` gives, in linear time (that pattern scans to the end of the text
    from every line opening a fence that is never closed: quadratic)."""
    starts = [m.start() for m in _MD_FENCE_START.finditer(md)]
    closes = [(s, m.end()) for s in starts if (m := _MD_FENCE_CLOSE.match(md, s))]
    close_at = [s for s, _ in closes]
    kept, pos = [], 0
    for start in starts:
        if start < pos:
            continue  # inside a block already dropped
        i = bisect.bisect_right(close_at, start)
        if i == len(close_at):
            break  # no fence closes after this line: nothing after it is a block either
        kept.append(md[pos:start])
        pos = closes[i][1]
    kept.append(md[pos:])
    return "".join(kept)


def markdown_to_text(md: str) -> str:
    """Markdown with its markup removed (code blocks dropped), line structure kept."""
    text = _drop_code_blocks(md)
    for pattern, repl in _MD_RULES:
        text = pattern.sub(repl, text)
    return text


PART_BYTES = 1 << 20  # a .txt file larger than this is read and tagged in parts of at most this many characters
PART_SUFFIXES = {".txt", ".text"}  # HTML and Markdown need the whole page to be parsed


def single_item(path: Path) -> bool:
    """Whether ``path`` gives exactly one item: a regular text file not read in parts (not
    records, not a web archive's pages)."""
    if Path(path).suffix.lower() in RECORD_SUFFIXES | TABLE_SUFFIXES or is_warc(path):
        return False
    try:
        return stat.S_ISREG(os.stat(path).st_mode) and not is_large_text(path)
    except OSError:
        return True  # unreadable: one skip


def is_large_text(path: Path) -> bool:
    """Whether ``path`` is a text file read in parts (:func:`text_parts`)."""
    if Path(path).suffix.lower() not in PART_SUFFIXES:
        return False
    try:
        return os.stat(path).st_size > PART_BYTES
    except OSError:
        return False


def text_parts(path: Path, doc_id: str) -> Iterator[Document | Skipped]:
    """A text file larger than :data:`PART_BYTES` as documents of at most that many
    characters, read in chunks, so memory stays bounded however large the file. A part ends
    at a paragraph break where there is one (then its sentences are exactly those of the
    whole text: same ids, same spans); a paragraph longer than a part is cut at its last
    space or line break before the limit and goes on as a new paragraph. The file is read
    once before to choose the encoding (UTF-8, else cp1252 with a warning, as for small
    files) and the paragraph rule."""
    source = source_name(path)
    scan = _scan_text_file(path)
    if scan.skip:
        yield Skipped(source, None, scan.skip)
        return
    encoding, errors = ("utf-8-sig", "strict") if scan.warning is None else (FALLBACK_ENCODING, "replace")
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    warnings = [scan.warning] if scan.warning else []
    buf, offset, paragraphs, index = "", 0, 0, 0
    with open_input(path) as handle:
        while True:
            chunk = handle.read(READ_CHUNK_BYTES)
            buf += decoder.decode(chunk, final=not chunk)
            while len(buf) > PART_BYTES or (not chunk and buf):
                cut, after = _part_cut(buf, scan.blank_lines) if len(buf) > PART_BYTES else (len(buf), len(buf))
                text = buf[:cut]
                if text.strip():
                    yield Document(doc_id, text, source, None, {}, list(warnings),
                                   Part(index, offset, paragraphs, scan.blank_lines))
                    index += 1
                paragraphs += len(paragraph_spans(text, scan.blank_lines))
                offset += after
                buf = buf[after:]
            if not chunk:
                break
    if index == 0:
        yield Skipped(source, None, "empty file (no text)")


def _part_cut(buf: str, blank_lines: bool, limit: int = PART_BYTES) -> tuple[int, int]:
    """(end of this part, start of the next) in ``buf``: after the last paragraph break
    before ``limit`` (a blank-line separator, or a line break when paragraphs are lines),
    else at the last space or line break in the second half, else at ``limit``."""
    if blank_lines:
        last = None
        for last in BLANK_LINE.finditer(buf, 0, limit):  # noqa: B007 (the last match is what we want)
            pass
        if last is not None:
            return last.start(), last.end()
    else:
        newline = buf.rfind("\n", 0, limit)
        if newline > 0:
            return newline, newline + 1
    space = max(buf.rfind(" ", limit // 2, limit), buf.rfind("\n", limit // 2, limit))
    cut = space if space > 0 else limit
    return cut, cut


@dataclass
class _TextScan:
    blank_lines: bool = False
    warning: str | None = None
    skip: str | None = None


def _scan_text_file(path: Path) -> _TextScan:
    """One pass over a large text file in chunks: binary (NUL bytes at the start)? valid
    UTF-8 (else the warning :func:`decode_bytes` gives)? any blank line (the paragraph rule)?"""
    scan = _TextScan()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    carry, consumed = b"", 0
    with open_input(path) as handle:
        while True:
            chunk = handle.read(READ_CHUNK_BYTES)
            if consumed == 0 and b"\x00" in chunk[:BINARY_SNIFF_BYTES]:
                scan.skip = "binary file (NUL bytes), not text"
                return scan
            if scan.warning is None:
                try:
                    decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as exc:
                    pending = len(decoder.getstate()[0])
                    scan.warning = not_utf8_warning(source_name(path), consumed - pending + exc.start)
            if not scan.blank_lines:
                window = carry + chunk
                scan.blank_lines = _BLANK_LINE_BYTES.search(window) is not None
                last = window.rfind(b"\n")
                carry = window[last:] if last >= 0 and not window[last + 1:].strip(b" \t\r\f\v") else b""
            consumed += len(chunk)
            if not chunk or (scan.blank_lines and scan.warning is not None):
                return scan


_BLANK_LINE_BYTES = re.compile(rb"\n[ \t\r\f\v]*\n")


def _text_document(path: Path, data: bytes, doc_id: str, source: str | None = None) -> Document | Skipped:
    source = source or source_name(path)
    suffix = path.suffix.lower()
    if suffix in HTML_SUFFIXES and data.strip():
        return html_document(data, source, doc_id)
    text, warnings, skip = decode_bytes(data, source)
    if skip:
        return Skipped(source, None, skip)
    if suffix in {".md", ".markdown"}:
        text = markdown_to_text(text)
    if not text.strip():
        return Skipped(source, None, "empty file (no text)")
    return Document(doc_id, text, source, None, {}, warnings)


def read_path(
    path: str | Path,
    *,
    text_field: str = "text",
    id_field: str = "id",
    root: Path | None = None,
    doc_id: str | None = None,
    whole: bool = False,
    wanted=None,
) -> Iterator[Document | Skipped]:
    """Documents of one file: one for a text file (its id ``doc_id``, default
    :func:`doc_id_for`; a large ``.txt`` in parts unless ``whole``), one per record for
    JSONL/CSV/Parquet (a record without an id gets ``<doc_id>-<line>``), one per page for a
    WARC file (its target URI; ``wanted``: see :func:`~stanceframe.corpus.warc.warc_documents`,
    whose other items it also gives). Every other file is opened through
    :func:`~stanceframe.corpus.sources.open_input`: a pipe or a device is read up to a bound,
    never whole."""
    path = Path(path)
    source = source_name(path)
    suffix = path.suffix.lower()
    if is_warc(path):
        try:
            yield from warc_documents(path, wanted=wanted, stem=doc_id)
        except OSError as exc:
            yield Skipped(source, None, f"cannot read: {exc.strerror or exc}")
        return
    try:
        if suffix in TABLE_SUFFIXES:
            yield from table_file_documents(path, text_field, id_field, stem=doc_id)
            return
        with open_input(path) as handle:
            if suffix in RECORD_SUFFIXES:
                yield from record_file_documents(path, text_field, id_field, handle, stem=doc_id)
                if handle.cut:
                    yield Skipped(source, None, stream_cut_reason(records=True))
            elif not handle.regular:
                yield from stream_text(handle, source, doc_id or doc_id_for(path, root), suffix=suffix)
            elif not whole and is_large_text(path):
                yield from text_parts(path, doc_id or doc_id_for(path, root))
            else:
                data = handle.read(MAX_WHOLE_BYTES + 1)
                if len(data) > MAX_WHOLE_BYTES:
                    why = "tag it with stanceframe tag (read in parts)" if whole else "HTML and Markdown are parsed whole"
                    yield Skipped(source, None, f"larger than {MAX_WHOLE_BYTES >> 20} MiB ({why}), not read")
                    return
                document = _text_document(path, data, doc_id or doc_id_for(path, root), source)
                del data  # not kept while the document is tagged
                yield document
    except OSError as exc:
        yield Skipped(source, None, f"cannot read: {exc.strerror or exc}")


def stream_text(stream, source: str, doc_id: str, *, head: bytes = b"", suffix: str = ".txt"
                ) -> Iterator[Document | Skipped]:
    """A text of unknown size (a pipe, a device, standard input) as one text: in memory up
    to :data:`PART_BYTES` (HTML and Markdown parsed), else spooled to a temporary file and
    read in parts like a large ``.txt`` file, or skipped when it goes on beyond the stream
    bound (``/dev/zero``, a FIFO fed by ``yes``): nothing of it is tagged then."""
    head += stream.read(PART_BYTES + 1 - len(head))
    if len(head) <= PART_BYTES or b"\x00" in head[:BINARY_SNIFF_BYTES]:
        yield _text_document(Path(f"{doc_id}{suffix}"), head, doc_id, source)
        return
    import shutil
    import tempfile

    with tempfile.NamedTemporaryFile(prefix="stanceframe-stdin-", suffix=".txt") as spool:
        spool.write(head)
        shutil.copyfileobj(stream, spool, READ_CHUNK_BYTES)
        spool.flush()
        if getattr(stream, "cut", False):
            yield Skipped(source, None, stream_cut_reason())
            return
        for item in text_parts(Path(spool.name), doc_id):
            item.source = source  # where it came from, not the spool
            if isinstance(item, Document):
                item.warnings = [w.replace(spool.name, source) for w in item.warnings]
            yield item


def read_stdin(
    *, text_field: str = "text", id_field: str = "id", stream=None, fmt: str = "txt"
) -> Iterator[Document | Skipped]:
    """Documents from standard input: plain text (one document) or JSONL records."""
    stream = stream if stream is not None else sys.stdin.buffer
    if fmt == "jsonl":
        yield from record_file_documents(Path("stdin.jsonl"), text_field, id_field, stream)
        return
    data = stream.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    yield _text_document(Path("stdin.txt"), data, "stdin")


def expand_inputs(paths: Iterable[str]) -> Iterator[tuple[Path, Path | None] | Skipped]:
    """Files named by paths, folders (recursive, supported suffixes) and globs, sorted and
    de-duplicated; each with the root it was found under (for doc ids)."""

    seen = set()
    for raw in paths:
        if raw == "-":
            yield (Path("-"), None)
            continue
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and is_supported(f.name))
            if not found:
                yield Skipped(raw, None, f"folder holds no {'/'.join(sorted(SUPPORTED_SUFFIXES))} files")
                continue
            items = [(f, p) for f in found]
        elif p.exists():
            items = [(p, None)]
        else:
            matches = [m for m in glob_files(raw) if m.is_file()]
            if not matches:
                yield Skipped(raw, None, "no such file, folder or glob match")
                continue
            # matches in several folders get ids relative to their common folder (a__index, b__index)
            parents = {m.parent for m in matches}
            root = Path(os.path.commonpath([str(m) for m in parents])) if len(parents) > 1 else None
            items = [(m, root) for m in matches]
        for f, root in items:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                yield (f, root)


def glob_files(pattern: str) -> list[Path]:
    """The paths a glob names, sorted. ``**`` does not follow symbolic links to folders
    (as a folder input does not): two links back to their own folder (``d/l1 -> .``,
    ``d/l2 -> .``) would make the glob module's walk never end. Names starting with a dot
    match only a pattern that starts them with one, as in the shell."""
    import glob

    if "**" not in pattern:
        return [Path(m) for m in sorted(glob.glob(pattern))]
    parts = Path(pattern).parts
    fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    base = Path(*parts[:fixed]) if fixed else Path(".")
    rest = Path(*parts[fixed:]).as_posix()
    if parts[-1] == "**":  # pathlib's ** names folders only; the glob module's names files too
        rest += "/*"
    hidden_ok = [part.startswith(".") for part in parts[fixed:]]
    found = []
    for match in base.glob(rest):
        below = match.relative_to(base).parts
        if any(name.startswith(".") for name in below) and not any(hidden_ok):
            continue
        found.append(match)
    return sorted(found)


def read_documents_strict(path: str | Path, **kwargs) -> list[Document]:
    """All documents of a file, raising :class:`DataFileError` on the first unreadable one."""
    docs = []
    for item in read_path(path, **kwargs):
        if isinstance(item, Skipped):
            raise DataFileError(item.source, item.line, item.reason)
        if isinstance(item, Document):  # not a WARC record that is not a page
            docs.append(item)
    return docs
