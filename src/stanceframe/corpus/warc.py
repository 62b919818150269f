"""Web archives (WARC, WARC.gz) into documents, streamed record by record with warcio so
that memory stays bounded however large the file: every HTML page with HTTP status 200 (a
``response`` record, or a ``resource`` record) is one document through
:mod:`~stanceframe.corpus.web`, its target URI the doc id; other responses (not HTML, another
status) and revisits are :class:`PassedOver`; requests, metadata and warcinfo records are not
items at all. warcio is imported here only, when an archive is read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from stanceframe.corpus.records import Document, PassedOver, Skipped
from stanceframe.corpus.web import html_document, in_page

WARC_SUFFIXES = (".warc", ".warc.gz")
MAX_PAGE_BYTES = 16 << 20  # a page's payload longer than this is skipped, not read whole
HTML_TYPES = ("text/html", "application/xhtml+xml")
PAGE_RECORDS = ("response", "resource")


def is_warc(path: str | Path) -> bool:
    """Whether ``path`` names a web archive (by its suffix)."""
    return str(path).lower().endswith(WARC_SUFFIXES)


def warc_documents(path: str | Path, *, wanted: Callable[[int], bool] | None = None,
                   stem: str | None = None) -> Iterator[Document | Skipped | PassedOver | None]:
    """One item per page-like record of the archive at ``path``, in file order: a
    :class:`Document` (an HTML page with status 200), a :class:`PassedOver` record (not HTML,
    another status, a revisit) or a :class:`Skipped` one (unreadable, too large, no text).
    ``wanted(k)``: whether the k-th item (0-based) is needed; a page that is not is yielded as
    ``None``, unread and not extracted. A record without a target URI gets ``<stem>-<n>``."""
    from warcio.archiveiterator import ArchiveIterator

    source = str(path)
    stem = stem or Path(path).name.split(".")[0]
    k, records = 0, 0
    with open(path, "rb") as handle:
        iterator = iter(ArchiveIterator(handle))
        while True:
            try:
                record = next(iterator)
            except StopIteration:
                break
            except Exception as exc:  # noqa: BLE001 - on bytes that are not WARC, warcio fails in many ways
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                reason = (f"not a readable WARC file ({first})" if records == 0 else
                          f"unreadable after record {records} ({first}); the records before it were read")
                yield Skipped(source, None, reason)
                return
            records += 1
            item = _record_item(record, source, f"{stem}-{records}", wanted is None or wanted(k))
            if item is False:
                continue  # not a page-like record: no item
            k += 1
            yield item
    if k == 0:
        yield Skipped(source, None, "no response or resource records (no pages)")


def _record_item(record, source: str, fallback_id: str, wanted: bool):
    """The item of one record: ``False`` when it is not page-like (request, metadata...)."""
    kind = record.rec_type
    if kind == "revisit":
        return PassedOver(source, "revisit record (no payload)")
    if kind not in PAGE_RECORDS:
        return False
    headers = record.rec_headers
    uri = headers.get_header("WARC-Target-URI") or None
    if kind == "response" and record.http_headers is None:
        return PassedOver(source, "not HTTP")  # dns: and other non-HTTP responses
    status = record.http_headers.get_statuscode() if kind == "response" else "200"
    if status != "200":
        return PassedOver(source, f"HTTP status {status}")
    content_type = (record.http_headers.get_header("Content-Type") if kind == "response"
                    else headers.get_header("Content-Type")) or ""
    if content_type and content_type.split(";")[0].strip().lower() not in HTML_TYPES:
        return PassedOver(source, "not HTML")
    if not wanted:
        return None
    name = uri or fallback_id
    try:
        data = record.content_stream().read(MAX_PAGE_BYTES + 1)
    except Exception as exc:  # noqa: BLE001 - a payload that does not decompress is this record's skip
        return Skipped(source, None, in_page(f"unreadable payload ({type(exc).__name__}: {exc})", name))
    if len(data) > MAX_PAGE_BYTES:
        return Skipped(source, None, in_page(f"page larger than {MAX_PAGE_BYTES >> 20} MiB", name))
    if not content_type and not _looks_like_html(data):
        return PassedOver(source, "not HTML")
    meta = {"crawl_date": headers.get_header("WARC-Date")}
    doc = html_document(data, source, name, url=uri, content_type=content_type, meta=meta)
    truncated = headers.get_header("WARC-Truncated")
    if truncated and isinstance(doc, Document):
        doc.warnings.append(in_page(f"{source}: truncated by the crawler ({truncated}), its text may be cut short",
                                    name))
    return doc


def _looks_like_html(data: bytes) -> bool:
    """A payload without a content type that starts as an HTML document does."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--"))
