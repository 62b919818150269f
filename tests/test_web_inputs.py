"""Web pages and web archives in (corpus/web.py, corpus/warc.py) and the metadata columns of
tag's rows (tagging/rows.py): trafilatura's main text and metadata, WARC records streamed one
page at a time, the same columns from JSONL/CSV records, in every output format, --per
article, --resume and the segmentation workers."""

from __future__ import annotations

import io
import json

import pytest
from support.cli import run_cli
from support.tagging import Crash, CrashingModel, corpus_records, read_jsonl, write_jsonl
from support.web import FURNITURE, news_page, write_warc

from stanceframe.corpus import Document, PassedOver, Skipped, read_path, segment
from stanceframe.corpus.warc import warc_documents
from stanceframe.errors import StanceframeError
from stanceframe.tagging import run_tag
from stanceframe.tagging.rows import META_COLUMNS, meta_fields

PARAGRAPHS = ["South Korea may send artillery shells to Ukraine, officials said on Tuesday.",
              "Moscow called the plan a big mistake. Kyiv welcomed the report."]


def only(path, **kwargs):
    (item,) = list(read_path(path, **kwargs))
    return item


def tag_rows(paths, model, **kwargs):
    out, err = io.BytesIO(), io.StringIO()
    summary = run_tag([str(p) for p in paths], model, stdout=out, stderr=err, **kwargs)
    return summary, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def archive(path, paragraphs=PARAGRAPHS):
    """A WARC as a crawl writes it: two articles, an image, a 404, a redirect, a revisit, and
    an article saved as a resource record (no HTTP headers, no site name)."""
    return write_warc(path, [
        {"uri": "https://news.example.com/world/seoul-arms", "payload": news_page(paragraphs, canonical=None)},
        {"uri": "https://news.example.com/logo.png", "payload": b"\x89PNG\r\n", "type": "image/png"},
        {"uri": "https://news.example.com/gone", "payload": "<html>gone</html>", "status": "404 Not Found"},
        {"uri": "https://news.example.com/old", "payload": "", "status": "301 Moved Permanently"},
        {"uri": "https://news.example.com/world/seoul-arms", "kind": "revisit"},
        {"uri": "https://wire.example.org/kyiv", "kind": "resource", "type": "text/html",
         "payload": news_page(["Kyiv said the talks with Seoul went well."], title="Kyiv welcomes talks",
                              site=None, author=None, date="2024-04-01", canonical=None)},
    ])


# --------------------------------------------------------------------------- HTML pages


def test_html_page_gives_the_article_text_and_its_metadata_without_the_page_furniture(tmp_path):
    path = tmp_path / "seoul-arms.html"
    path.write_text(news_page(PARAGRAPHS), encoding="utf-8")
    doc = only(path)
    assert [s.text for s in segment(doc)] == ["Seoul weighs arms", PARAGRAPHS[0],
                                             "Moscow called the plan a big mistake.", "Kyiv welcomed the report."]
    assert not any(word in doc.text for word in FURNITURE)  # navigation, caption, related stories, footer
    assert doc.meta == {"url": "https://news.example.com/world/seoul-arms", "outlet": "The Korea Daily",
                        "date": "2024-03-05", "title": "Seoul weighs arms", "author": "Kim Min-ji"}
    assert doc.doc_id == "seoul-arms" and doc.warnings == []


def test_page_without_metadata_guesses_no_date_from_its_copyright_line(tmp_path):
    path = tmp_path / "bare.html"
    path.write_text(news_page(PARAGRAPHS, site=None, author=None, date=None, canonical=None), encoding="utf-8")
    assert only(path).meta == {"title": "Seoul weighs arms"}  # not 2021-01-01 from "(c) 2021"


def test_page_in_its_declared_charset_and_an_undeclared_one_with_the_fallback_warning(tmp_path):
    cyrillic = ["Министерство обороны заявило о переговорах с Сеулом."]
    (tmp_path / "ru.html").write_bytes(news_page(cyrillic, title="Сеул", charset="windows-1251").encode("cp1251"))
    doc = only(tmp_path / "ru.html")
    assert cyrillic[0] in doc.text and doc.meta["title"] == "Сеул" and doc.warnings == []
    (tmp_path / "cp.html").write_bytes(b"<html><body><p>Seoul\x92s ministry refused lethal aid.</p></body></html>")
    doc = only(tmp_path / "cp.html")
    assert doc.text == "Seoul\u2019s ministry refused lethal aid."
    assert doc.warnings == [f"{tmp_path / 'cp.html'}: not valid UTF-8 (byte 20); decoded as cp1252"]


def test_fragments_and_pages_without_article_text(tmp_path):
    (tmp_path / "frag.html").write_text("<p>Seoul refused lethal aid.</p>", encoding="utf-8")
    assert only(tmp_path / "frag.html").text == "Seoul refused lethal aid."
    (tmp_path / "nav.html").write_text("<html><body><script>var a = 1;</script></body></html>", encoding="utf-8")
    assert only(tmp_path / "nav.html") == Skipped(str(tmp_path / "nav.html"), None, "no article text in the page")
    (tmp_path / "empty.html").write_bytes(b"  \n")
    assert only(tmp_path / "empty.html").reason == "empty file (no text)"


# --------------------------------------------------------------------------- web archives


@pytest.mark.parametrize("name", ["crawl.warc.gz", "crawl.warc"])
def test_warc_pages_are_documents_and_other_records_are_passed_over(tmp_path, name):
    path = archive(tmp_path / name)
    items = list(read_path(path))
    assert [type(i).__name__ for i in items] == ["Document"] + ["PassedOver"] * 4 + ["Document"]
    assert [i.reason for i in items[1:5]] == ["not HTML", "HTTP status 404", "HTTP status 301",
                                              "revisit record (no payload)"]
    page, resource = items[0], items[5]
    assert page.doc_id == "https://news.example.com/world/seoul-arms" and page.source == str(path)
    assert PARAGRAPHS[0] in page.text and not any(word in page.text for word in FURNITURE)
    assert {k: page.meta[k] for k in ("url", "outlet", "date", "title")} == {
        "url": "https://news.example.com/world/seoul-arms", "outlet": "The Korea Daily", "date": "2024-03-05",
        "title": "Seoul weighs arms"}
    assert page.meta["crawl_date"].endswith("Z")  # the record's WARC-Date, apart from the publication date
    assert resource.doc_id == "https://wire.example.org/kyiv"
    assert (resource.meta["outlet"], resource.meta["date"]) == ("wire.example.org", "2024-04-01")  # the host name


def test_warc_pages_not_wanted_are_not_extracted(tmp_path, monkeypatch):
    import stanceframe.corpus.web as web

    path = archive(tmp_path / "crawl.warc.gz")
    calls = []
    real = web.page_text_and_meta
    monkeypatch.setattr(web, "page_text_and_meta", lambda html, url=None: calls.append(url) or real(html, url))
    items = list(warc_documents(path, wanted=lambda k: k == 5))
    assert items[0] is None and isinstance(items[1], PassedOver) and isinstance(items[5], Document)
    assert calls == ["https://wire.example.org/kyiv"]


def test_broken_and_foreign_archives_are_skipped_after_the_records_they_hold(tmp_path):
    whole = archive(tmp_path / "whole.warc.gz").read_bytes()
    (tmp_path / "cut.warc.gz").write_bytes(whole[: int(len(whole) * 0.8)])  # a download cut short
    items = list(read_path(tmp_path / "cut.warc.gz"))
    assert isinstance(items[0], Document)
    assert isinstance(items[-1], Skipped) and items[-1].reason.startswith("unreadable after record")
    (tmp_path / "notes.warc").write_text("these are not records\n", encoding="utf-8")
    (item,) = read_path(tmp_path / "notes.warc")
    assert isinstance(item, Skipped) and item.reason.startswith("not a readable WARC file")
    write_warc(tmp_path / "requests.warc.gz", [])  # a warcinfo record only
    assert [i.reason for i in read_path(tmp_path / "requests.warc.gz")] == [
        "no response or resource records (no pages)"]


def test_archive_skips_and_warnings_name_the_page_and_are_counted_by_kind(tmp_path, model):
    path = write_warc(tmp_path / "crawl.warc.gz", [
        {"uri": "https://x.example/empty1", "payload": "<html><body><script>1</script></body></html>"},
        {"uri": "https://x.example/empty2", "payload": "<html><head><style>p {}</style></head><body></body></html>"},
        {"uri": "https://x.example/cp", "type": "text/html",
         "payload": b"<html><body><p>Seoul\x92s ministry refused lethal aid.</p></body></html>"},
        {"uri": "https://x.example/cut", "payload": news_page(PARAGRAPHS), "warc_headers": {"WARC-Truncated": "length"}},
    ])
    summary, rows, err = tag_rows([path], model)
    lines = err.splitlines()
    assert lines[:2] == [f"skipped {path}: no article text in the page (https://x.example/empty{i})" for i in (1, 2)]
    assert f"warning: {path}: not valid UTF-8 (byte 20); decoded as cp1252 (https://x.example/cp)" in lines
    assert (f"warning: {path}: truncated by the crawler (length), its text may be cut short (https://x.example/cut)"
            in lines)
    assert "skipped 2 (no article text in the page: 2)" in summary.text() and summary.warnings == 2
    assert {r["doc_id"] for r in rows} == {"https://x.example/cp", "https://x.example/cut"}
    summary, rows, err = tag_rows([path], model, strict=True)
    assert (f"skipped {path}: not valid UTF-8 (byte 20); decoded as cp1252 (https://x.example/cp) (--strict)"
            in err.splitlines())
    assert summary.reasons == {"no article text in the page": 2, "not valid UTF-8": 1, "truncated by the crawler": 1}


def test_a_multi_gigabyte_archive_is_streamed_in_bounded_memory(tmp_path, monkeypatch):
    """Memory does not grow with the archive: records are read one at a time and a page's
    payload is read up to MAX_PAGE_BYTES (a larger page is skipped without being held)."""
    import tracemalloc

    import stanceframe.corpus.warc as warc

    big = "<html><body>" + "<p>Seoul refused lethal aid to Kyiv again today.</p>" * 21_000 + "</body></html>"
    path = write_warc(tmp_path / "big.warc.gz", [{"uri": f"https://x.example/{i}", "payload": big} for i in range(60)])
    assert len(big) * 60 > 60 << 20 and path.stat().st_size < 2 << 20  # 60 MiB of pages, gzipped
    monkeypatch.setattr(warc, "MAX_PAGE_BYTES", 1 << 20)
    tracemalloc.start()
    try:
        items = list(warc_documents(path, wanted=lambda k: k % 20 == 0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(items) == 60 and sum(i is None for i in items) == 57
    assert [i.reason for i in items if i is not None] == [f"page larger than 1 MiB (https://x.example/{k})"
                                                          for k in (0, 20, 40)]
    assert peak < 8 << 20, peak


# --------------------------------------------------------------------------- metadata in every row


def test_every_row_carries_url_outlet_date_and_title_from_pages_archives_and_records(tmp_path, model):
    (tmp_path / "page.html").write_text(news_page(PARAGRAPHS), encoding="utf-8")
    archive(tmp_path / "crawl.warc.gz")
    write_jsonl(tmp_path / "feed.jsonl", [
        {"id": "f1", "text": "Seoul refused lethal aid.", "link": "https://a.example/1", "source": "Agency A",
         "published": "2024-05-01", "headline": "Seoul refuses"},
        {"id": "f2", "text": "Moscow warned Seoul.", "site": "B", "date": 20240502},
    ])
    (tmp_path / "plain.txt").write_text("Seoul refused lethal aid.", encoding="utf-8")
    summary, rows, err = tag_rows(sorted(tmp_path.iterdir()), model)
    meta = {r["doc_id"]: tuple(r[c] for c in META_COLUMNS) for r in rows}
    assert meta == {
        "page": ("https://news.example.com/world/seoul-arms", "The Korea Daily", "2024-03-05", "Seoul weighs arms"),
        "https://news.example.com/world/seoul-arms": (
            "https://news.example.com/world/seoul-arms", "The Korea Daily", "2024-03-05", "Seoul weighs arms"),
        "https://wire.example.org/kyiv": ("https://wire.example.org/kyiv", "wire.example.org", "2024-04-01",
                                          "Kyiv welcomes talks"),
        "f1": ("https://a.example/1", "Agency A", "2024-05-01", "Seoul refuses"),
        "f2": (None, "B", "20240502", None),
        "plain": (None, None, None, None),
    }
    assert list(rows[0])[-4:] == list(META_COLUMNS)  # after the predictions: earlier columns keep their places
    assert summary.exit_code == 0 and summary.documents == 6 and "skipped" not in err
    assert summary.counts()["passed"] == {"not HTML": 1, "HTTP status 404": 1, "HTTP status 301": 1,
                                          "revisit record (no payload)": 1}
    assert ("passed over 4 WARC record(s) that are not pages (HTTP status 301: 1, HTTP status 404: 1, "
            "not HTML: 1, revisit record (no payload): 1)") in summary.text()


def test_meta_field_names_the_columns_and_their_fields(tmp_path, model):
    write_jsonl(tmp_path / "feed.jsonl", [
        {"id": "f1", "text": "Seoul refused lethal aid.", "outlet": "A", "source": "wire", "section": "world",
         "date": "2024-05-01", "tags": ["korea", "aid"]},
    ])
    archive(tmp_path / "crawl.warc.gz")
    _, rows, _ = tag_rows([tmp_path / "feed.jsonl", tmp_path / "crawl.warc.gz"], model,
                          meta_field=["outlet=source", "desk=section", "tags", "author"])
    first = rows[0]
    assert list(first)[-7:] == ["url", "outlet", "date", "title", "desk", "tags", "author"]
    assert (first["outlet"], first["desk"], first["tags"], first["author"]) == ("wire", "world", '["korea","aid"]',
                                                                                None)
    page = next(r for r in rows if r["doc_id"].startswith("https://news"))
    assert (page["outlet"], page["author"]) == ("The Korea Daily", "Kim Min-ji")  # a page's own metadata
    assert meta_fields(["outlet"])["outlet"] == ("outlet",)  # naming a default column: that field only
    for bad in ("text", "p_x", "a-b", "source", "voice"):
        with pytest.raises(StanceframeError, match=f"--meta-field {bad}: "):
            tag_rows([tmp_path / "feed.jsonl"], model, meta_field=[bad])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_metadata_columns_in_csv_parquet_and_per_article_rows(tmp_path, model, fmt):
    import pandas as pd

    archive(tmp_path / "crawl.warc.gz")
    run_tag([str(tmp_path / "crawl.warc.gz")], model, out=tmp_path / f"s.{fmt}", fmt=fmt)
    run_tag([str(tmp_path / "crawl.warc.gz")], model, out=tmp_path / f"a.{fmt}", fmt=fmt, per="article")
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    sentences, articles = read(tmp_path / f"s.{fmt}"), read(tmp_path / f"a.{fmt}")
    assert list(sentences.columns[-4:]) == list(articles.columns[-4:]) == list(META_COLUMNS)
    assert articles[["doc_id", "outlet", "date"]].values.tolist() == [
        ["https://news.example.com/world/seoul-arms", "The Korea Daily", "2024-03-05"],
        ["https://wire.example.org/kyiv", "wire.example.org", "2024-04-01"]]
    assert set(sentences["title"]) == {"Seoul weighs arms", "Kyiv welcomes talks"}


def test_cli_meta_field_and_a_bad_one(tmp_path, model_dir):
    write_jsonl(tmp_path / "feed.jsonl", [{"id": "f1", "text": "Seoul refused lethal aid.", "desk": "world"}])
    result = run_cli("tag", tmp_path / "feed.jsonl", "--model", model_dir, "--meta-field", "desk")
    assert result.code == 0 and json.loads(result.out.splitlines()[0])["desk"] == "world"
    result = run_cli("tag", tmp_path / "feed.jsonl", "--model", model_dir, "--meta-field", "p_stance_x")
    assert result.code == 2 and result.err.strip().startswith("stanceframe: error: --meta-field p_stance_x: ")
    assert "Traceback" not in result.err


# --------------------------------------------------------------------------- resume and workers


def test_warc_resume_and_workers_give_the_bytes_of_one_uninterrupted_run(tmp_path, model):
    records = corpus_records(40, seed=9)
    pages = []
    for i, rec in enumerate(records):
        pages.append({"uri": f"https://news.example.com/a/{i}", "payload": news_page(rec["text"].split("\n\n"),
                                                                                   title=f"Report {i}", canonical=None)})
        if i % 7 == 0:
            pages.append({"uri": f"https://news.example.com/img/{i}.png", "payload": b"\x89PNG", "type": "image/png"})
    path = write_warc(tmp_path / "crawl.warc.gz", pages)
    whole = tmp_path / "whole.jsonl"
    first = run_tag([str(path)], model, out=whole, window_items=8, batch_size=4, workers=0)
    assert first.documents == 40 and first.counts()["passed"] == {"not HTML": 6}
    for workers in (0, 2):
        out = tmp_path / f"out-{workers}.jsonl"
        with pytest.raises(Crash):
            run_tag([str(path)], CrashingModel(model, calls=45), out=out, window_items=8, batch_size=4,
                    workers=workers)
        summary = run_tag([str(path)], model, out=out, window_items=8, batch_size=4, workers=workers, resume=True)
        assert summary.resumed_items > 0 and summary.counts() == first.counts()
        assert out.read_bytes() == whole.read_bytes()
    assert {r["url"] for r in read_jsonl(whole)} == {f"https://news.example.com/a/{i}" for i in range(40)}

