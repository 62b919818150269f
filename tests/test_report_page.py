"""report_page.py and `stanceframe report`: the CSV, the Markdown, and the HTML page with
its article pages (escaping, self-contained, links that land), then the page in headless
Chromium driven by Selenium: a screenshot, no console message, no network request."""

from __future__ import annotations

import csv
import re
import struct
import urllib.parse

import pytest
from bs4 import BeautifulSoup
from support.chromium import selenium_chromium
from support.cli import run_cli
from support.tagged_rows import TASKS, tagged_rows, write_rows

HOSTILE = "<script>alert(1)</script>"
FORMULA = "=HYPERLINK(\"http://evil.example\")"


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """`stanceframe report` over hostile rows with every output."""
    tmp = tmp_path_factory.mktemp("report")
    rows = tagged_rows(outlets=("tass", HOSTILE, FORMULA))
    rows[0]["text"] = f"The minister typed {HOSTILE} & <b>bold</b> into the release."
    for task in TASKS:  # the hostile sentence is evidence of its labels
        rows[0][f"p_{task}_{rows[0][task]}"] = 0.999
    path = write_rows(rows, tmp / "tagged.jsonl")
    page, table, md = tmp / "out" / "report.html", tmp / "out" / "table.csv", tmp / "out" / "table.md"
    result = run_cli("report", path, "--by", "outlet", "--by", "month", "--html", page, "--csv", table, "--md", md)
    assert result.code == 0, result.err
    return tmp, rows, page, table, md, result


def test_csv_is_the_long_table_with_the_formula_defence(reported):
    _, rows, _, table, _, _ = reported
    with open(table, encoding="utf-8") as fh:
        lines = list(csv.DictReader(fh))
    assert list(lines[0]) == ["outlet", "month", "voice", "task", "label", "sentences", "articles", "count", "share",
                              "ci_low", "ci_high", "evidence"]
    groups = {(r["outlet"], r["date"][:7]) for r in rows}
    voices_per_group = len(lines) / len(groups) / 6  # 6 labels
    assert 2 <= voices_per_group <= 4
    assert {line["outlet"] for line in lines} == {"tass", HOSTILE, "'" + FORMULA}
    for line in lines:
        assert float(line["ci_low"]) <= float(line["share"]) <= float(line["ci_high"])


def test_markdown_escapes_cells(reported):
    _, _, _, _, md, result = reported
    text = md.read_text(encoding="utf-8")
    assert HOSTILE not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "stanceframe report:" in result.err and "sentence(s) in 12 group(s)" in result.err


def test_markdown_goes_to_stdout_without_an_output_option(tmp_path):
    path = write_rows(tagged_rows(6, 2), tmp_path / "r.parquet")
    result = run_cli("report", path, "--by", "voice")
    assert result.code == 0 and result.out.startswith("| voice | voice | sentences |")


def test_usage_error_is_one_line_and_exit_2(tmp_path):
    path = write_rows(tagged_rows(3, 2), tmp_path / "r.jsonl")
    result = run_cli("report", path, "--by", "no_such_column")
    assert result.code == 2 and result.err.count("\n") == 1 and "no_such_column" in result.err


def test_html_is_escaped_self_contained_and_links_land_on_article_pages(reported):
    _, rows, page, _, _, _ = reported
    html = page.read_text(encoding="utf-8")
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    dom = BeautifulSoup(html, "html.parser")
    assert not dom.find_all("script") and "default-src 'none'" in dom.find("meta", {"http-equiv": True})["content"]
    images = dom.select("figure.chart img")
    assert len(images) == 4  # all voices, then narrator, quote, mixed
    assert all(img["src"].startswith("data:image/svg+xml;base64,") for img in images)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
    links = dom.select("ul.evidence a")
    assert links
    for link in links:
        target, fragment = link["href"].split("#")
        article = page.parent / urllib.parse.unquote(target)
        assert article.is_file() and article.parent.name == "report_articles"
        sentence = urllib.parse.unquote(fragment)
        article_dom = BeautifulSoup(article.read_text(encoding="utf-8"), "html.parser")
        span = article_dom.find(id=sentence)
        assert span is not None and span.get_text() == link.get_text()
    pages = list((page.parent / "report_articles").iterdir())
    assert len({a["href"].split("#")[0] for a in links}) == len(pages) <= 3 * 6 * 3  # panels x labels x evidence
    hostile = [a for a in links if HOSTILE in a.get_text()]
    assert hostile  # the hostile sentence is evidence; its article page escapes it too
    assert HOSTILE not in (page.parent / urllib.parse.unquote(hostile[0]["href"].split("#")[0])).read_text()


@pytest.fixture
def browser(tmp_path, monkeypatch):
    driver = selenium_chromium(tmp_path, monkeypatch, window="1280,1600", logs=True)
    yield driver
    driver.quit()


def _requests(driver) -> list[str]:
    import json

    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


@pytest.mark.chromium
def test_chromium_renders_the_page_without_console_messages_or_requests(reported, browser, tmp_path):
    from selenium.webdriver.common.by import By

    _, _, page, _, _, _ = reported
    browser.get("about:blank")  # away from the start tab (Chromium's own pages), then its log drained
    browser.get_log("performance")
    browser.get_log("browser")
    browser.get(page.as_uri())
    images = browser.find_elements(By.CSS_SELECTOR, "figure.chart img")
    assert len(images) == 4
    assert all(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)
               for img in images)  # every chart decoded
    png = tmp_path / "report.png"
    assert browser.save_screenshot(str(png))
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24])[0] == 1280
    assert len(data) > 50_000  # charts and tables, not a blank canvas
    link = browser.find_element(By.CSS_SELECTOR, "ul.evidence a")
    browser.execute_script("arguments[0].closest('details').open = true", link)
    text = link.text
    link.click()
    assert browser.current_url.startswith((page.parent / "report_articles").as_uri())
    assert browser.find_element(By.CSS_SELECTOR, "span.sent.selected").text == text
    assert browser.get_log("browser") == []  # no console message: no error, no CSP violation
    requested = _requests(browser)
    assert requested and all(url.startswith(("file://", "data:")) for url in requested), requested
    assert page.as_uri() in requested
