"""The annotation app in a real browser: Debian's chromium driven by Selenium through
Debian's chromedriver (nothing downloaded). Ten sentences of two articles labelled with the
keyboard only, one undo, a reload; then the store and the export are checked."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

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
        browser.get(srv.base + "/")
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
