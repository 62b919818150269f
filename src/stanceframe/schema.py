"""Tasks, label sets, label descriptions and cue words, read from ``training/schema.toml``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import tomllib

from stanceframe.errors import SchemaError

SCHEMA_ENV = "STANCEFRAME_SCHEMA"


@dataclass(frozen=True)
class Label:
    name: str
    description: str
    cues: tuple[str, ...] = ()


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    labels: tuple[Label, ...]
    default: str | None = None  # the "no position" label, if the task has one

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]

    def label(self, name: str) -> Label:
        for label in self.labels:
            if label.name == name:
                return label
        raise SchemaError(f"task {self.name!r} has no label {name!r}; known: {', '.join(self.label_names)}")


@dataclass(frozen=True)
class Schema:
    tasks: dict[str, Task] = field(default_factory=dict)
    path: str | None = None

    @property
    def task_names(self) -> list[str]:
        return list(self.tasks)

    def task(self, name: str) -> Task:
        try:
            return self.tasks[name]
        except KeyError:
            raise SchemaError(f"unknown task {name!r}; known: {', '.join(self.tasks)}") from None

    def validate(self, task: str, value: str) -> str | None:
        """Return None when ``value`` is a label of ``task``, else the reason it is not."""
        if task not in self.tasks:
            return f"unknown task {task!r}"
        if value not in self.tasks[task].label_names:
            return f"unknown {task} label {value!r} (expected one of: {', '.join(self.tasks[task].label_names)})"
        return None

    @classmethod
    def from_labels(cls, labels_by_task: dict[str, list[str]]) -> Schema:
        """A schema inferred from data: each task's labels, no descriptions or cues."""
        tasks = {
            name: Task(name, "labels taken from the data", tuple(Label(lab, "") for lab in labels))
            for name, labels in labels_by_task.items()
        }
        return cls(tasks)


def default_schema_path() -> Path:
    env = os.environ.get(SCHEMA_ENV)
    if env:
        return Path(env)
    from stanceframe.paths import project_file

    return project_file(Path("training") / "schema.toml", "schema.toml")


def parse_schema(data: dict, path: str | None = None) -> Schema:
    where = path or "schema"
    tasks = {}
    tasks_spec = data.get("tasks") or {}
    if not isinstance(tasks_spec, dict):
        raise SchemaError(f"{where}: 'tasks' must be tables [tasks.<name>], got {type(tasks_spec).__name__}")
    for task_name, spec in tasks_spec.items():
        if not isinstance(spec, dict):
            raise SchemaError(f"{where}: task {task_name!r} must be a table [tasks.{task_name}]")
        labels_spec = spec.get("labels") or {}
        if not labels_spec:
            raise SchemaError(f"{where}: task {task_name!r} has no labels")
        if not isinstance(labels_spec, dict):
            raise SchemaError(f"{where}: task {task_name!r} labels must be tables [tasks.{task_name}.labels.<name>]")
        for name, lab in labels_spec.items():
            if not isinstance(lab, dict):
                raise SchemaError(f"{where}: label {task_name}.{name} must be a table [tasks.{task_name}.labels.{name}]")
            if not isinstance(lab.get("cues", []), list):
                raise SchemaError(f"{where}: label {task_name}.{name} cues must be a list of strings")
        labels = tuple(
            Label(name, str(lab.get("description", "")), tuple(str(c).lower() for c in lab.get("cues", [])))
            for name, lab in labels_spec.items()
        )
        default = spec.get("default")
        if default is not None and default not in [lab.name for lab in labels]:
            raise SchemaError(f"{where}: task {task_name!r} default {default!r} is not one of its labels")
        tasks[task_name] = Task(task_name, str(spec.get("description", "")), labels, default)
    if not tasks:
        raise SchemaError(f"{where}: no [tasks.*] tables")
    return Schema(tasks, path)


def load_schema(path: str | os.PathLike | None = None) -> Schema:
    return _load_schema(str(path or default_schema_path()))


@lru_cache(maxsize=8)
def _load_schema(path: str) -> Schema:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise SchemaError(f"{path}: schema file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(f"{path}: invalid TOML: {exc}") from None
    return parse_schema(data, path)
