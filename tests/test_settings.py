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


def test_list_variable_that_is_not_json_names_the_variable(tmp_path: Path) -> None:
    """A list setting given as plain text in the environment names the variable and shows the JSON form."""
    with pytest.raises(ConfigError) as e:
        load_settings(tmp_path, env={"METRICS_PRICES__TICKERS": "NVDA"})
    assert str(e.value).startswith("METRICS_PRICES__TICKERS: not a JSON list")
    assert '["NVDA", "MSFT"]' in str(e.value)
    assert load_settings(tmp_path, env={"METRICS_PRICES__TICKERS": '["NVDA"]'}).prices.tickers == ["NVDA"]


def test_every_error_is_listed_with_its_real_source(tmp_path: Path) -> None:
    """Errors from the file, the environment and a flag are all reported at once, each naming its source."""
    (tmp_path / "settings.toml").write_text("[scheduler]\ningest_every_s = 0\n")
    env = {"METRICS_PRICES__START": "someday", "METRICS_PRICES__TICKERS": "NVDA"}
    with pytest.raises(ConfigError) as e:
        load_settings(tmp_path, env=env, log_level="loud")
    lines = str(e.value).splitlines()
    assert lines[0] == "4 settings errors:"
    text = str(e.value)
    assert f"{tmp_path / 'settings.toml'}: scheduler.ingest_every_s:" in text
    assert "METRICS_PRICES__START: Input should be a valid date" in text and "'someday'" in text
    assert "METRICS_PRICES__TICKERS: not a JSON list" in text
    assert "--log-level: Input should be" in text


def test_a_channel_from_the_environment_is_blamed_on_its_variable(tmp_path: Path) -> None:
    """A channel defined only by environment variables names the variable, not the settings file."""
    (tmp_path / "settings.toml").write_text('log_level = "info"\n')
    with pytest.raises(ConfigError) as e:
        load_settings(tmp_path, env={"METRICS_CHANNELS__OPS__SECRET": "whsec_x"})
    assert "METRICS_CHANNELS__OPS__SECRET" in str(e.value)
    assert "settings.toml" not in str(e.value)
    assert "whsec_x" not in str(e.value)


def test_unreadable_settings_file_is_named(tmp_path: Path) -> None:
    """A settings.toml that cannot be read (here a folder) is a configuration error naming it."""
    (tmp_path / "settings.toml").mkdir()
    with pytest.raises(ConfigError, match=r"settings\.toml: cannot read"):
        load_settings(tmp_path, env={})


def _settings_file(tmp_path: Path, text: str) -> str:
    """The ``ConfigError`` text of loading ``text`` as settings.toml."""
    (tmp_path / "settings.toml").write_text(text)
    with pytest.raises(ConfigError) as e:
        load_settings(tmp_path, env={})
    return str(e.value)


def test_channel_mistakes_are_found_at_start(tmp_path: Path) -> None:
    """A non-http webhook URL, a malformed secret and an invalid address each name the channel and file."""
    text = _settings_file(tmp_path, (
        '[channels.ops]\ntype = "webhook"\nurl = "ftp://example.com/x"\nsecret = "whsec_c2VjcmV0"\n'
        '[channels.mail]\ntype = "email"\nhost = "smtp.example.com"\nto = ["ops-team"]\n'))
    assert "2 settings errors" in text
    assert "settings.toml: channels.ops.url: not an http(s) URL: 'ftp://example.com/x'" in text
    assert "settings.toml: channels.mail.to: not an e-mail address: 'ops-team'" in text
    text = _settings_file(tmp_path, (
        '[channels.ops]\ntype = "webhook"\nurl = "https://example.com/x"\nsecret = "whsec_%%%"\n'))
    assert "settings.toml: channels.ops.secret: not whsec_<base64>" in text and "%%%" not in text


@pytest.mark.parametrize(("port", "security", "needle"), [
    (465, "starttls", "port 465 is implicit TLS"),
    (587, "ssl", "port 587 starts in plain text"),
    (25, "ssl", "port 25 starts in plain text"),
    (70000, "starttls", "not between 1 and 65535"),
])
def test_smtp_port_and_security_must_agree(tmp_path: Path, port: int, security: str, needle: str) -> None:
    """An SMTP port that contradicts its security mode is refused at start, naming the channel."""
    text = _settings_file(tmp_path, (
        f'[channels.mail]\ntype = "email"\nhost = "smtp.example.com"\nport = {port}\n'
        f'security = "{security}"\nto = ["ops@example.com"]\n'))
    assert "channels.mail" in text and needle in text


def test_a_password_never_travels_in_clear(tmp_path: Path) -> None:
    """A password with security "none" is refused: it would cross the network unencrypted."""
    text = _settings_file(tmp_path, (
        '[channels.mail]\ntype = "email"\nhost = "smtp.example.com"\nport = 25\nsecurity = "none"\n'
        'password = "hunter2"\nto = ["ops@example.com"]\n'))
    assert "in clear" in text and "hunter2" not in text


@pytest.mark.parametrize("root", ["s3://bucket/x", Path("s3://bucket/x"), "gs://b", "file:///srv/metrics"])
def test_a_url_root_is_refused_with_the_way_to_s3(tmp_path: Path, root: str | Path) -> None:
    """A root that looks like a URL (even after Path folded its ``//``) is refused, pointing to
    ``[store] url`` for the tables and a local folder for the root; no folder is created."""
    with pytest.raises(ConfigError) as e:
        load_settings(tmp_path, env={}, root=root)
    message = str(e.value)
    assert "is a URL, not a local folder" in message and '[store] url = "s3://..."' in message
    assert "METRICS_STORE__URL" in message and "\n" not in message
    assert not Path("s3:").exists() and not (tmp_path / "s3:").exists()


@pytest.mark.parametrize("root", ["parquet", "/var/lib/metrics", "data:2026", "C:/metrics"])
def test_local_roots_are_accepted(tmp_path: Path, root: str) -> None:
    """Local folders, a drive letter or a colon in a name included, stay valid roots."""
    assert load_settings(tmp_path, env={}, root=root).root == Path(root)


def test_state_url_must_name_sqlite_or_postgresql_and_its_password_is_masked(tmp_path: Path) -> None:
    """A state_url of another kind is refused at start; the message masks the URL's password."""
    with pytest.raises(ConfigError) as e:
        load_settings(tmp_path, env={"METRICS_STATE_URL": "postgres://metrics:hunter2@db/metrics"})
    assert "METRICS_STATE_URL" in str(e.value) and "hunter2" not in str(e.value)
    assert "metrics:***@db" in str(e.value)
    url = "postgresql+psycopg://metrics:hunter2@db/metrics"
    assert load_settings(tmp_path, env={"METRICS_STATE_URL": url}).database_url == url
