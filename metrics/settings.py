"""Validated settings: defaults in code, then ``<config>/settings.toml``, then the environment.

Environment variables use the ``METRICS_`` prefix and ``__`` for nesting
(``METRICS_CHANNELS__OPS__SECRET=whsec_...``). Every model forbids unknown keys, so a typo fails at
start with its key named. Secrets are ``SecretStr`` and never logged. ``load_settings`` is the one
entry point; it turns validation failures into ``ConfigError`` naming the file and the key.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from metrics.errors import ConfigError

SETTINGS_FILE = "settings.toml"
ENV_PREFIX = "METRICS_"
_TOML_PATH: contextvars.ContextVar[Path | None] = contextvars.ContextVar("_TOML_PATH", default=None)


class Strict(BaseModel):
    """Base of nested settings: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LogChannel(Strict):
    """Write each notification as a structured log event (``notify.log``)."""

    type: Literal["log"] = "log"


class EmailChannel(Strict):
    """Send notifications by SMTP (STARTTLS or SSL with the certificate verified)."""

    type: Literal["email"] = "email"
    host: str
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "metrics-alerts@localhost"
    to: list[str] = Field(min_length=1)
    timeout_s: float = 15.0
    ca_file: Path | None = None          # extra CA bundle to trust (a private relay's certificate)


class WebhookChannel(Strict):
    """POST JSON notifications signed per the Standard Webhooks spec."""

    type: Literal["webhook"] = "webhook"
    url: str
    secret: SecretStr                    # "whsec_<base64>" as Standard Webhooks issues it
    timeout_s: float = 10.0
    headers: dict[str, str] = Field(default_factory=dict)


Channel = Annotated[LogChannel | EmailChannel | WebhookChannel, Field(discriminator="type")]


class PricesSettings(Strict):
    """Which prices to fetch and when."""

    start: dt.date = dt.date(2023, 1, 1)         # first date fetched for a ticker with no history
    tickers: list[str] = Field(default_factory=list)  # fetched besides the registry's listed companies
    fetch_delay_minutes: int = Field(30, ge=0)   # after each exchange's close
    max_attempts: int = Field(4, ge=1)           # per ticker, on rate limits and transient errors
    fetch: bool = True                           # false: never fetch (offline installs; files only)
    # imported by the daemon at start when the store holds no prices (the first run, offline)
    seed_files: list[Path] = Field(default_factory=lambda: [Path("examples/prices/daily_sample.parquet")])


class SchedulerSettings(Strict):
    """Intervals of the daemon's jobs."""

    ingest_every_s: int = Field(300, ge=1)
    evaluate_every_s: int = Field(3600, ge=1)
    deliver_every_s: int = Field(30, ge=1)
    compact_hour_utc: int = Field(3, ge=0, le=23)
    misfire_grace_s: int = Field(6 * 3600, ge=1)
    replay_max_days: int = Field(30, ge=0)       # missed evaluations replayed after downtime


class DeliverySettings(Strict):
    """Outbox retry policy: exponential backoff with jitter, then dead letter."""

    max_attempts: int = Field(8, ge=1)
    backoff_base_s: float = Field(30.0, gt=0)
    backoff_max_s: float = Field(3600.0, gt=0)
    batch_size: int = Field(100, ge=1)


class StoreSettings(Strict):
    """Where the tables live: the local root (default) or an S3 URL, and how to reach S3.

    Unset S3 fields fall back to the standard ``AWS_ENDPOINT_URL``, ``AWS_REGION``,
    ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_ALLOW_HTTP`` variables, read by delta-rs.
    """

    url: str | None = None                       # s3://bucket/prefix; None: the tables under `root`
    endpoint_url: str | None = None              # an S3-compatible server (SeaweedFS, MinIO, R2...)
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    allow_http: bool | None = None               # true for a plain-HTTP endpoint
    options: dict[str, str] = Field(default_factory=dict)   # other delta-rs storage options


class HttpSettings(Strict):
    """The web view and ``/metrics`` (``metrics serve``; the daemon serves it when ``enabled``).

    A bind other than the loopback needs ``token`` (``METRICS_HTTP__TOKEN``): every request must then
    carry ``Authorization: Bearer <token>``.
    """

    enabled: bool = False                        # the daemon serves the view (config/settings.toml: true)
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)      # 0: any free port
    token: SecretStr | None = None               # bearer token; keep it in the environment


def _default_channels() -> dict[str, Channel]:
    return {"log": LogChannel()}


class Settings(BaseSettings):
    """Everything the library and the daemon are configured by."""

    model_config = SettingsConfigDict(
        env_prefix="METRICS_", env_nested_delimiter="__", extra="forbid", frozen=True,
    )

    root: Path = Path("parquet")                 # Delta tables (unless store.url), state database
    config: Path = Path("config")                # settings.toml, companies.toml, rules.toml
    inbox: Path = Path("examples/documents")     # documents the daemon ingests
    state_url: str | None = None                 # SQLAlchemy URL; default sqlite under root
    lock_timeout_s: float = Field(60.0, gt=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    public_url: str | None = None                # where alert links point, if anywhere
    store: StoreSettings = StoreSettings()
    prices: PricesSettings = PricesSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    delivery: DeliverySettings = DeliverySettings()
    channels: dict[str, Channel] = Field(default_factory=_default_channels)
    http: HttpSettings = HttpSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _TOML_PATH.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def rules_file(self) -> Path:
        return self.config / "rules.toml"

    @property
    def companies_file(self) -> Path:
        return self.config / "companies.toml"

    @property
    def database_url(self) -> str:
        return self.state_url or f"sqlite:///{(self.root / 'state.db').as_posix()}"


def _check_environment(env: Mapping[str, str]) -> None:
    """Fail on a ``METRICS_*`` variable that names no setting (pydantic-settings ignores those)."""
    fields = {name.upper() for name in Settings.model_fields}
    for key in env:
        if key.startswith(ENV_PREFIX):
            top = key[len(ENV_PREFIX):].split("__", 1)[0]
            if top not in fields:
                raise ConfigError("no such setting", source="environment", key=key)


def load_settings(config: Path | str | None = None, *, env: Mapping[str, str] | None = None,
                  **overrides: Any) -> Settings:
    """Build the settings from ``<config>/settings.toml`` (if present), the environment and overrides.

    ``overrides`` (e.g. ``root=`` from the command line) win over everything; ``None`` values are
    ignored. Raises ``ConfigError`` naming the file and the offending key.
    """
    _check_environment(env if env is not None else os.environ)
    given = {k: v for k, v in overrides.items() if v is not None}
    config_dir = Path(config) if config is not None else None
    if config_dir is not None:
        given["config"] = config_dir
    toml_path = (config_dir or Path("config")) / SETTINGS_FILE
    if toml_path.exists():
        try:
            tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"not valid TOML: {e}", source=toml_path) from e
    token = _TOML_PATH.set(toml_path if toml_path.exists() else None)
    try:
        return Settings(**given)
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        where = toml_path if toml_path.exists() else "environment"
        raise ConfigError(f"{first['msg']} ({len(e.errors())} error(s))", source=where, key=key) from e
    finally:
        _TOML_PATH.reset(token)
