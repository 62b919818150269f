"""``stanceframe encoders list|install``: the sentence encoders installed offline."""

from __future__ import annotations

import sys

from stanceframe.cli.exit_codes import EXIT_OK
from stanceframe.terminal import printable


def cmd_encoders_list(args) -> int:
    from stanceframe.encoder_store import cache_root, encoder_status

    for row in encoder_status():
        where = row["folder"] if row["installed"] else f"not installed: {row['install']}"
        print(printable(f"{row['encoder']:8s} {row['name']:42s} {where}"))
    print(printable(f"(assembled encoders live in {cache_root()}; set STANCEFRAME_CACHE to move them)"), file=sys.stderr)
    return EXIT_OK


def cmd_encoders_install(args) -> int:
    from stanceframe.encoder_store import install_encoder

    def log(msg: str) -> None:
        print(printable(msg), file=sys.stderr)

    for key in args.encoder:
        folder = install_encoder(key, force=args.force, pip=not args.no_pip, log=log)
        print(printable(str(folder)))
    return EXIT_OK
