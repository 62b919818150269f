"""Putting a session together (articles -> store -> suggestions -> queue) and serving it
with uvicorn on a safe address."""

from __future__ import annotations

import re
import secrets
import sys
from collections.abc import Sequence

from stanceframe.annotate.app import Settings, create_app, is_loopback
from stanceframe.annotate.project import read_project
from stanceframe.annotate.queue import ORDERS, Queue
from stanceframe.annotate.session import Session
from stanceframe.annotate.store import Store
from stanceframe.annotate.suggest import suggest
from stanceframe.errors import ServeSafetyError, StanceframeError
from stanceframe.terminal import printable

MIN_TOKEN_CHARS = 16
TOKEN_CHARS = re.compile(rf"[A-Za-z0-9._~-]{{{MIN_TOKEN_CHARS},}}")
NO_TOKEN_WARNING = ("warning: --no-token: any user of this machine can read every sentence and post labels "
                    "as you while the server runs")


def open_session(paths: Sequence[str], store_path, annotator: str, *, model=None, order: str = "article",
                 refit_every: int = 20, text_field: str = "text", id_field: str = "id", log=None) -> Session:
    """Read and segment the articles, add their sentences to the store, compute the model's
    suggestions and the queue: a session ready to serve. ``model``: a loaded ModelBundle or
    None (no suggestions). Skipped inputs are reported through ``log`` (one line each)."""
    from stanceframe.schema import load_schema

    log = log or (lambda line: None)
    if not annotator or not annotator.strip():
        raise StanceframeError("--annotator must name someone")
    if order not in ORDERS:
        raise StanceframeError(f"unknown --order {order!r}; known: {', '.join(ORDERS)}")
    project = read_project(paths, text_field=text_field, id_field=id_field)
    for skipped in project.skipped:
        log(f"skipped {skipped}")
    for warning in project.warnings:
        log(f"warning: {warning}")
    store = Store(store_path)
    added = store.add_sentences(project.sentences)
    ids = [s.id for s in project.sentences]
    rows = {s.id: s for s in store.sentences(ids)}
    texts = [rows[i].text for i in ids]
    schema = load_schema()
    tasks = {t: schema.task(t).label_names for t in schema.task_names}
    suggestions = suggest(model, ids, texts, list(tasks)) if model is not None else None
    queue = Queue(ids, texts, order, suggestions.proba if suggestions else {}, refit_every=refit_every)
    log(f"{len(project.documents)} article(s), {len(ids)} sentences ({added} new in {store.path})")
    return Session(store, annotator.strip(), ids, tasks, suggestions, queue)


def safe_settings(host: str, port: int, token: str | None, *, no_token: bool = False) -> Settings:
    """A token is required by default, on loopback too (another user of a shared machine can
    reach 127.0.0.1): the given one (at least :data:`MIN_TOKEN_CHARS` URL-safe ASCII
    characters, as it travels in the URL and a cookie) or a generated one. ``no_token`` opts
    out, on loopback only."""
    if no_token:
        if token is not None:
            raise ServeSafetyError("--no-token and --token contradict each other; pass one")
        if not is_loopback(host):
            raise ServeSafetyError(f"--no-token is for loopback only; {host} needs a token")
        return Settings(host=host, port=port, token=None)
    if token is not None and not TOKEN_CHARS.fullmatch(token):
        raise ServeSafetyError(f"--token must be at least {MIN_TOKEN_CHARS} characters of A-Z a-z 0-9 . _ ~ - (it "
                               "travels in the URL and a cookie), or leave it out to get a generated one")
    return Settings(host=host, port=port, token=token or secrets.token_urlsafe(24))


def check_port(host: str, port: int) -> None:
    """A port another program holds is one line, before uvicorn logs a traceback-like error."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise StanceframeError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pass another --port") \
                from None


def serve(session: Session, settings: Settings, *, log_level: str = "warning") -> None:
    import uvicorn

    check_port(settings.host, settings.port)
    app = create_app(session, settings)
    print(f"stanceframe annotate: {session.annotator} on {printable(settings.url())} (store {session.store.path}; "
          "Ctrl-C stops, every answer is already saved)", file=sys.stderr, flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level, access_log=False,
                server_header=False, proxy_headers=False)
