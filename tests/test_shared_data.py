"""Tests find the shared material relative to the checkout, and in CI a missing file fails the test."""

from __future__ import annotations

import pytest

from tests.conftest import PROJECT, find_shared


def test_shared_material_is_found_beside_the_checkout() -> None:
    """A file of ../shared is found from this checkout (in this layout the material is present)."""
    assert find_shared("gold", "seeds.jsonl").is_relative_to(PROJECT.parent)


def test_missing_shared_file_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """With CI set, a test whose shared file is missing fails instead of skipping."""
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="not found"):
        find_shared("no-such-file.jsonl")


def test_missing_shared_file_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without CI, a test whose shared file is missing is skipped with the path named."""
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-file"):
        find_shared("no-such-file.jsonl")
