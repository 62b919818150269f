"""The annotation app as a real server process (uvicorn on 127.0.0.1), at the HTTP level:
Host / token / Origin / CSRF checks, the security headers, escaping, ``kill -9`` between two
labels, and two annotators on one store at once."""

from __future__ import annotations

import http.client
import json
import re
import sqlite3
import threading

import pytest
from support.annotate import Server, write_articles
from support.cli import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def articles(tmp_path):
    return write_articles(tmp_path / "articles")


@pytest.fixture
def server(tmp_path, articles, model_dir):
    srv = Server([articles, "--store", tmp_path / "s.sqlite", "--annotator", "alice", "--model", model_dir],
                 tmp_path).start()
    yield srv
    srv.stop()


def answers(store) -> list[tuple]:
    with sqlite3.connect(store) as db:
        return db.execute("SELECT annotator, sentence_id, task, label FROM answers ORDER BY press_id, task").fetchall()


def test_host_header_must_name_the_server(server):
    assert server.request("GET", "/api/state")[0] == 200
    assert server.request("GET", "/api/state", headers={"Host": f"localhost:{server.port}"})[0] == 200
    for host in (f"attacker.example:{server.port}", "127.0.0.1", f"127.0.0.1:{server.port + 1}", ""):
        status, headers, body = server.request("GET", "/", headers={"Host": host})
        assert status == 421, host
        assert b"DNS rebinding" in body and "content-security-policy" in headers


def test_state_changes_need_the_csrf_token_json_and_no_foreign_origin(server, tmp_path):
    csrf = server.csrf()
    sid = server.state()["item"]["id"]
    body = {"id": sid, "task": "stance", "label": "none"}
    assert server.post("/api/label", body, csrf="")[0] == 403
    assert server.post("/api/label", body, csrf="x" * len(csrf))[0] == 403
    assert server.post("/api/label", body, csrf=csrf, Origin="http://attacker.example")[0] == 403
    assert server.post("/api/label", body, csrf=csrf, Origin="null")[0] == 403
    assert server.post("/api/label", body, csrf=csrf, **{"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert server.post("/api/label", body, csrf=csrf, **{"Content-Type": "text/plain"})[0] == 415
    assert server.post("/api/undo", {}, csrf="")[0] == 403
    assert answers(tmp_path / "s.sqlite") == []  # nothing of the above reached the store
    status, _, payload = server.post("/api/label", body, csrf=csrf)
    assert status == 200, payload
    assert answers(tmp_path / "s.sqlite") == [("alice", sid, "stance", "none")]
    status, _, payload = server.post("/api/label", {"id": sid, "task": "stance", "label": "maybe"}, csrf=csrf)
    assert status == 400 and b"no label 'maybe'" in payload


def test_every_answer_has_the_security_headers_and_the_page_loads_nothing_remote(server):
    for path in ("/", "/api/state", "/review", "/static/app.js", "/nope"):
        _, headers, _ = server.request("GET", path)
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    _, _, page = server.request("GET", "/")
    refs = re.findall(rb'(?:src|href)="([^"]*)"', page)
    assert refs and all(r.startswith(b"/") for r in refs), refs
    assert b"http" not in b" ".join(refs)
    _, _, script = server.request("GET", "/static/app.js")
    assert b".innerHTML" not in script and b"insertAdjacentHTML" not in script and b"textContent" in script


def test_a_token_is_required_when_given(tmp_path, articles):
    token = "t0ken-" + "x" * 20
    srv = Server([articles, "--store", tmp_path / "t.sqlite", "--no-model", "--token", token], tmp_path)
    try:
        srv.start()
        assert srv.token == token
        assert srv.request("GET", "/", headers={"Cookie": ""})[0] == 403
        status, headers, _ = srv.request("GET", f"/?token={token}")
        assert status == 200 and "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]
        cookie = headers["set-cookie"].split(";")[0]
        assert srv.request("GET", "/api/state", headers={"Cookie": cookie})[0] == 200
        assert srv.request("GET", "/api/state", headers={"Cookie": "stanceframe_token=wrong"})[0] == 403
    finally:
        srv.stop()


def test_off_loopback_a_token_is_generated_and_printed(tmp_path, articles):
    srv = Server([articles, "--store", tmp_path / "t.sqlite", "--no-model", "--host", "0.0.0.0"], tmp_path)
    try:
        srv.start()
        printed = srv.logfile.read_text()
        token = re.search(r"\?token=([\w-]+)", printed).group(1)
        assert len(token) >= 16
        assert srv.request("GET", "/api/state", headers={"Cookie": ""})[0] == 403
        assert srv.request("GET", f"/api/state?token={token}")[0] == 200
    finally:
        srv.stop()


def test_a_short_token_is_one_line_exit_2(tmp_path, articles):
    result = run_cli("annotate", articles, "--store", tmp_path / "t.sqlite", "--host", "0.0.0.0", "--token", "abc")
    assert result.code == 2 and result.err.count("\n") == 1 and "--token" in result.err


def test_kill_9_between_two_labels_loses_nothing(tmp_path, articles, model_dir):
    store = tmp_path / "s.sqlite"
    args = [articles, "--store", store, "--annotator", "alice", "--model", model_dir]
    srv = Server(args, tmp_path).start()
    first = srv.state()["item"]["id"]
    assert srv.post("/api/accept", {"id": first})[0] == 200
    srv.kill9()
    srv = Server(args, tmp_path).start()
    try:
        state = srv.state()
        assert state["progress"]["labelled"] == 1 and state["item"]["id"] != first
        second = state["item"]["id"]
        assert srv.post("/api/label", {"id": second, "task": "framing", "label": "russian"})[0] == 200
        srv.kill9()
    finally:
        srv.stop()
    got = answers(store)
    assert [(a, s, t) for a, s, t, _ in got] == [("alice", first, "framing"), ("alice", first, "stance"),
                                               ("alice", second, "framing")]
    assert got[-1][3] == "russian"
    srv = Server(args, tmp_path).start()
    try:  # the half-labelled sentence is where alice continues
        state = srv.state()
        assert state["item"]["id"] == second and state["item"]["chosen"] == {"framing": "russian"}
    finally:
        srv.stop()


def test_two_annotators_at_once_on_one_store(tmp_path, articles, model_dir):
    store = tmp_path / "s.sqlite"
    servers = [Server([articles, "--store", store, "--annotator", who, "--model", model_dir], tmp_path).start()
               for who in ("alice", "bob")]
    errors = []

    def work(srv, override):
        try:
            csrf = srv.csrf()
            for i in range(6):
                sid = srv.state()["item"]["id"]
                if override and i in (1, 4):  # bob disagrees on the stance of two sentences
                    sug = srv.state()["item"]["suggestion"]["stance"]["label"]
                    other = "support" if sug != "support" else "restraint"
                    assert srv.post("/api/label", {"id": sid, "task": "stance", "label": other}, csrf=csrf)[0] == 200
                assert srv.post("/api/accept", {"id": sid}, csrf=csrf)[0] == 200
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=work, args=(srv, i == 1)) for i, srv in enumerate(servers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not errors, errors
        assert servers[0].state()["progress"]["labelled"] == 6 and servers[1].state()["progress"]["labelled"] == 6
        _, _, review = servers[0].request("GET", "/review")
        assert review.count(b'class="disagreement"') == 2
        assert b"alice: <b>" in review and b"bob: <b>" in review
    finally:
        for srv in servers:
            srv.stop()
    got = answers(store)
    assert {a for a, *_ in got} == {"alice", "bob"} and len(got) == 24
    result = run_cli("agreement", "--store", store)
    assert result.code == 0, result.err
    out = result.out
    assert re.search(r"stance\s+alice\s+bob\s+6\s+4\s", out) and re.search(r"framing\s+alice\s+bob\s+6\s+6\s+1\.000", out)
    out_file = tmp_path / "labels.jsonl"
    result = run_cli("annotate", "export", "--store", store, "--out", out_file)
    assert result.code == 0 and "2 left out because annotators disagree" in result.err
    assert len(out_file.read_text().splitlines()) == 4


def test_review_escapes_article_text_and_adjudicates(tmp_path, articles):
    store = tmp_path / "s.sqlite"
    srv = Server([articles, "--store", store, "--annotator", "carol", "--no-model"], tmp_path).start()
    try:
        target = "beta-p3-s1"  # holds <script>alert(1)</script>
        for who, label in (("alice", "support"), ("bob", "none")):
            lines = [json.dumps({"id": target, "doc_id": "beta", "paragraph": 3, "text": "x", "stance": label,
                                 "framing": "neutral"})]
            (tmp_path / f"{who}.jsonl").write_text("\n".join(lines) + "\n")
            assert run_cli("annotate", "import", "--store", store, "--annotator", who,
                           tmp_path / f"{who}.jsonl").code == 0
        _, _, review = srv.request("GET", "/review")
        assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in review and b"<script>alert" not in review
        status, _, _ = srv.post("/api/adjudicate", {"id": target, "task": "stance", "label": "none"})
        assert status == 200
        assert srv.post("/api/adjudicate", {"id": target, "task": "stance", "label": "none"}, csrf="")[0] == 403
    finally:
        srv.stop()
    out = tmp_path / "labels.jsonl"
    assert run_cli("annotate", "export", "--store", store, "--out", out).code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["stance"]) for r in rows] == [(target, "none")]
    assert "<script>alert(1)</script>" in rows[0]["text"]  # data files keep the exact text


def test_loopback_needs_the_printed_token_by_default_and_no_token_warns(tmp_path, articles):
    srv = Server([articles, "--store", tmp_path / "t.sqlite", "--no-model"], tmp_path).start()
    try:
        assert srv.token and len(srv.token) >= 16  # printed in the start URL
        assert srv.request("GET", "/api/state", headers={"Cookie": ""})[0] == 403  # another local user
        status, headers, _ = srv.request("GET", f"/?token={srv.token}")
        assert status == 200 and "HttpOnly" in headers["set-cookie"]
    finally:
        srv.stop()
    srv = Server([articles, "--store", tmp_path / "t.sqlite", "--no-model", "--no-token"], tmp_path).start()
    try:
        assert srv.token is None and srv.request("GET", "/api/state")[0] == 200
        assert "warning: --no-token: any user of this machine" in srv.logfile.read_text()
    finally:
        srv.stop()


def test_hostile_requests_are_refused_before_anything_else_never_a_500(tmp_path, articles):
    store = tmp_path / "t.sqlite"
    srv = Server([articles, "--store", store, "--no-model"], tmp_path).start()
    try:
        csrf = srv.csrf()
        sid = srv.state()["item"]["id"]
        # a non-ASCII secret is a wrong one: 403, with or without the right cookie
        assert srv.request("GET", "/api/state?token=%C3%A9", headers={"Cookie": ""})[0] == 403
        assert srv.request("GET", "/api/state", headers={"Cookie": "stanceframe_token=\u00e9".encode().decode(
            "latin-1")})[0] == 403
        status, _, body = srv.post("/api/undo", {}, csrf="\u00e9")
        assert status == 403 and json.loads(body)["refused"] == "csrf"
        # a body over the limit is refused unread (by its length, or counted when chunked)
        status, _, body = srv.post("/api/label", b"[" * 200_000, csrf=csrf)
        assert status == 413 and b"at most 65536 bytes" in body
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        conn.request("POST", "/api/label", body=iter([b"[" * 60_000] * 4), encode_chunked=True, headers={
            "Host": f"127.0.0.1:{srv.port}", "Cookie": f"stanceframe_token={srv.token}",
            "Content-Type": "application/json", "X-CSRF-Token": csrf, "Transfer-Encoding": "chunked"})
        assert conn.getresponse().status == 413
        conn.close()
        status, _, body = srv.post("/api/label", b"[" * 60_000, csrf=csrf)  # nested deeper than Python parses
        assert status == 400 and b"not JSON" in body
        # a press for a sentence that is no longer on screen: 409 with the current state
        assert srv.post("/api/accept", {"id": sid}, csrf=csrf)[0] == 400  # --no-model: nothing to accept
        for task, label in (("stance", "none"), ("framing", "neutral")):
            assert srv.post("/api/label", {"id": sid, "task": task, "label": label}, csrf=csrf)[0] == 200
        status, _, body = srv.post("/api/label", {"id": sid, "task": "framing", "label": "russian"}, csrf=csrf)
        answer = json.loads(body)
        assert status == 409 and answer["stale"] and answer["item"]["id"] != sid and "not saved" in answer["error"]
        assert "Traceback" not in srv.logfile.read_text()
    finally:
        srv.stop()
    assert [(s, t, lab) for _, s, t, lab in answers(store)] == [(sid, "stance", "none"), (sid, "framing", "neutral")]


def test_review_shows_paragraph_who_settled_and_the_open_count(tmp_path, articles):
    store = tmp_path / "s.sqlite"
    srv = Server([articles, "--store", store, "--annotator", "carol", "--no-model"], tmp_path).start()
    try:
        for who, labels in (("alice", ("support", "neutral")), ("bob", ("none", "western"))):
            rows = [{"id": "alpha-p2-s2", "doc_id": "alpha", "paragraph": 2, "text": "x", "stance": labels[0],
                     "framing": labels[1]}]
            (tmp_path / f"{who}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
            assert run_cli("annotate", "import", "--store", store, "--annotator", who,
                           tmp_path / f"{who}.jsonl").code == 0
        assert srv.state()["open_disagreements"] == 2
        _, _, page = srv.request("GET", "/")
        assert b'review disagreements (<span id="open-count">2</span> open)' in page
        status, _, body = srv.post("/api/adjudicate", {"id": "alpha-p2-s2", "task": "stance", "label": "none"})
        assert status == 200 and json.loads(body) == {"ok": True, "by": "carol", "open": 1, "keys": json.loads(
            body)["keys"]}
        _, _, review = srv.request("GET", "/review")
        text = review.decode()
        assert '<b id="open-count">1</b> open of 2' in text
        assert text.count('class="disagreement settled"') == 1 and text.count('class="disagreement"') == 1
        assert "settled: none, by carol (" in text
        # the paragraph around the sentence, the sentence marked in it
        assert '<span class="current">The president warned that arms supplies would provoke Moscow.</span>' in text
        assert "South Korea said it would only send humanitarian aid to Ukraine." in text
        assert 'id="filter"' in text
    finally:
        srv.stop()
    empty = Server([articles, "--store", tmp_path / "other.sqlite", "--no-model"], tmp_path).start()
    try:
        _, _, review = empty.request("GET", "/review")
        assert b"No disagreements" in review and b"other.sqlite" in review and b"<table" not in review
    finally:
        empty.stop()
