"""Helpers for the annotation tests: articles written in the test, a real server process."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from support.net import free_port
from support.paths import STANCEFRAME

# two articles: six and five sentences, in paragraphs
ARTICLE_A = (
    "Seoul refuses lethal aid to Kyiv.\n\n"
    "South Korea said it would only send humanitarian aid to Ukraine. The president warned that arms "
    "supplies would provoke Moscow. Officials met in Seoul on Tuesday.\n\n"
    "Russia's special military operation continues, the Kremlin said. Poland asked Seoul to transfer artillery shells."
)
ARTICLE_B = (
    "NATO condemned Russia's invasion of Ukraine.\n\n"
    "The collective West wages a proxy war, the ministry claimed. Seoul will reconsider the issue of arms supply "
    "to Ukraine. The talks ended without a statement.\n\n"
    "Pyongyang sent troops to Kursk, <script>alert(1)</script> officials said."
)


def write_articles(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alpha.txt").write_text(ARTICLE_A, encoding="utf-8")
    (folder / "beta.txt").write_text(ARTICLE_B, encoding="utf-8")
    return folder


class Server:
    """``stanceframe annotate`` as a real process on 127.0.0.1 (its own process group)."""

    def __init__(self, args: list[str], cwd: Path, port: int | None = None, host: str = "127.0.0.1"):
        self.port = port or free_port()
        self.host = host
        self.log = open(cwd / f"server-{self.port}.log", "w")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [*STANCEFRAME, "annotate", *map(str, args), "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=cwd, env=env,
                                     start_new_session=True)
        self.logfile = Path(self.log.name)
        self.token: str | None = None  # read from the start line; sent as the cookie by request()

    def start(self) -> Server:
        """Wait until the server answers (any status: with a token it refuses the probe)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                self.request("GET", "/favicon.ico")
                found = re.search(r"\?token=([\w.~-]+)", self.logfile.read_text())
                self.token = found.group(1) if found else None
                return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("annotate server did not start:\n" + self.logfile.read_text())

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The start URL the server printed (with its token: the browser keeps it as a cookie)."""
        return self.base + "/" + (f"?token={self.token}" if self.token else "")

    def request(self, method: str, path: str, body=None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        hdrs = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
        if self.token and "Cookie" not in hdrs and "token=" not in path:
            hdrs["Cookie"] = f"stanceframe_token={self.token}"
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
        conn.close()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), payload

    def csrf(self) -> str:
        status, _, page = self.request("GET", "/")
        assert status == 200
        text = page.decode()
        marker = 'name="csrf-token" content="'
        return text[text.index(marker) + len(marker):].split('"', 1)[0]

    def post(self, path: str, body: dict, csrf: str | None = None, **headers):
        hdrs = {"Content-Type": "application/json", "Origin": self.base,
                "X-CSRF-Token": csrf if csrf is not None else self.csrf(), **headers}
        return self.request("POST", path, body, hdrs)

    def state(self) -> dict:
        status, _, body = self.request("GET", "/api/state")
        assert status == 200, body
        return json.loads(body)

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
