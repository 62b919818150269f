"""report.py: terminal tables and the self-contained HTML inspection page (escaping, no
network, and the page as headless Chromium renders it)."""

from __future__ import annotations

import json
import re
import struct

import pytest
from bs4 import BeautifulSoup
from support.chromium import chromium
from support.cli import run_cli

from stanceframe.corpus import Document
from stanceframe.report import format_table, label_colors, render_inspection_html, sentence_table
from stanceframe.tagging import ArticleTags

HOSTILE = "<script>alert(1)</script>"
ARTICLE = (
    "Seoul refuses lethal aid.\n\n"
    f"The minister typed {HOSTILE} into the press release & said <b>no</b>. South Korea said it would only "
    "send humanitarian aid to Ukraine.\n\n"
    "Russia's special military operation continues, the Kremlin said. The president warned that arms "
    "supplies would provoke Moscow."
)


def hand_made(text=f"Officials wrote {HOSTILE} & <b>bold</b> \"quoted\" 'single'.", label='odd"><x y="'):
    """An ArticleTags built by hand (report.py never predicts), hostile in every field."""
    classes = {"stance": ["none", "support"], "framing": ["neutral", label]}
    rows = [{
        "doc_id": "d<1>", "id": "d<1>-p1-s1", "paragraph": 1, "sentence": 1, "start": 0, "end": len(text), "text": text,
        "stance": "support", "framing": label, "p_stance_none": 0.25, "p_stance_support": 0.75,
        "p_framing_neutral": 0.125, f"p_framing_{label}": 0.875,
    }, {
        "doc_id": "d<1>", "id": "d<1>-p2-s1", "paragraph": 2, "sentence": 1, "start": 0, "end": 5, "text": "Calm.",
        "stance": "none", "framing": "neutral", "p_stance_none": 0.5, "p_stance_support": 0.5,
        "p_framing_neutral": 0.625, f"p_framing_{label}": 0.375,
    }]
    explanations = {"d<1>-p1-s1": {"stance": [("<img src=x onerror=alert(2)>", 0.5)], "framing": [("bold", 0.25)]},
                    "d<1>-p2-s1": {"stance": [], "framing": []}}
    model = {"name": "m</title><script>alert(3)</script>", "family": "tfidf-logreg", "source": "models/x",
             "created": "2026-01-01T00:00:00+00:00", "stanceframe_version": "0.1.0", "run_id": "", "data_hash": "",
             "version": "", "tasks": classes}
    return ArticleTags(Document("d<1>", text, "<src>.txt"), rows, classes, explanations, model)


# --------------------------------------------------------------------------- terminal


def test_sentence_table():
    table = sentence_table(hand_made().rows, hand_made().classes, text_width=20).splitlines()
    assert table[0].split() == ["#", "stance", "p(stance)", "framing", "p(framing)", "text"]
    assert table[2].split()[:3] == ["p1.s1", "support", "0.750"] and table[2].endswith("…")
    assert table[3].split()[:5] == ["p2.s1", "none", "0.500", "neutral", "0.625"]


def test_format_table_is_kept():
    assert format_table(["a", "n"], [["x", 1.5]]).splitlines() == ["a      n", "-  -----", "x  1.500"]


def test_label_colors_grey_for_the_no_position_labels_and_distinct_otherwise():
    colors = label_colors({"framing": ["neutral", "russian", "western", "other-lens"], "stance": ["none", "support"]})
    assert colors["framing"]["neutral"] == colors["stance"]["none"]
    assert len({colors["framing"][k] for k in ("russian", "western", "other-lens", "neutral")}) == 4


# --------------------------------------------------------------------------- escaping, self-contained


def test_article_text_is_escaped_everywhere():
    html = render_inspection_html(hand_made())
    assert "<script>alert" not in html and "<img" not in html and "<b>bold" not in html
    soup = BeautifulSoup(html, "html.parser")
    scripts = soup.find_all("script")
    assert len(scripts) == 2  # the page's JSON and its own code, nothing from the article
    assert [s.get("type") for s in scripts] == ["application/json", None]
    assert "<" not in scripts[0].string and ">" not in scripts[0].string  # tojson escapes them
    data = json.loads(scripts[0].string)
    assert data["sentences"][0]["text"] == hand_made().rows[0]["text"]
    assert data["sentences"][0]["why"]["stance"] == [["<img src=x onerror=alert(2)>", 0.5]]
    span = soup.select_one("span.sent")
    assert span.get_text() == hand_made().rows[0]["text"]
    assert soup.title.get_text().startswith("Officials wrote <script>")  # shown as text
    assert "m</title><script>alert(3)</script>" in soup.select_one("#model-card").get_text()
    # a label name cannot inject attributes: names are sanitised, values escaped
    assert span["data-framing"] == 'odd"><x y="'
    assert all(re.fullmatch(r"[a-z0-9_-]+", name) for el in soup.find_all(True) for name in el.attrs)


def test_page_is_self_contained():
    html = render_inspection_html(hand_made())
    soup = BeautifulSoup(html, "html.parser")
    assert not soup.find_all(["link", "img", "iframe", "object", "embed", "video", "audio", "source"])
    assert all(not s.get("src") for s in soup.find_all("script"))
    assert all(a["href"].startswith("#") for a in soup.find_all("a"))
    css = "\n".join(s.string for s in soup.find_all("style"))
    assert "@import" not in css and "url(" not in css and "@font-face" not in css
    csp = soup.find("meta", attrs={"http-equiv": "Content-Security-Policy"})["content"]
    assert "default-src 'none'" in csp
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html)


def test_page_layout_one_highlight_per_sentence_and_chart():
    article = hand_made()
    soup = BeautifulSoup(render_inspection_html(article), "html.parser")
    spans = soup.select("span.sent")
    assert [s["data-id"] for s in spans] == [r["id"] for r in article.rows]
    assert [p["data-paragraph"] for p in soup.select("p.para")] == ["1", "2"]
    assert "rgba(" in spans[0]["style"] and "has-stance" in spans[0]["class"] and "has-stance" not in spans[1]["class"]
    assert float(spans[0]["data-p-stance-support"]) == 0.75
    # two tracks (one per task), a cell per sentence each, linking to the sentence
    cells = soup.select("#chart rect.cell")
    assert len(cells) == 4
    assert [a["href"] for a in soup.select("#chart a")][:2] == ["#s-d<1>-p1-s1", "#s-d<1>-p2-s1"]
    assert "tfidf-logreg" in soup.select_one("#model-card").get_text()


# --------------------------------------------------------------------------- Chromium


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, model_dir):
    """`tag` JSONL and the `inspect --html` page of one article, with the same model."""
    tmp = tmp_path_factory.mktemp("inspect")
    (tmp / "article.txt").write_text(ARTICLE, encoding="utf-8")
    tagged = run_cli("tag", tmp / "article.txt", "--model", model_dir)
    assert tagged.code == 0, tagged.err
    page = tmp / "page.html"
    inspected = run_cli("inspect", tmp / "article.txt", "--model", model_dir, "--html", page)
    assert inspected.code == 0, inspected.err
    rows = [json.loads(line) for line in tagged.out.splitlines()]
    return tmp, page, rows


def dump_dom(tmp, page, fragment=""):
    proc = chromium(tmp, "--dump-dom", page.as_uri() + fragment)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return BeautifulSoup(proc.stdout, "html.parser")


def panel_numbers(dom):
    """task -> label -> (probability in data-p, the number shown)."""
    out = {}
    for section in dom.select("#panel section.ptask"):
        out[section["data-task"]] = {li["data-label"]: (float(li["data-p"]), li.select_one(".num").get_text())
                                     for li in section.select("li[data-label]")}
    return out


@pytest.mark.chromium
def test_chromium_dom_matches_the_tag_output(rendered):
    tmp, page, rows = rendered
    dom = dump_dom(tmp, page)
    assert dom.html.get("data-ready") == "1"  # the page's script ran to the end
    spans = dom.select("span.sent")
    assert len(spans) == len(rows) == 5
    for span, row in zip(spans, rows):
        assert span["data-id"] == row["id"]
        assert span.get_text() == row["text"]
        assert span["data-stance"] == row["stance"] and span["data-framing"] == row["framing"]
        for key, value in row.items():
            if key.startswith("p_"):
                task, label = key[2:].split("_", 1)
                assert float(span[f"data-p-{task}-{label}"]) == value
    # the hostile sentence is text, and no script element holds it
    assert any(HOSTILE in s.get_text() for s in spans)
    assert not any("alert" in (s.string or "") for s in dom.find_all("script") if s.get("type") != "application/json")
    # the panel shows the first sentence; its numbers are the JSONL's
    assert dom.select_one("#panel")["data-sentence"] == rows[0]["id"]
    shown = panel_numbers(dom)
    assert set(shown) == {"stance", "framing"}
    for task, labels in shown.items():
        for label, (p, text) in labels.items():
            assert p == rows[0][f"p_{task}_{label}"]
            assert text == f"{rows[0][f'p_{task}_{label}']:.3f}"
    assert dom.select("#panel .term")  # words behind the decision
    assert dom.select_one("#panel-text").get_text() == rows[0]["text"]


@pytest.mark.chromium
def test_chromium_panel_follows_the_link_to_a_sentence(rendered):
    tmp, page, rows = rendered
    target = rows[1]  # the sentence holding <script>alert(1)</script>
    dom = dump_dom(tmp, page, f"#s-{target['id']}")
    assert dom.select_one("#panel")["data-sentence"] == target["id"]
    assert dom.select_one("#panel-text").get_text() == target["text"]
    assert HOSTILE in target["text"]
    assert dom.select_one("span.sent.selected")["data-id"] == target["id"]
    for task, labels in panel_numbers(dom).items():
        assert dom.select_one(f'#panel section[data-task="{task}"]')["data-label"] == target[task]
        for label, (p, _) in labels.items():
            assert p == target[f"p_{task}_{label}"]


@pytest.mark.chromium
def test_chromium_screenshot(rendered):
    tmp, page, _ = rendered
    png = tmp / "page.png"
    proc = chromium(tmp, f"--screenshot={png}", "--window-size=1280,2000", page.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000)
    assert len(data) > 30_000  # a rendered page, not a blank canvas
