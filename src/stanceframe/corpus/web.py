"""Web pages into documents: an HTML page's main text and its metadata (title, site name,
author, publication date, canonical URL) extracted with trafilatura (dates by htmldate),
the page's bytes decoded by its declared charset. trafilatura is imported here only, when a
page is read, so that tagging plain text does not load it."""

from __future__ import annotations

import codecs
import logging
import re
from functools import lru_cache

from stanceframe.corpus.decoding import BINARY_SNIFF_BYTES, decode_bytes
from stanceframe.corpus.records import Document, Skipped

HTML_SUFFIXES = (".html", ".htm")
# what a page's metadata is called in Document.meta (and so in tag's rows, see tagging/rows.py)
PAGE_FIELDS = ("url", "outlet", "date", "title", "author")
_DOCUMENT_TAG = re.compile(r"<\s*(?:html|body)[\s>/]", re.I)

for _name in ("trafilatura", "htmldate", "courlan", "justext"):  # their notes are not the user's: no stderr lines
    logging.getLogger(_name).addHandler(logging.NullHandler())


@lru_cache(maxsize=1)
def _extraction_config():
    """trafilatura's settings with two changes: every extraction of the main extractor is kept
    (its default rescues a text shorter than 250 characters with a whole-page baseline, which
    brings navigation back on short articles), and no extensive date search (which guesses a
    date from any year on the page, such as a footer's copyright)."""
    from trafilatura.settings import use_config

    config = use_config()
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "1")
    config.set("DEFAULT", "EXTENSIVE_DATE_SEARCH", "off")
    return config


def page_text_and_meta(html: str, url: str | None = None) -> tuple[str, dict]:
    """(main text, metadata) of an HTML page: one paragraph per line (no navigation, captions,
    comments, tables or link lists), and ``url`` (canonical URL, else ``url``), ``outlet``
    (site name, else host name), ``date`` (publication date, ``YYYY-MM-DD``), ``title`` and
    ``author``, each left out when the page does not say."""
    from trafilatura import bare_extraction

    if not _DOCUMENT_TAG.search(html[:65536]):  # a fragment (<p>...</p>, bare text): as a page's body
        html = f"<html><body>{html}</body></html>"
    extracted = bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, include_tables=False,
        include_images=False, favor_precision=True, config=_extraction_config(),
        date_extraction_params={"extensive_search": False, "original_date": True, "outputformat": "%Y-%m-%d"},
    )
    if extracted is None:
        return "", {"url": url} if url else {}
    meta = {
        "url": extracted.url or url,
        "outlet": extracted.sitename or extracted.hostname,
        "date": extracted.date,
        "title": extracted.title,
        "author": extracted.author,
    }
    return extracted.text or "", {key: value for key, value in meta.items() if value}


def declared_charset(data: bytes, content_type: str | None = None) -> str | None:
    """The page's character encoding as its HTTP ``Content-Type`` or its ``<meta>`` declares
    it (normalised Python codec name); ``None`` when undeclared, unknown or UTF-8."""
    names = []
    if content_type and "charset=" in content_type.lower():
        names.append(content_type.lower().split("charset=", 1)[1].split(";")[0].strip().strip("\"'"))
    if not names:
        from bs4.dammit import EncodingDetector

        names.append(EncodingDetector.find_declared_encoding(data[:4096], is_html=True, search_entire_document=False))
    for name in names:
        try:
            codec = codecs.lookup(name).name if name else None
        except LookupError:
            continue
        if codec and codec not in ("utf-8", "utf-8-sig", "ascii"):
            return codec
    return None


def decode_page(data: bytes, where: str, content_type: str | None = None) -> tuple[str | None, list[str], str | None]:
    """(text, warnings, skip reason) of a page's bytes: its declared charset when it has one
    (bytes that do not fit are replaced, with a warning), else UTF-8 with the cp1252 fallback
    of every other text input (:func:`~stanceframe.corpus.decoding.decode_bytes`); binary
    data refused either way."""
    charset = declared_charset(data, content_type)
    if charset is None or charset.startswith("utf-16"):
        return decode_bytes(data, where)
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return None, [], "binary file (NUL bytes), not text"
    try:
        return data.decode(charset), [], None
    except UnicodeDecodeError as exc:
        warning = f"{where}: not valid {charset} (byte {exc.start}), the page's declared charset; bad bytes replaced"
        return data.decode(charset, errors="replace"), [warning], None


def html_document(data: bytes, source: str, doc_id: str, *, url: str | None = None,
                  content_type: str | None = None, meta: dict | None = None) -> Document | Skipped:
    """A page as a document: its main text, its metadata in ``meta`` (:data:`PAGE_FIELDS`,
    over the given ``meta``), or why it is skipped. ``url``: where the page was fetched from
    (a WARC record's target URI), which then ends its warnings and skip reasons (``(URL)``,
    so that the summary counts a reason across pages)."""
    html, warnings, skip = decode_page(data, source, content_type)
    if skip is None:
        text, page_meta = page_text_and_meta(html, url)
        if text.strip():
            warnings = [in_page(w, url) for w in warnings]
            return Document(doc_id, text, source, None, {**(meta or {}), **page_meta}, warnings)
        skip = "no article text in the page"
    return Skipped(source, None, in_page(skip, url))


def in_page(message: str, url: str | None) -> str:
    """A message about one page of a file (a WARC record), ending with its URL."""
    return f"{message} ({url})" if url else message
