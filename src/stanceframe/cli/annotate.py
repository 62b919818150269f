"""``stanceframe annotate`` (the labelling app), ``annotate export``, ``annotate import`` and
``agreement``."""

from __future__ import annotations

import sys

from stanceframe.cli.exit_codes import EXIT_OK
from stanceframe.cli.options import load_model_option
from stanceframe.terminal import printable


def _schema_tasks() -> list[str]:
    from stanceframe.schema import load_schema

    return load_schema().task_names


def cmd_annotate(args) -> int:
    from stanceframe.annotate.serve import NO_TOKEN_WARNING, check_port, open_session, safe_settings, serve

    settings = safe_settings(args.host, args.port, args.token, no_token=args.no_token)  # refused before reading
    check_port(settings.host, settings.port)
    log = lambda line: print(f"stanceframe annotate: {printable(line)}", file=sys.stderr, flush=True)  # noqa: E731
    if args.no_token:
        log(NO_TOKEN_WARNING)
    model = None if args.no_model else load_model_option(args.model, args.runtime)
    session = open_session(args.paths, args.store, args.annotator, model=model, order=args.order,
                           refit_every=args.refit_every, text_field=args.text_field, id_field=args.id_field, log=log)
    serve(session, settings)
    return EXIT_OK


def cmd_annotate_export(args) -> int:
    from stanceframe.annotate.export import export_labels
    from stanceframe.annotate.store import Store

    store = Store(args.store, create=False)
    summary = export_labels(store, args.out, _schema_tasks())
    print(f"stanceframe annotate export: {printable(summary.text())}", file=sys.stderr)
    return EXIT_OK


def cmd_annotate_import(args) -> int:
    from stanceframe.annotate.export import import_labels
    from stanceframe.annotate.store import Store

    store = Store(args.store)
    total = sum(import_labels(store, path, args.annotator) for path in args.labels)
    print(f"stanceframe annotate import: {total} labelled sentence(s) imported as {printable(args.annotator)} "
          f"into {printable(args.store)}", file=sys.stderr)
    return EXIT_OK


def cmd_agreement(args) -> int:
    from stanceframe.annotate.agreement import agreement, format_report
    from stanceframe.annotate.store import Store

    store = Store(args.store, create=False)
    pairs, overall = agreement(store, _schema_tasks())
    print(format_report(pairs, overall))
    return EXIT_OK
