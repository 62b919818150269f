"""schema: the committed label schema, validation, malformed files and the env override."""

from __future__ import annotations

import pytest
from support.paths import REPO

from stanceframe.errors import SchemaError
from stanceframe.schema import SCHEMA_ENV, Schema, default_schema_path, load_schema

SMALL_SCHEMA = """
[tasks.tone]
description = "How the sentence sounds"
default = "calm"

[tasks.tone.labels.calm]
description = "Measured wording"
cues = ["Cautious", "measured"]

[tasks.tone.labels.alarmed]
description = "Alarmist wording"
cues = ["World War III"]
"""


@pytest.fixture
def committed_schema(monkeypatch):
    monkeypatch.delenv(SCHEMA_ENV, raising=False)
    return load_schema(REPO / "training" / "schema.toml")


def test_committed_schema_has_stance_and_framing(committed_schema):
    schema = committed_schema
    assert schema.task_names == ["stance", "framing"]
    assert schema.task("stance").label_names == ["support", "restraint", "none"]
    assert schema.task("framing").label_names == ["western", "russian", "neutral"]
    assert schema.task("stance").default == "none"
    assert schema.task("framing").default == "neutral"
    for task in schema.tasks.values():
        assert task.description
        for label in task.labels:
            assert label.description, f"{task.name}.{label.name} has no description"
            assert all(cue == cue.lower() for cue in label.cues)
    assert "special military operation" in schema.task("framing").label("russian").cues


def test_default_schema_is_the_committed_file(monkeypatch):
    monkeypatch.delenv(SCHEMA_ENV, raising=False)
    assert default_schema_path() == REPO / "training" / "schema.toml"
    assert load_schema().task_names == ["stance", "framing"]


def test_validate(committed_schema):
    schema = committed_schema
    assert schema.validate("stance", "support") is None
    assert schema.validate("framing", "russian") is None
    reason = schema.validate("stance", "pro")
    assert "'pro'" in reason and "support, restraint, none" in reason
    assert schema.validate("framing", "Western") is not None  # labels are case-sensitive
    assert "unknown task" in schema.validate("tone", "calm")


def test_unknown_task_and_label_raise_schema_error(committed_schema):
    with pytest.raises(SchemaError, match="unknown task 'tone'"):
        committed_schema.task("tone")
    with pytest.raises(SchemaError, match="no label 'pro'"):
        committed_schema.task("stance").label("pro")


def test_small_schema_file_is_parsed(tmp_path):
    path = tmp_path / "schema.toml"
    path.write_text(SMALL_SCHEMA, encoding="utf-8")
    schema = load_schema(path)
    assert schema.task_names == ["tone"]
    assert schema.task("tone").label_names == ["calm", "alarmed"]
    assert schema.task("tone").label("calm").cues == ("cautious", "measured")
    assert schema.task("tone").label("alarmed").description == "Alarmist wording"
    assert schema.path == str(path)


MALFORMED = {
    "invalid-toml": "[tasks.stance\nx = 1\n",
    "no-tasks": "[other]\nx = 1\n",
    "tasks-not-a-table": "tasks = 5\n",
    "task-without-labels": "[tasks.stance]\ndescription = 'x'\n",
    "labels-as-a-list": "[tasks.stance]\nlabels = ['support', 'none']\n",
    "label-not-a-table": "[tasks.stance.labels]\nsupport = 'x'\n",
    "cues-not-a-list": "[tasks.stance.labels.support]\ncues = 'arms supply'\n",
    "default-not-a-label": "[tasks.stance]\ndefault = 'maybe'\n[tasks.stance.labels.support]\ndescription = 'x'\n",
}


@pytest.mark.parametrize("content", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_schema_raises_schema_error_naming_the_file(tmp_path, content):
    path = tmp_path / "broken-schema.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        load_schema(path)
    assert str(info.value).startswith(f"{path}: ")


def test_missing_schema_file(tmp_path):
    with pytest.raises(SchemaError, match="not found") as info:
        load_schema(tmp_path / "nope.toml")
    assert str(tmp_path / "nope.toml") in str(info.value)


def test_env_override(tmp_path, monkeypatch):
    path = tmp_path / "override.toml"
    path.write_text(SMALL_SCHEMA, encoding="utf-8")
    monkeypatch.setenv(SCHEMA_ENV, str(path))
    assert default_schema_path() == path
    assert load_schema().task_names == ["tone"]

    from stanceframe.dataset import load_labelled

    labelled = tmp_path / "tone.jsonl"
    labelled.write_text('{"id": "a", "text": "Calm words.", "tone": "calm"}\n', encoding="utf-8")
    data = load_labelled(labelled)  # no schema argument: the override is the default
    assert data.tasks == ["tone"]
    assert data.labels("tone") == ["calm"]


def test_env_override_to_a_broken_file(tmp_path, monkeypatch):
    path = tmp_path / "broken.toml"
    path.write_text("not = [toml", encoding="utf-8")
    monkeypatch.setenv(SCHEMA_ENV, str(path))
    with pytest.raises(SchemaError, match="broken.toml"):
        load_schema()


def test_schema_from_labels():
    schema = Schema.from_labels({"tone": ["alarmed", "calm"]})
    assert schema.task_names == ["tone"]
    assert schema.task("tone").label_names == ["alarmed", "calm"]
    assert schema.validate("tone", "calm") is None
    assert schema.validate("tone", "angry") is not None
