"""Settings: defaults, the TOML file, the environment, and typos named at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics.errors import ConfigError
from metrics.settings import EmailChannel, WebhookChannel, load_settings


def test_defaults_without_a_config_file(tmp_path: Path) -> None:
    """With no settings.toml the embedded defaults apply: store under parquet/, a log channel."""
    s = load_settings(tmp_path, env={})
    assert s.root == Path("parquet")
    assert set(s.channels) == {"log"}
    assert s.database_url == "sqlite:///parquet/state.db"


def test_toml_then_environment_then_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment beats the file, and explicit overrides beat both."""
    (tmp_path / "settings.toml").write_text('root = "from-file"\n[prices]\nstart = "2020-01-02"\n')
    assert load_settings(tmp_path).prices.start.isoformat() == "2020-01-02"
    monkeypatch.setenv("METRICS_PRICES__START", "2021-05-06")
    monkeypatch.setenv("METRICS_ROOT", "from-env")
    s = load_settings(tmp_path)
    assert s.prices.start.isoformat() == "2021-05-06"
    assert s.root == Path("from-env")
    assert load_settings(tmp_path, root=Path("from-cli")).root == Path("from-cli")


def test_typo_in_file_names_the_key(tmp_path: Path) -> None:
    """An unknown key in settings.toml fails with the file and the dotted key named."""
    (tmp_path / "settings.toml").write_text("[scheduler]\nevaluate_evry_s = 5\n")
    with pytest.raises(ConfigError) as e:
        load_settings(tmp_path, env={})
    assert "settings.toml" in str(e.value)
    assert "scheduler.evaluate_evry_s" in str(e.value)


def test_typo_in_environment_names_the_variable(tmp_path: Path) -> None:
    """A METRICS_ variable that names no setting is an error, not silently ignored."""
    with pytest.raises(ConfigError, match="METRICS_ROTO"):
        load_settings(tmp_path, env={"METRICS_ROTO": "x"})


def test_bad_toml_is_a_config_error(tmp_path: Path) -> None:
    """A settings file that is not TOML is reported with its path."""
    (tmp_path / "settings.toml").write_text("root = [unclosed\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(tmp_path, env={})


def test_channels_and_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Channels are typed by `type`; secrets come from the environment and never print."""
    (tmp_path / "settings.toml").write_text(
        '[channels.ops]\ntype = "webhook"\nurl = "http://127.0.0.1:9/hook"\n'
        '[channels.mail]\ntype = "email"\nhost = "127.0.0.1"\nto = ["a@example.com"]\n')
    monkeypatch.setenv("METRICS_CHANNELS__OPS__SECRET", "whsec_c2VjcmV0")
    s = load_settings(tmp_path)
    ops, mail = s.channels["ops"], s.channels["mail"]
    assert isinstance(ops, WebhookChannel) and isinstance(mail, EmailChannel)
    assert ops.secret.get_secret_value() == "whsec_c2VjcmV0"
    assert "c2VjcmV0" not in repr(s)


def test_unknown_channel_type_is_rejected(tmp_path: Path) -> None:
    """A channel with an unknown type names the channel's key."""
    (tmp_path / "settings.toml").write_text('[channels.x]\ntype = "pager"\n')
    with pytest.raises(ConfigError, match=r"channels\.x"):
        load_settings(tmp_path, env={})
