"""``stanceframe report``: the corpus report over tag's rows (CSV, Markdown, HTML page)."""

from __future__ import annotations

import sys

from stanceframe.cli.exit_codes import EXIT_OK
from stanceframe.terminal import printable


def cmd_report(args) -> int:
    from stanceframe.report_data import build_report, connect
    from stanceframe.report_page import markdown, write_csv, write_html, write_markdown

    con = connect(args.memory_limit)
    data = build_report(args.tagged, args.by or [], evidence=args.evidence, meta=args.meta,
                        meta_fields=args.meta_field or (), con=con)
    written = []
    if args.csv:
        written.append(write_csv(data, args.csv))
    if args.md:
        written.append(write_markdown(data, args.md))
    if args.html:
        written.append(write_html(data, con, args.html, evidence_k=args.evidence))
    if not written:
        sys.stdout.write(markdown(data))
    groups = len({r.key for r in data.rows})
    print(f"stanceframe report: {data.n_sentences:,} sentence(s) in {groups:,} group(s)"
          + "".join(f"; {printable(p)}" for p in written), file=sys.stderr)
    return EXIT_OK
