"""``stanceframe tag`` (local or Spark engine) and ``inspect`` (one article, its table and page)."""

from __future__ import annotations

import sys

from stanceframe.cli.exit_codes import EXIT_OK
from stanceframe.cli.options import load_model_option
from stanceframe.errors import StanceframeError
from stanceframe.terminal import printable


def cmd_tag(args) -> int:
    from stanceframe.tagging import run_tag

    if args.engine == "spark":
        return cmd_tag_spark(args)
    if args.partition_by or args.master:
        raise StanceframeError("--partition-by and --master need --engine spark")
    model = load_model_option(args.model, args.runtime)
    try:
        summary = run_tag(
            args.paths, model, out=args.out, fmt=args.format or "jsonl", per=args.per, unit=args.unit,
            text_field=args.text_field, id_field=args.id_field, batch_size=args.batch_size,
            resume=args.resume, strict=args.strict, progress=not args.quiet and sys.stderr.isatty(),
            target_field=args.target_field, force=args.force, meta_field=args.meta_field,
        )
    except KeyboardInterrupt:
        if args.out:
            print(f"stanceframe tag: stopped; the rows done so far are kept in {printable(args.out)}.part; "
                  "run the same command with --resume to complete it", file=sys.stderr)
        raise
    print(f"stanceframe tag: {printable(summary.text())}", file=sys.stderr)
    return summary.exit_code


def cmd_tag_spark(args) -> int:
    from stanceframe.spark import run_spark_tag

    if args.target_field:
        raise StanceframeError("--target-field (target-aware models) works with the local engine only, "
                               "not yet with --engine spark")
    from stanceframe.models.onnx_runtime import use_runtime

    use_runtime(args.runtime)  # the executors inherit it

    summary = run_spark_tag(
        args.paths, args.model, out=args.out, fmt=args.format, per=args.per, unit=args.unit,
        text_field=args.text_field, id_field=args.id_field, batch_size=args.batch_size, resume=args.resume,
        strict=args.strict, partition_by=args.partition_by, master=args.master,
        progress=not args.quiet and sys.stderr.isatty(), meta_field=args.meta_field,
    )
    print(f"stanceframe tag: {printable(summary.text())}", file=sys.stderr)
    return summary.exit_code


def cmd_inspect(args) -> int:
    from stanceframe import report
    from stanceframe.tagging import read_article, tag_article

    model = load_model_option(args.model, args.runtime)
    doc = read_article(args.article, text_field=args.text_field, id_field=args.id_field)
    page = None
    if args.html or args.open:  # checked before any work: never an input, a link or another program's file
        page = report.check_page_path(args.html or report.default_page_path(doc.doc_id), [args.article])
    article = tag_article(doc, model, spec=args.model or "models/default", explain=bool(args.html or args.open),
                          progress=sys.stderr.isatty())
    print(report.sentence_table(article.rows, article.classes))
    if page is not None:
        page = report.write_inspection_html(article, page, inputs=[args.article])
        print(f"inspection page: {printable(page)}", file=sys.stderr)
        if args.open:
            import webbrowser

            webbrowser.open(page.resolve().as_uri())
    return EXIT_OK
