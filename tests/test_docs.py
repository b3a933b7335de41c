"""The docs are kept honest: every command, setting and rule field is documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.core import TyperGroup

from jobs.cli import command_tree
from metrics.alerting.rules import _RuleSpec
from metrics.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(group: TyperGroup, prefix: str = "metrics") -> list[str]:
    found = []
    for name, cmd in group.commands.items():
        if getattr(cmd, "hidden", False):
            continue
        path = f"{prefix} {name}"
        found.append(path)
        if isinstance(cmd, TyperGroup):
            found += _commands(cmd, path)
    return found


def _setting_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys += _setting_keys(ann, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


COMMANDS = _commands(command_tree())  # every command module loaded (they load lazily)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_readme(command: str) -> None:
    """Each CLI command and sub-command appears in the README as it is typed."""
    assert command in README, command


@pytest.mark.parametrize("key", _setting_keys(Settings))
def test_every_setting_is_in_the_readme(key: str) -> None:
    """Each setting (top level and nested, dotted) is named in the README."""
    assert f"`{key}`" in README, key


@pytest.mark.parametrize("field", [f.alias or n for n, f in _RuleSpec.model_fields.items()])
def test_every_rule_field_is_in_the_readme(field: str) -> None:
    """Each key of a rule table is documented in the README's rule format."""
    assert f"`{field}`" in README, field
