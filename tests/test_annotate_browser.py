"""The annotation app in a real browser: Debian's chromium driven by Selenium through
Debian's chromedriver (nothing downloaded). Ten sentences of two articles labelled with the
keyboard only, one undo, a reload; then the store and the export are checked. Then what a
careless or quick annotator does: double presses, skipping everything, pressing while the
page loads or reloads and while the server restarts, keys with the help open, and a long
sentence in an 800x600 window (screenshots in STANCEFRAME_SCREENSHOT_DIR when set)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from support.annotate import Server, write_articles
from support.chromium import selenium_chromium
from support.cli import run_cli

pytestmark = [pytest.mark.chromium, pytest.mark.slow]

@pytest.fixture
def browser(tmp_path, monkeypatch):
    driver = selenium_chromium(tmp_path, monkeypatch)
    yield driver
    driver.quit()


def test_label_ten_sentences_by_keyboard_undo_reload_and_export(tmp_path, browser, model_dir):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    articles = write_articles(tmp_path / "articles")
    store = tmp_path / "s.sqlite"
    srv = Server([articles, "--store", store, "--annotator", "dana", "--model", model_dir], tmp_path).start()
    wait = WebDriverWait(browser, 60)
    answered = 0

    def press(*keys):
        nonlocal answered
        body = browser.find_element(By.TAG_NAME, "body")
        for key in keys:
            body.send_keys(key)
            answered += 1
            wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-answered") == str(answered))

    def shown() -> str:
        return browser.find_element(By.TAG_NAME, "body").get_attribute("data-sentence")

    try:
        browser.get(srv.url)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
        assert shown() == "alpha-p1-s1"
        assert "0 / 11 labelled" in browser.find_element(By.ID, "progress").text
        assert "model suggests" in browser.find_element(By.ID, "suggestion-stance").text
        loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(url.startswith(srv.base + "/") for url in loaded), loaded  # nothing from elsewhere

        body = browser.find_element(By.TAG_NAME, "body")
        body.send_keys("?")  # the key overlay
        assert browser.find_element(By.ID, "help").is_displayed()
        assert "undo the last key press" in browser.find_element(By.ID, "help").text
        body.send_keys(Keys.ESCAPE)
        assert not browser.find_element(By.ID, "help").is_displayed()

        seen = []
        seen.append(shown())
        press("2", "6")                      # 1: restraint / neutral by their keys
        seen.append(shown())
        press(Keys.ENTER)                    # 2: accept the suggestion
        seen.append(shown())
        press("1", "4")                      # 3: support / western
        for _ in range(7):                   # 4-10: accept
            seen.append(shown())
            press(Keys.ENTER)
        assert "10 / 11 labelled" in browser.find_element(By.ID, "progress").text
        assert shown() == "beta-p3-s1"
        # article text is text: the <script> in beta's last sentence is shown, not run
        assert "<script>alert(1)</script>" in browser.find_element(By.ID, "paragraph").text
        press("z")                           # undo the tenth
        assert shown() == seen[9] == "beta-p2-s3"
        assert "9 / 11 labelled" in browser.find_element(By.ID, "progress").text

        browser.refresh()
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
        answered = 0
        assert shown() == "beta-p2-s3" and "9 / 11 labelled" in browser.find_element(By.ID, "progress").text
        press("3", "5")                      # the tenth again: none / russian
        assert "10 / 11 labelled" in browser.find_element(By.ID, "progress").text
        assert browser.find_element(By.ID, "articles").text.splitlines() == ["alpha 6 / 6", "beta 4 / 5"]
        png = tmp_path / "annotate.png"
        browser.save_screenshot(str(png))
        assert png.stat().st_size > 10_000
        if os.environ.get("STANCEFRAME_SCREENSHOT"):  # the README's screenshot: docs/annotate.png
            shutil.copyfile(png, os.environ["STANCEFRAME_SCREENSHOT"])
    finally:
        srv.stop()

    with sqlite3.connect(store) as db:
        answers = dict(((s, t), label) for s, t, label in db.execute("SELECT sentence_id, task, label FROM answers "
                                                             "WHERE annotator = 'dana'"))
        undone = db.execute("SELECT sentence_id, action FROM presses WHERE undone = 1").fetchall()
    assert len({s for s, _ in answers}) == 10 and len(answers) == 20
    assert answers["alpha-p1-s1", "stance"] == "restraint" and answers["alpha-p1-s1", "framing"] == "neutral"
    assert answers[seen[2], "stance"] == "support" and answers[seen[2], "framing"] == "western"
    assert answers["beta-p2-s3", "stance"] == "none" and answers["beta-p2-s3", "framing"] == "russian"
    assert undone == [("beta-p2-s3", "accept")]

    out = tmp_path / "labels.jsonl"
    result = run_cli("annotate", "export", "--store", store, "--out", out)
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == seen[:10]
    assert {(r["id"], r["stance"], r["framing"]) for r in rows} >= {("beta-p2-s3", "none", "russian")}
    assert run_cli("data", "stats", out).code == 0


# --------------------------------------------------------------------------- careless and quick


THREE = "Seoul refuses lethal aid. It warns Moscow. Poland asks for shells.\n"
IDS = ["a-p1-s1", "a-p1-s2", "a-p1-s3"]


class Page:
    """The labelling page in the browser, with the waits the tests share."""

    def __init__(self, browser, srv):
        from selenium.webdriver.support.ui import WebDriverWait

        self.browser, self.srv, self.wait = browser, srv, WebDriverWait(browser, 60)

    def attr(self, name: str) -> str:
        from selenium.webdriver.common.by import By

        return self.browser.find_element(By.TAG_NAME, "body").get_attribute(name) or ""

    def text(self, element_id: str) -> str:
        from selenium.webdriver.common.by import By

        return self.browser.find_element(By.ID, element_id).text

    def open(self, url=None) -> Page:
        self.browser.get(url or self.srv.url)
        self.ready()
        return self

    def ready(self) -> None:
        self.wait.until(lambda d: self.attr("data-ready") == "1")

    def shown(self) -> str:
        return self.attr("data-sentence")

    def keys(self, keys: str) -> None:
        from selenium.webdriver.common.by import By

        self.browser.find_element(By.TAG_NAME, "body").send_keys(keys)

    def press(self, *keys: str) -> None:
        """Each key, waiting for its answer (saved or refused) before the next."""
        for key in keys:
            before = int(self.attr("data-answered") or 0)
            self.keys(key)
            self.wait.until(lambda d, n=before: int(self.attr("data-answered") or 0) == n + 1)

    def dispatch(self, keys: str, then: str = "") -> None:
        """Key presses dispatched in one go: all of them before any answer can arrive (the
        quickest typist there is), then ``then`` (a script) in the same turn."""
        self.browser.execute_script(
            "for (const k of arguments[0]) document.dispatchEvent(new KeyboardEvent('keydown', {key: k}));" + then,
            list(keys))

    def until_text(self, element_id: str, part: str) -> str:
        self.wait.until(lambda d: part in self.text(element_id))
        return self.text(element_id)

    def screenshot(self, tmp_path, name: str) -> Path:
        png = tmp_path / name
        self.browser.save_screenshot(str(png))
        if os.environ.get("STANCEFRAME_SCREENSHOT_DIR"):
            shutil.copyfile(png, Path(os.environ["STANCEFRAME_SCREENSHOT_DIR"]) / name)
        return png


def store_answers(store) -> dict:
    with sqlite3.connect(store) as db:
        return {(s, t): label for s, t, label in db.execute("SELECT sentence_id, task, label FROM answers")}


def three_sentences(tmp_path) -> Path:
    folder = tmp_path / "three"
    folder.mkdir()
    (folder / "a.txt").write_text(THREE, encoding="utf-8")
    return folder


def test_quick_double_presses_label_only_the_sentence_on_screen(tmp_path, browser):
    store = tmp_path / "s.sqlite"
    srv = Server([three_sentences(tmp_path), "--store", store, "--annotator", "dana", "--no-model"], tmp_path).start()
    try:
        page = Page(browser, srv).open()
        assert page.shown() == IDS[0]
        page.dispatch("1144")  # 1 1 4 4 before the first answer: all four are for the first sentence
        page.wait.until(lambda d: page.attr("data-answered") == "4")
        assert page.shown() == IDS[1]
        assert "not saved: a-p1-s1 is no longer the sentence on screen" in page.text("message")
        assert page.attr("data-saved") == "3"
        page.press("2")  # the next press is for the sentence now shown
        assert "saved: stance = restraint on a-p1-s2" in page.text("saved")
    finally:
        srv.stop()
    assert store_answers(store) == {(IDS[0], "stance"): "support", (IDS[0], "framing"): "western",
                                    (IDS[1], "stance"): "restraint"}


def test_skip_cycles_through_the_skipped_ones_and_the_done_screen_names_the_store(tmp_path, browser):
    store = tmp_path / "s.sqlite"
    srv = Server([three_sentences(tmp_path), "--store", store, "--annotator", "dana", "--no-model"], tmp_path).start()
    try:
        page = Page(browser, srv).open()
        seen = []
        for _ in range(7):
            seen.append(page.shown())
            page.press("s")
        assert seen == IDS + IDS + IDS[:1]  # round and round, never stuck on one
        assert "only skipped sentences are left" in page.text("why")
        page.keys("?")
        assert "they come round in turn" in page.text("help")
        page.keys("\ue00c")  # Esc
        while page.shown():
            page.press("3", "6")
        done = page.text("done")
        assert "Every sentence is labelled." in done and str(store) in done
        assert "No open disagreement between annotators." in done
        assert "--store " + str(store) in done
    finally:
        srv.stop()
    assert len(store_answers(store)) == 6


def test_presses_while_loading_and_across_a_reload_are_never_lost_silently(tmp_path, browser):
    store = tmp_path / "s.sqlite"
    srv = Server([three_sentences(tmp_path), "--store", store, "--annotator", "dana", "--no-model"], tmp_path).start()
    try:
        page = Page(browser, srv).open()
        # the page loads but its sentence does not come (the state is held back): a press is
        # refused, visibly, and nothing is stored; the page shows its sentence once it comes
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/api/state*"]})
        browser.refresh()
        page.until_text("message", "waiting for the server")
        page.keys("1")
        assert "not saved: no sentence is on screen yet" in page.text("message") and page.attr("data-refused") == "1"
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
        page.ready()
        assert page.shown() == IDS[0] and store_answers(store) == {}
        # two presses and a reload in the same instant: the presses still waiting are sent by
        # the reloaded page, each for the sentence it was pressed on
        page.dispatch("14", "location.reload();")
        page.wait.until(lambda d: page.attr("data-ready") == "1" and page.shown() == IDS[1])
        assert store_answers(store) == {(IDS[0], "stance"): "support", (IDS[0], "framing"): "western"}
    finally:
        srv.stop()


def test_a_server_restart_keeps_the_place_and_a_new_token_says_reload(tmp_path, browser):
    store = tmp_path / "s.sqlite"
    token = "restart-token-0123456789"
    args = [three_sentences(tmp_path), "--store", store, "--annotator", "dana", "--no-model", "--token", token]
    srv = Server(args, tmp_path).start()
    port = srv.port
    try:
        page = Page(browser, srv).open()
        page.press("1")
        srv.stop()
        page.keys("4")  # the server is down: the press waits, and the page says so
        page.until_text("message", "server unreachable: 1 press(es) waiting")
        srv = Server(args, tmp_path, port=port).start()  # a new process: a new CSRF token
        page.wait.until(lambda d: page.attr("data-saved") == "2")
        assert page.shown() == IDS[1] and page.text("message") == ""
        assert "saved: framing = western on a-p1-s1" in page.text("saved")
        srv.stop()
        srv = Server([*args[:-1], "other-token-0123456789"], tmp_path, port=port).start()
        page.keys("2")
        message = page.until_text("message", "not saved")
        assert "reload with the URL it printed" in message
    finally:
        srv.stop()
    assert store_answers(store) == {(IDS[0], "stance"): "support", (IDS[0], "framing"): "western"}


def test_the_help_overlay_blocks_keys_scrolls_and_explains(tmp_path, browser):
    store = tmp_path / "s.sqlite"
    srv = Server([three_sentences(tmp_path), "--store", store, "--annotator", "dana", "--no-model"], tmp_path).start()
    try:
        browser.set_window_size(800, 600)
        page = Page(browser, srv).open()
        page.keys("?")
        help_text = page.text("help")
        assert "Holding back: humanitarian or non-lethal aid only" in help_text  # the guideline's line per label
        assert "dashed" in help_text and "filled" in help_text and "your choice" in help_text
        page.keys("1")
        page.keys("\ue007")  # Enter
        assert "the key list is open" in page.text("message") and page.attr("data-refused") == "2"
        geometry = browser.execute_script(
            "const h = document.getElementById('help'); const r = h.getBoundingClientRect();"
            "h.scrollTop = 100000;"
            "return [r.top, r.bottom, window.innerHeight, h.scrollHeight, h.clientHeight, h.scrollTop];")
        top, bottom, inner, scroll_height, client_height, scrolled = geometry
        assert top >= 0 and bottom <= inner and scroll_height > client_height and scrolled > 0  # it scrolls
        page.screenshot(tmp_path, "annotate-help-800x600.png")
        page.keys("\ue00c")  # Esc
        assert not browser.find_element("id", "help").is_displayed()
        page.press("1")
    finally:
        srv.stop()
    assert store_answers(store) == {(IDS[0], "stance"): "support"}  # nothing from the keys pressed over the help


def test_a_long_sentence_in_an_800x600_window(tmp_path, browser):
    url = "https://example.org/" + "very-long-path-segment-" * 20
    long_sentence = ("Seoul said " + "that the shells would not be sent, " * 42 + "see " + url + " for the text.")
    assert 1700 < len(long_sentence) < 2000
    folder = tmp_path / "long"
    folder.mkdir()
    (folder / "a.txt").write_text("Seoul spoke first. " + long_sentence + " Then Kyiv answered.\n", encoding="utf-8")
    store = tmp_path / "s.sqlite"
    srv = Server([folder, "--store", store, "--annotator", "dana", "--no-model"], tmp_path).start()
    try:
        browser.set_window_size(800, 600)
        page = Page(browser, srv).open()
        page.press("3", "6")
        assert page.shown() == "a-p1-s2"
        geometry = browser.execute_script("""
            const r = (q) => document.querySelector(q).getBoundingClientRect();
            const cur = r('#paragraph .current'), box = r('#article');
            const buttons = [...document.querySelectorAll('#tasks button')].map((b) => b.getBoundingClientRect());
            return {inner: [window.innerWidth, window.innerHeight], scrollWidth: document.documentElement.scrollWidth,
                    current: [cur.top, cur.bottom], box: [box.top, box.bottom],
                    buttons: [Math.min(...buttons.map((b) => b.top)), Math.max(...buttons.map((b) => b.bottom)),
                              Math.max(...buttons.map((b) => b.right))],
                    text: document.querySelector('#paragraph .current').textContent};""")
        width, height = geometry["inner"]
        assert geometry["text"] == long_sentence  # whole, never cut
        assert geometry["scrollWidth"] <= width  # the URL wraps: no sideways scrolling
        assert geometry["buttons"][0] >= 0 and geometry["buttons"][1] <= height and geometry["buttons"][2] <= width
        assert geometry["current"][0] < geometry["box"][1] and geometry["current"][1] > geometry["box"][0]  # in view
        assert "show the whole paragraph" in page.text("context")  # the context collapsed
        page.screenshot(tmp_path, "annotate-long-800x600.png")
        page.press("3", "6")
    finally:
        srv.stop()
    assert len(store_answers(store)) == 4
