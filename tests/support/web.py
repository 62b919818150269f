"""Web inputs for the tests: news pages written as a site would serve them (navigation,
captions, related stories, a footer around the article; metadata in the head), and small web
archives written with warcio from such pages."""

from __future__ import annotations

import html
import io
from pathlib import Path

FURNITURE = ("Home", "World", "Subscribe to our newsletter", "Photo: the ministry building",
             "Related stories", "Markets rally on trade news")


def news_page(paragraphs: list[str], *, title: str = "Seoul weighs arms", site: str | None = "The Korea Daily",
              author: str | None = "Kim Min-ji", date: str | None = "2024-03-05",
              canonical: str | None = "https://news.example.com/world/seoul-arms", charset: str = "utf-8") -> str:
    """An article page: the article's paragraphs amid the page furniture of :data:`FURNITURE`."""
    head = [f'<meta charset="{charset}">', f"<title>{html.escape(title)} | {html.escape(site or 'News')}</title>"]
    if site:
        head.append(f'<meta property="og:site_name" content="{html.escape(site)}">')
    if author:
        head.append(f'<meta name="author" content="{html.escape(author)}">')
    if date:
        head.append(f'<meta property="article:published_time" content="{date}T08:30:00+09:00">')
    if canonical:
        head.append(f'<link rel="canonical" href="{canonical}">')
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html><head>{''.join(head)}</head><body>"
        "<header><nav><ul><li><a href='/'>Home</a></li><li><a href='/world'>World</a></li></ul></nav></header>"
        f"<main><article><h1>{html.escape(title)}</h1>{body}"
        "<figure><img src='/m.jpg' alt=''><figcaption>Photo: the ministry building</figcaption></figure></article>"
        "<aside><h2>Related stories</h2><ul><li><a href='/markets'>Markets rally on trade news</a></li></ul></aside>"
        "</main><footer><p>Subscribe to our newsletter</p><p>&copy; 2021 The Korea Daily</p></footer></body></html>"
    )


def http_response(status: str, content_type: str, payload: bytes, extra: list[tuple[str, str]] = ()):
    from warcio.statusandheaders import StatusAndHeaders

    return StatusAndHeaders(status, [("Content-Type", content_type), *extra], protocol="HTTP/1.1")


def write_warc(path: Path, records: list[dict], gz: bool | None = None) -> Path:
    """A web archive at ``path`` (gzipped per record when its name ends in .gz): a warcinfo
    record, then for each record dict a request and a response: ``uri``, ``payload`` (bytes
    or str), ``status`` (default ``200 OK``), ``type`` (default ``text/html; charset=utf-8``),
    ``kind`` (``response``, ``resource`` or ``revisit``), ``warc_headers`` (extra)."""
    from warcio.warcwriter import WARCWriter

    gz = str(path).endswith(".gz") if gz is None else gz
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=gz)
        writer.write_record(writer.create_warcinfo_record(Path(path).name, {"software": "stanceframe tests"}))
        for rec in records:
            uri, kind = rec["uri"], rec.get("kind", "response")
            payload = rec.get("payload", b"")
            payload = payload.encode("utf-8") if isinstance(payload, str) else payload
            content_type = rec.get("type", "text/html; charset=utf-8")
            headers = rec.get("warc_headers", {})
            if kind == "response":
                request = writer.create_warc_record(uri, "request", payload=io.BytesIO(b"GET / HTTP/1.1\r\n\r\n"),
                                                    warc_content_type="application/http; msgtype=request")
                writer.write_record(request)
                http = http_response(rec.get("status", "200 OK"), content_type, payload)
                record = writer.create_warc_record(uri, "response", payload=io.BytesIO(payload), http_headers=http,
                                                   warc_headers_dict=headers)
            elif kind == "resource":
                record = writer.create_warc_record(uri, "resource", payload=io.BytesIO(payload),
                                                   warc_content_type=content_type, warc_headers_dict=headers)
            else:
                record = writer.create_revisit_record(uri, digest="sha1:AAAA", refers_to_uri=uri,
                                                      refers_to_date="2024-01-01T00:00:00Z")
            writer.write_record(record)
    return Path(path)
