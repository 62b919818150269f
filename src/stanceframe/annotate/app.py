"""The annotation web app: a small Starlette app over a :class:`Session`.

Safe by default (:class:`Guard`, an ASGI middleware in front of every route):

- the ``Host`` header must name the address the server is bound to (``127.0.0.1:PORT``,
  ``localhost:PORT``...): a DNS-rebinding page whose name resolves to 127.0.0.1 is refused;
- with a token (required off loopback), every request must carry it: ``?token=`` once
  (it is then kept in an HttpOnly, SameSite=Strict cookie) or the cookie;
- a state-changing request (POST) must carry the page's CSRF token in ``X-CSRF-Token``, be
  JSON, and come from no foreign ``Origin`` (nor ``Sec-Fetch-Site: cross-site``);
- every answer carries a Content-Security-Policy that allows nothing but this origin's own
  scripts, styles and fetches (no remote load, no inline script), ``nosniff`` and
  ``no-referrer``; templates autoescape and the page's script sets text with
  ``textContent``, so article text is always escaped.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from stanceframe.annotate.agreement import disagreements
from stanceframe.annotate.session import BadRequest, Session

HERE = Path(__file__).parent
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
                    (b"cache-control", b"no-store")]
TOKEN_COOKIE = "stanceframe_token"


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def allowed_hosts(self) -> set[str]:
        """``Host`` header values accepted (lower case)."""
        names = {self.host.lower()}
        if is_loopback(self.host):
            names |= {"127.0.0.1", "localhost", "[::1]"}
        if ":" in self.host and not self.host.startswith("["):
            names.add(f"[{self.host.lower()}]")
        out = {f"{n}:{self.port}" for n in names}
        if self.port == 80:
            out |= names
        return out

    @property
    def any_host(self) -> bool:
        """Bound to every interface: any Host is accepted, the token (required then) guards."""
        return self.host in ("0.0.0.0", "::")

    def url(self) -> str:
        host = "127.0.0.1" if self.any_host else (f"[{self.host}]" if ":" in self.host else self.host)
        return f"http://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")


class Guard:
    """ASGI middleware: Host check, token, CSRF and Origin checks, security headers."""

    def __init__(self, app, settings: Settings):
        self.app, self.settings = app, settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self.refusal(scope, headers)
        set_cookie = None
        if refusal is None and self.settings.token:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            if hmac.compare_digest(query.get("token", [""])[0], self.settings.token):
                set_cookie = f"{TOKEN_COOKIE}={self.settings.token}; HttpOnly; SameSite=Strict; Path=/"

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                if set_cookie:
                    extra.append((b"set-cookie", set_cookie.encode()))
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        if refusal is not None:
            status, text = refusal
            return await PlainTextResponse(text, status_code=status)(scope, receive, send_with_headers)
        return await self.app(scope, receive, send_with_headers)

    def refusal(self, scope, headers) -> tuple[int, str] | None:
        s = self.settings
        host = headers.get("host", "").lower()
        if not s.any_host and host not in s.allowed_hosts:
            return 421, "refused: the Host header does not name this server (DNS rebinding?)"
        if s.token:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            cookie = SimpleCookie()
            try:
                cookie.load(headers.get("cookie", ""))
            except Exception:  # noqa: BLE001 - a malformed cookie header is no token
                cookie = SimpleCookie()
            given = query.get("token", [""])[0] or (cookie[TOKEN_COOKIE].value if TOKEN_COOKIE in cookie else "")
            if not hmac.compare_digest(given, s.token):
                return 403, "refused: open the URL with ?token= that the server printed"
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            origin = headers.get("origin")
            if origin is not None and origin.lower().removeprefix("http://") not in (
                    s.allowed_hosts if not s.any_host else {host}):
                return 403, "refused: cross-origin request"
            if headers.get("sec-fetch-site") == "cross-site":
                return 403, "refused: cross-site request"
            if not hmac.compare_digest(headers.get("x-csrf-token", ""), s.csrf):
                return 403, "refused: missing or wrong CSRF token"
            if headers.get("content-type", "").split(";")[0].strip() != "application/json":
                return 415, "refused: expected application/json"
        return None


def templates() -> Environment:
    return Environment(loader=FileSystemLoader(HERE / "templates"),
                       autoescape=select_autoescape(default=True, default_for_string=True))


def create_app(session: Session, settings: Settings) -> Guard:
    env = templates()

    def keymap() -> dict:
        """task -> label -> key: digits 1, 2, 3... across the tasks in order."""
        keys, n = {}, 0
        for task, labels in session.tasks.items():
            keys[task] = {}
            for label in labels:
                n += 1
                keys[task][label] = str(n) if n < 10 else "qwertyuiop"[n - 10]
        return keys

    async def index(request: Request):
        page = env.get_template("index.html").render(csrf=settings.csrf, annotator=session.annotator,
                                                     keys=keymap(), tasks=session.tasks)
        return HTMLResponse(page)

    async def state(request: Request):
        return JSONResponse({**session.state(), "keys": keymap()})

    async def body(request: Request) -> dict:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            raise BadRequest("the request body is not JSON") from None
        if not isinstance(data, dict):
            raise BadRequest("the request body must be a JSON object")
        return data

    def action(fn):
        async def endpoint(request: Request):
            try:
                data = await body(request)
                result = fn(data)
            except BadRequest as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse({**result, "keys": keymap()})
        return endpoint

    def text(data, name):
        value = data.get(name)
        if not isinstance(value, str):
            raise BadRequest(f"missing {name!r}")
        return value

    label = action(lambda d: session.label(text(d, "id"), text(d, "task"), text(d, "label")))
    accept = action(lambda d: session.accept(text(d, "id")))
    skip = action(lambda d: session.skip(text(d, "id")))
    undo = action(lambda d: session.undo())

    def adjudicate_fn(d):
        sid, task, value = text(d, "id"), text(d, "task"), text(d, "label")
        session._check(sid, {task: value})
        with session.lock:
            session.store.adjudicate(sid, task, value, session.annotator)
        return {"ok": True}

    adjudicate = action(adjudicate_fn)

    async def review(request: Request):
        with session.lock:
            found = disagreements(session.store, list(session.tasks))
            settled = session.store.adjudications()
            rows = [{"id": d.sentence_id, "task": d.task, "labels": d.labels,
                     "text": session.by_id[d.sentence_id].text if d.sentence_id in session.by_id else
                     next((s.text for s in session.store.sentences([d.sentence_id])), ""),
                     "adjudicated": settled.get(d.sentence_id, {}).get(d.task),
                     "choices": session.tasks.get(d.task, sorted(set(d.labels.values())))} for d in found]
        return HTMLResponse(env.get_template("review.html").render(rows=rows, csrf=settings.csrf,
                                                                   annotator=session.annotator))

    async def favicon(request: Request):
        return Response(status_code=204)

    routes = [
        Route("/", index), Route("/review", review), Route("/api/state", state),
        Route("/api/label", label, methods=["POST"]), Route("/api/accept", accept, methods=["POST"]),
        Route("/api/skip", skip, methods=["POST"]), Route("/api/undo", undo, methods=["POST"]),
        Route("/api/adjudicate", adjudicate, methods=["POST"]), Route("/favicon.ico", favicon),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Guard(Starlette(routes=routes), settings)
