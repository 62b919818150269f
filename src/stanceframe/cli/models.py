"""``stanceframe train``, ``compare`` and ``evaluate``: fit a family, cross-validate the config's
families into a leaderboard, score a model on a labelled file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from stanceframe.cli.exit_codes import EXIT_OK
from stanceframe.cli.options import open_tracker, tasks_arg
from stanceframe.errors import StanceframeError
from stanceframe.paths import project_root
from stanceframe.terminal import printable


def _data_fields(args, user_data: bool) -> dict:
    """load_labelled keywords from --text-field/--id-field/--target-field/--schema: with
    the user's --data and no --schema, labels come from the data."""
    from stanceframe.schema import load_schema

    fields = {"text_field": args.text_field, "id_field": args.id_field, "target_field": args.target_field}
    if args.schema:
        fields["schema"] = load_schema(args.schema)
    elif user_data:
        fields["labels_from_data"] = True
    return fields


def _data_paths(values) -> list:
    """--data values: files as Paths, ``hf:...`` datasets as strings."""
    return [v if str(v).startswith("hf:") else Path(v) for v in values]


def cmd_train(args) -> int:
    from stanceframe import experiments as ex
    from stanceframe.paths import labelled_files

    paths = _data_paths(args.data) if args.data else labelled_files(project_root())
    tracker = open_tracker(args, ex.experiment_name(paths))  # fails fast before loading or training
    data = ex.load_training_data(paths, tasks_arg(args.task), **_data_fields(args, bool(args.data)))
    tasks = tasks_arg(args.task) or data.tasks
    params, params_source = _family_params(args)
    if getattr(args, "encoder", None):
        from stanceframe.models import with_encoder

        params = with_encoder(args.family, params, args.encoder)
        params_source = f"{params_source or 'the family defaults'} and --encoder"
    result = ex.train(args.family, data, tasks=tasks, tracker=tracker, export=args.export, seed=args.seed,
                      params=params)
    secs = ", ".join(f"{t} {s:.1f}s" for t, s in result.fit_seconds.items())
    print(f"trained {args.family} on {len(data)} sentences ({secs})", file=sys.stderr)
    if params:
        print(f"hyperparameters from {params_source}: {json.dumps(params)}", file=sys.stderr)
    if result.export_dir:
        print(f"model folder: {printable(result.export_dir)}", file=sys.stderr)
    if result.model_uri:
        print(f"MLflow model: {result.model_uri} (registered version {result.version})", file=sys.stderr)
    return EXIT_OK


def _family_params(args) -> tuple[dict | None, str | None]:
    """The family's hyperparameters and where they came from: the ``[families.F]`` table of
    ``--config`` (default: the project's training/experiments.toml, when it names the
    family), else the family's defaults (``None``)."""
    from stanceframe.experiment_config import DEFAULT_CONFIG, load_config

    if args.config and str(args.config) == "none":
        return None, None
    path = args.config or project_root() / DEFAULT_CONFIG
    if not args.config and not Path(path).is_file():
        return None, None
    config = load_config(path)
    if args.family not in config.families:
        if args.config:
            raise StanceframeError(f"{path}: no [families.{args.family}] table")
        return None, None
    return config.families[args.family], f"{path} [families.{args.family}]"


def cmd_compare(args) -> int:
    from stanceframe import experiments as ex
    from stanceframe.experiment_config import DEFAULT_CONFIG, load_config
    from stanceframe.report import format_table

    root = project_root()
    config = load_config(args.config or root / DEFAULT_CONFIG)
    paths = _data_paths(args.data) if args.data else ex.resolve(root, config.gold)
    tracker = open_tracker(args, ex.experiment_name(paths))
    data = None
    if args.data:  # the user's labelled set replaces the config's data
        data = ex.load_training_data(paths, tasks_arg(args.task), **_data_fields(args, True))
    elif args.task or args.target_field or args.schema:
        raise StanceframeError("--task, --target-field and --schema go with --data (the config names its own data)")
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    if args.export and not args.promote:
        raise StanceframeError("--export goes with --promote")
    result = ex.compare(config, tracker=tracker, root=root, promote=args.promote, families=args.family or None,
                        progress=progress, data=data, export=args.export)
    rows = [[r["family"], r["task"], f"{r['macro_f1']:.3f} ± {r['macro_f1_std']:.3f}",
             " ".join(f"{k}:{v:.2f}" for k, v in r["per_class_f1"].items()), r["accuracy"], r["ece"],
             f"{r['fit_seconds']:.2f}", f"{r['sentences_per_s']:,.0f}"] for r in result.leaderboard]
    print(format_table(["family", "task", "macro-F1", "per-class F1", "accuracy", "ECE", "fit s", "sent/s"], rows))
    print(f"\nbest ({config.promote_rule}): {result.best}", file=sys.stderr)
    if result.best_per_task:
        print("best per task (mean of " + " and ".join(config.promote_protocols) + "): "
              + ", ".join(f"{t} {f}" for t, f in result.best_per_task.items()), file=sys.stderr)
    print(f"leaderboard: {result.report_paths['markdown']}, {result.report_paths['png']}", file=sys.stderr)
    if result.promoted:
        print(f"promoted {result.promoted['family']} -> {result.promoted['export']} "
              f"(registry alias champion -> version {result.promoted['version']})", file=sys.stderr)
    return EXIT_OK


def cmd_evaluate(args) -> int:
    from stanceframe import experiments as ex
    from stanceframe.models.loading import load_model
    from stanceframe.report import format_table

    bundle = load_model(args.model)
    args.target_field = args.target_field or bundle.target_field  # the field the model was trained with
    data = ex.load_training_data(_data_paths([args.data]), tasks_arg(args.task) or bundle.tasks,
                                 **_data_fields(args, True))
    metrics = ex.evaluate_bundle(bundle, data, tasks_arg(args.task))
    print(format_table(["task", "label", "F1 / macro-F1", "precision / acc", "recall / ECE", "support / n"],
                       ex.metrics_table_rows(metrics)))
    if args.json:
        Path(args.json).write_text(json.dumps(metrics, indent=2))
    return EXIT_OK


def cmd_onnx(args) -> int:
    from stanceframe.models.onnx_quantize import set_precision
    from stanceframe.models.onnx_runtime import use_runtime
    from stanceframe.paths import corpora

    use_runtime("onnx")
    seed_texts = []
    if args.precision == "int8":
        seed, _ = corpora()
        seed_texts = [json.loads(line)["text"] for line in seed.sentences.open(encoding="utf-8") if line.strip()]
    entry = set_precision(Path(args.model), args.precision, seed_texts,
                          log=lambda line: print(f"stanceframe onnx: {line}", file=sys.stderr))
    print(f"stanceframe onnx: {args.model} runs {entry['precision']} on ONNX Runtime", file=sys.stderr)
    return EXIT_OK

