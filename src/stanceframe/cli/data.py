"""``stanceframe data build`` and ``data stats``: segment and validate the labelled data; label counts."""

from __future__ import annotations

import sys

from stanceframe.cli.exit_codes import EXIT_OK
from stanceframe.paths import project_root


def cmd_data_build(args) -> int:
    from stanceframe.data_build import build_corpora, build_seed_set
    from stanceframe.paths import contrast_file, corpora

    root = project_root()
    if args.seeds or args.sentences or args.labels:  # one folder of articles (the seed's paths by default)
        seed = corpora(root)[0]
        reports = [build_seed_set(args.seeds or seed.articles, args.sentences or seed.sentences,
                                  args.labels or seed.labels)]
    else:
        reports = build_corpora([c for c in corpora(root) if c.articles.is_dir()], also_labelled=[contrast_file(root)])
    for r in reports:
        print(f"{r.name}: segmented {r.documents} document(s) into {r.sentences} sentences -> {r.sentences_path}; "
              f"all carry labels in {r.labels_path}", file=sys.stderr)
    if len(reports) > 1:
        print(f"no sentence text repeats across the {sum(r.documents for r in reports)} articles or the contrast set",
              file=sys.stderr)
    return EXIT_OK


def cmd_data_stats(args) -> int:
    from stanceframe.data_build import load_catalog
    from stanceframe.dataset import load_labelled
    from stanceframe.paths import corpora, labelled_files
    from stanceframe.report import catalog_stats_table, label_stats_table

    root = project_root()
    if args.by:  # the written corpus's label counts per catalog field
        written = corpora(root)[1]
        catalog = load_catalog(args.catalog or written.catalog)
        labelled = load_labelled(args.data[0] if args.data else written.labels)
        print(catalog_stats_table(labelled, catalog, args.by))
        return EXIT_OK
    paths = args.data or labelled_files(root)
    sets = [load_labelled(p) for p in paths]
    print(label_stats_table(sets))
    return EXIT_OK


def cmd_data_voice(args) -> int:
    from stanceframe.data_build import voice_scores
    from stanceframe.report import format_table

    root = project_root()
    labels = args.labels or root / "data" / "voice" / "labels.jsonl"
    scores = voice_scores(labels, args.articles or root / "data" / "written" / "articles")
    rows = []
    for split, s in scores.items():
        for voice, c in s["classes"].items():
            rows.append([split, voice, c["support"], c["precision"], c["recall"]])
        rows.append([split, "accuracy", s["n"], s["accuracy"], ""])
    print(format_table(["sentences", "voice", "n", "precision", "recall"], rows))
    return EXIT_OK
