"""The annotation web app: a small Starlette app over a :class:`Session`.

Safe by default (:class:`Guard`, an ASGI middleware in front of every route):

- the ``Host`` header must name the address the server is bound to (``127.0.0.1:PORT``,
  ``localhost:PORT``...): a DNS-rebinding page whose name resolves to 127.0.0.1 is refused;
- with a token (the default, on loopback too; ``--no-token`` opts out there only), every
  request must carry it: ``?token=`` once (it is then kept in an HttpOnly, SameSite=Strict
  cookie, as Jupyter does) or the cookie;
- a request body is at most :data:`MAX_BODY_BYTES` (413 beyond: read no further), and a
  token or CSRF header that is not ASCII is just a wrong one (403, never a 500);
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
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from stanceframe.annotate.agreement import disagreements
from stanceframe.annotate.session import BadRequest, Session, Stale

HERE = Path(__file__).parent
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
                    (b"cache-control", b"no-store")]
TOKEN_COOKIE = "stanceframe_token"
MAX_BODY_BYTES = 64 * 1024  # a key press is under 200 bytes


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of a secret from a request (any characters) with ours."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


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
            if same_secret(query.get("token", [""])[0], self.settings.token):
                set_cookie = f"{TOKEN_COOKIE}={self.settings.token}; HttpOnly; SameSite=Strict; Path=/"

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                if set_cookie:
                    extra.append((b"set-cookie", set_cookie.encode()))
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        if refusal is None and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            length = headers.get("content-length", "0").strip()
            too_long = not length.isdigit() or int(length) > MAX_BODY_BYTES
            body = None if too_long else await read_body(receive, MAX_BODY_BYTES)
            if body is None:
                refusal = 413, "too large", f"refused: a request body is at most {MAX_BODY_BYTES} bytes"
            else:
                receive = replay(body)
        if refusal is not None:
            status, kind, text = refusal
            return await JSONResponse({"error": text, "refused": kind}, status_code=status)(
                scope, receive, send_with_headers)
        return await self.app(scope, receive, send_with_headers)

    def refusal(self, scope, headers) -> tuple[int, str, str] | None:
        """(status, kind, message) of a refused request; the page acts on ``kind``."""
        s = self.settings
        host = headers.get("host", "").lower()
        if not s.any_host and host not in s.allowed_hosts:
            return 421, "host", "refused: the Host header does not name this server (DNS rebinding?)"
        if s.token:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            cookie = SimpleCookie()
            try:
                cookie.load(headers.get("cookie", ""))
            except Exception:  # noqa: BLE001 - a malformed cookie header is no token
                cookie = SimpleCookie()
            given = query.get("token", [""])[0] or (cookie[TOKEN_COOKIE].value if TOKEN_COOKIE in cookie else "")
            if not same_secret(given, s.token):
                return 403, "token", "refused: open the URL with ?token= that the server printed"
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            origin = headers.get("origin")
            if origin is not None and origin.lower().removeprefix("http://") not in (
                    s.allowed_hosts if not s.any_host else {host}):
                return 403, "origin", "refused: cross-origin request"
            if headers.get("sec-fetch-site") == "cross-site":
                return 403, "origin", "refused: cross-site request"
            if not same_secret(headers.get("x-csrf-token", ""), s.csrf):
                return 403, "csrf", "refused: missing or wrong CSRF token"
            if headers.get("content-type", "").split(";")[0].strip() != "application/json":
                return 415, "type", "refused: expected application/json"
        return None


async def read_body(receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it passes ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes):
    """An ASGI ``receive`` that hands the buffered body on once."""
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}
    return receive


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
        with session.lock:
            page = env.get_template("index.html").render(
                csrf=settings.csrf, annotator=session.annotator, keys=keymap(), tasks=session.tasks,
                guide=label_guide(session.tasks), store=str(session.store.path),
                open_disagreements=session.open_disagreements())
        return HTMLResponse(page)

    async def state(request: Request):
        # the CSRF token travels with the state so that a page served by an earlier run of the
        # server can refresh it (a cross-origin page cannot read this answer)
        return JSONResponse({**session.state(), "keys": keymap(), "csrf": settings.csrf})

    async def body(request: Request) -> dict:
        try:
            data = json.loads(await request.body() or b"{}")
        except (ValueError, RecursionError):
            raise BadRequest("the request body is not JSON (or nested too deeply)") from None
        if not isinstance(data, dict):
            raise BadRequest("the request body must be a JSON object")
        return data

    def action(fn):
        async def endpoint(request: Request):
            try:
                data = await body(request)
                result = fn(data)
            except Stale as exc:  # the page shows the sentence that is current now, and says why
                return JSONResponse({**session.state(), "keys": keymap(), "error": str(exc), "stale": True},
                                    status_code=409)
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
    order = action(lambda d: session.set_order(text(d, "order")))

    def adjudicate_fn(d):
        sid, task, value = text(d, "id"), text(d, "task"), text(d, "label")
        session._check(sid, {task: value})
        with session.lock:
            session.store.adjudicate(sid, task, value, session.annotator)
        return {"ok": True, "by": session.annotator, "open": session.open_disagreements()}

    adjudicate = action(adjudicate_fn)

    async def review(request: Request):
        with session.lock:
            rows = review_rows(session)
        return HTMLResponse(env.get_template("review.html").render(
            rows=rows, csrf=settings.csrf, annotator=session.annotator,
            open=sum(not r["adjudicated"] for r in rows), store=str(session.store.path)))

    async def favicon(request: Request):
        return Response(status_code=204)

    routes = [
        Route("/", index), Route("/review", review), Route("/api/state", state),
        Route("/api/label", label, methods=["POST"]), Route("/api/accept", accept, methods=["POST"]),
        Route("/api/skip", skip, methods=["POST"]), Route("/api/undo", undo, methods=["POST"]),
        Route("/api/order", order, methods=["POST"]),
        Route("/api/adjudicate", adjudicate, methods=["POST"]), Route("/favicon.ico", favicon),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Guard(Starlette(routes=routes), settings)


def label_guide(tasks: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    """task -> label -> its one-line description from the schema (the guideline's labels)."""
    from stanceframe.schema import load_schema

    schema = load_schema()
    out = {}
    for task, labels in tasks.items():
        known = {lab.name: lab.description for lab in schema.task(task).labels} if task in schema.task_names else {}
        out[task] = {label: known.get(label, "") for label in labels}
    return out


def review_rows(session: Session) -> list[dict]:
    """The review view's rows: each disagreement with its paragraph, the labels given, and
    the adjudication (label, who, when) where there is one."""
    store = session.store
    found = disagreements(store, list(session.tasks))
    settled = store.adjudication_details()
    wanted = {d.sentence_id for d in found}
    rows = {s.id: s for s in store.sentences()} if wanted - set(session.by_id) else session.by_id
    rows_by_para: dict[tuple, list] = {}
    for s in rows.values():
        rows_by_para.setdefault((s.doc_id, s.paragraph), []).append(s)
    out = []
    for d in found:
        s = rows.get(d.sentence_id)
        para = sorted(rows_by_para.get((s.doc_id, s.paragraph), []), key=lambda o: o.ord) if s else []
        done = settled.get(d.sentence_id, {}).get(d.task)
        out.append({"id": d.sentence_id, "task": d.task, "labels": d.labels, "text": s.text if s else "",
                    "doc_id": s.doc_id if s else "", "paragraph": s.paragraph if s else None,
                    "context": [{"text": o.text, "current": o.id == d.sentence_id} for o in para],
                    "adjudicated": done.label if done else None, "by": done.annotator if done else None,
                    "time": done.time if done else None,
                    "choices": session.tasks.get(d.task, sorted(set(d.labels.values())))})
    return out
