"""Validated settings: defaults in code, then ``<config>/settings.toml``, then the environment.

Environment variables use the ``METRICS_`` prefix and ``__`` for nesting
(``METRICS_CHANNELS__OPS__SECRET=whsec_...``). Every model forbids unknown keys, so a typo fails at
start with its key named. Secrets are ``SecretStr`` and never logged. ``load_settings`` is the one
entry point; it turns validation failures into one ``ConfigError`` listing every problem, each named
by its real source: the file and key, the ``METRICS_*`` variable, or the command-line flag. (A little
over 400 lines: the models and the reporting that traces each error to its source belong together.)
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import datetime as dt
import json
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources import EnvSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from metrics.errors import ConfigError

SETTINGS_FILE = "settings.toml"
ENV_PREFIX = "METRICS_"
_TOML_PATH: contextvars.ContextVar[Path | None] = contextvars.ContextVar("_TOML_PATH", default=None)
_ENV: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("_ENV", default=None)


class _EnvSource(EnvSettingsSource):
    """The environment source over the mapping ``load_settings`` was given (default ``os.environ``)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        env = _ENV.get()
        return parse_env_vars(os.environ if env is None else env, self.case_sensitive,
                              self.env_ignore_empty, self.env_parse_none_str)


class Strict(BaseModel):
    """Base of nested settings: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LogChannel(Strict):
    """Write each notification as a structured log event (``notify.log``)."""

    type: Literal["log"] = "log"


_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_SSL_PORTS = frozenset({465})
_STARTTLS_PORTS = frozenset({25, 587})


def _check_address(value: str) -> str:
    """``value`` if it is one plain e-mail address (``name@host``), else ``ValueError``."""
    if not _ADDRESS.match(value.strip()):
        raise ValueError(f"not an e-mail address: {value!r} (expected name@host)")
    return value.strip()


class EmailChannel(Strict):
    """Send notifications by SMTP (STARTTLS or SSL with the certificate verified).

    Checked at start: the addresses, the port against the security mode (465 is implicit TLS,
    ``ssl``; 25 and 587 start in plain text, ``starttls`` or ``none``), a password only over TLS
    (``none`` would send it in clear), and the CA file exists.
    """

    type: Literal["email"] = "email"
    host: str
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "metrics-alerts@localhost"
    to: list[str] = Field(min_length=1)
    timeout_s: float = Field(15.0, gt=0)
    ca_file: Path | None = None          # extra CA bundle to trust (a private relay's certificate)

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return _check_address(value)

    @field_validator("to")
    @classmethod
    def _to(cls, value: list[str]) -> list[str]:
        return [_check_address(v) for v in value]

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 0 < value < 65536:
            raise ValueError(f"port {value} is not between 1 and 65535")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EmailChannel:
        if self.security == "ssl" and self.port in _STARTTLS_PORTS:
            raise ValueError(f"port {self.port} starts in plain text: use security = \"starttls\" "
                             "(or port 465 for ssl)")
        if self.security != "ssl" and self.port in _SSL_PORTS:
            raise ValueError(f"port 465 is implicit TLS: use security = \"ssl\" (not {self.security!r})")
        if self.security == "none" and self.password is not None:
            raise ValueError("a password with security = \"none\" would cross the network in clear: "
                             "use starttls or ssl")
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ValueError(f"ca_file {str(self.ca_file)!r} does not exist")
        if not self.host.strip():
            raise ValueError("host is empty")
        return self


class WebhookChannel(Strict):
    """POST JSON notifications signed per the Standard Webhooks spec."""

    type: Literal["webhook"] = "webhook"
    url: str
    secret: SecretStr                    # "whsec_<base64>" as Standard Webhooks issues it
    timeout_s: float = Field(10.0, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value.strip()



def secret_problem(secret: SecretStr) -> str | None:
    """Why a webhook secret is not ``whsec_<base64>`` (None when it is); never shows the secret."""
    raw = secret.get_secret_value().strip().removeprefix("whsec_")
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        return "not whsec_<base64> (the secret is not shown)"
    return None if key else "empty once base64-decoded"


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
    claim_lease_s: float = Field(60.0, gt=0)     # a delivering worker's claim on a notification


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
        sources: list[PydanticBaseSettingsSource] = [init_settings, _EnvSource(settings_cls)]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @field_validator("state_url")
    @classmethod
    def _state_url(cls, value: str | None) -> str | None:
        if value is not None and not _STATE_URL.match(value.strip()):
            raise ValueError(f"{mask_password(value)!r} is not a state database URL: use "
                             '"sqlite:///path/state.db" or "postgresql+psycopg://user:password@host/db"')
        return None if value is None else value.strip()

    @field_validator("root", mode="before")
    @classmethod
    def _local_root(cls, value: Any) -> Any:
        # Path("s3://b/x") is "s3:/b/x": match the scheme with one slash or more (2+ letters, not C:/)
        if isinstance(value, (str, Path)) and _URL_ROOT.match(str(value)):
            url = _URL_ROOT.sub(r"\1://", str(value))
            raise ValueError(f"{url!r} is a URL, not a local folder: keep the tables on S3 with "
                             '[store] url = "s3://..." (or METRICS_STORE__URL) and give a local folder as '
                             "root (state database, caches)")
        return value

    @property
    def rules_file(self) -> Path:
        return self.config / "rules.toml"

    @property
    def companies_file(self) -> Path:
        return self.config / "companies.toml"

    @property
    def database_url(self) -> str:
        return self.state_url or f"sqlite:///{(self.root / 'state.db').as_posix()}"


_STATE_URL = re.compile(r"^(sqlite|postgresql)(\+\w+)?://")
_URL_PASSWORD = re.compile(r"^([A-Za-z][\w+.-]*://[^:/@]*:).*@")  # greedy: an unescaped @ in it too
_URL_ROOT = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/+")
_FLAGS = {"root": "--root", "config": "--config", "log_level": "--log-level"}
_CHANNEL_TYPES = frozenset({"log", "email", "webhook"})
_SECRET_WORDS = ("secret", "password", "token", "key")


def _annotation(path: list[str]) -> Any:
    """The type of the setting at ``path`` (None when ``path`` names none: a channel's name, a typo)."""
    model: Any = Settings
    for part in path:
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return None
        model = fields[part].annotation
    return model


def _takes_json(annotation: Any) -> bool:
    """Whether the environment gives this type as JSON (lists, tables, nested settings)."""
    if typing.get_origin(annotation) in (list, dict, set, tuple):
        return True
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _check_environment(env: Mapping[str, str]) -> list[str]:
    """Problems of the ``METRICS_*`` variables, one line each naming the variable.

    A variable that names no setting (pydantic-settings would ignore it) and a list or table setting
    whose value is not JSON (``METRICS_PRICES__TICKERS=NVDA`` instead of ``'["NVDA"]'``).
    """
    fields = {name.upper() for name in Settings.model_fields}
    problems = []
    for key, value in sorted(env.items()):
        if not key.upper().startswith(ENV_PREFIX):
            continue
        path = key[len(ENV_PREFIX):].lower().split("__")
        if path[0].upper() not in fields:
            problems.append(f"{key}: no such setting")
            continue
        annotation = _annotation(path)
        if annotation is not None and _takes_json(annotation):
            try:
                json.loads(value)
            except ValueError:
                kind = "list" if typing.get_origin(annotation) is list else "JSON object"
                example = ' (e.g. \'["NVDA", "MSFT"]\')' if kind == "list" else ""
                problems.append(f"{key}: not a JSON {kind}{example}: {_shown(key, value)}")
    return problems


def mask_password(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1***@", url)


def _shown(key: str, value: Any) -> str:
    """A given value as an error may show it: secrets hidden (URL passwords masked), long values cut."""
    if any(w in key.lower() for w in _SECRET_WORDS) or isinstance(value, Mapping | list):
        return "(hidden)"
    text = repr(mask_password(value) if isinstance(value, str) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _env_source(loc: tuple[Any, ...], env: Mapping[str, str]) -> str | None:
    """The ``METRICS_*`` variable that gave the value at ``loc``, one of its parents or children."""
    upper = {k.upper(): k for k in env}
    for n in range(len(loc), 0, -1):
        name = ENV_PREFIX + "__".join(str(p) for p in loc[:n]).upper()
        if name in upper:
            return upper[name]
    prefix = ENV_PREFIX + "__".join(str(p) for p in loc).upper() + "__"
    children = sorted(k for u, k in upper.items() if u.startswith(prefix))
    return children[0] if children else None


def _toml_depth(loc: tuple[Any, ...], data: Mapping[str, Any]) -> int:
    """How many leading keys of ``loc`` the TOML data holds."""
    depth, node = 0, data
    for part in loc:
        if not isinstance(node, Mapping) or str(part) not in node:
            break
        node, depth = node[str(part)], depth + 1
    return depth


def _describe(errors: list[Any], *, env: Mapping[str, str], given: Mapping[str, Any],
              toml_path: Path | None, toml_data: Mapping[str, Any],
              flags: Mapping[str, str]) -> list[str]:
    """One line per validation error, naming its real source: a flag, a variable or the file."""
    lines = []
    for error in errors:
        loc = tuple(error["loc"])
        if len(loc) > 2 and loc[0] == "channels" and loc[2] in _CHANNEL_TYPES:
            loc = loc[:2] + loc[3:]       # the union's tag is no key of the file
        key = ".".join(str(p) for p in loc)
        message = str(error["msg"]).removeprefix("Value error, ")
        top = str(loc[0]) if loc else ""
        value = _shown(key, error.get("input"))
        shown = f" (got {value})" if value != "(hidden)" and value not in message else ""
        if top in given:
            where = flags.get(top, f"argument {top}")
        elif toml_path is not None and loc and _toml_depth(loc, toml_data) == len(loc):
            where = f"{toml_path}: {key}"
        elif (var := _env_source(loc, env)) is not None:
            exact = var.upper() == ENV_PREFIX + "__".join(str(p) for p in loc).upper()
            where = var if exact else f"{var}: {key}"
        elif toml_path is not None and _toml_depth(loc, toml_data):
            where = f"{toml_path}: {key}"
        else:
            where = key
        lines.append(f"{where}: {message}{shown}")
    return lines


def load_settings(config: Path | str | None = None, *, env: Mapping[str, str] | None = None,
                  flags: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from ``<config>/settings.toml`` (if present), the environment and overrides.

    ``overrides`` (e.g. ``root=`` from the command line) win over everything; ``None`` values are
    ignored; ``flags`` says how the user gave each (``{"root": "--root"}``) for the error messages.
    Raises ``ConfigError`` listing every problem at once, each naming its source: the file and key,
    the environment variable, or the flag.
    """
    environ = env if env is not None else os.environ
    flag_names = {**_FLAGS, **(flags or {})}
    problems = _check_environment(environ)
    given = {k: v for k, v in overrides.items() if v is not None}
    config_dir = Path(config) if config is not None else None
    if config_dir is not None:
        given["config"] = config_dir
    toml_path = (config_dir or Path("config")) / SETTINGS_FILE
    toml_data: dict[str, Any] = {}
    if toml_path.exists():
        try:
            toml_data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            problems.append(f"{toml_path}: not valid TOML: {e}")
        except OSError as e:
            problems.append(f"{toml_path}: cannot read: {e.strerror or e}")
    bad_vars = {line.split(":", 1)[0] for line in problems}
    usable = {k: v for k, v in environ.items() if k not in bad_vars}
    toml_token = _TOML_PATH.set(toml_path if toml_data else None)
    env_token = _ENV.set(usable)
    try:
        settings = Settings(**given)
        errors: list[Any] = [  # checked here, not by the model: a notifier built alone says it itself
            {"loc": ("channels", name, "secret"), "msg": why, "input": None}
            for name, cfg in settings.channels.items()
            if isinstance(cfg, WebhookChannel) and (why := secret_problem(cfg.secret)) is not None]
        if errors:
            problems += _describe(errors, env=usable, given=given, flags=flag_names,
                                  toml_path=toml_path if toml_data else None, toml_data=toml_data)
    except ValidationError as e:  # every problem at once: the environment's and the validation's
        problems += _describe(e.errors(), env=usable, given=given, flags=flag_names,
                              toml_path=toml_path if toml_data else None, toml_data=toml_data)
        raise _config_error(problems) from e
    except SettingsError as e:  # a value the environment source could not parse (checked above)
        raise _config_error([*problems, f"environment: {e}"]) from e
    finally:
        _TOML_PATH.reset(toml_token)
        _ENV.reset(env_token)
    if problems:
        raise _config_error(problems)
    return settings


def _config_error(lines: list[str]) -> ConfigError:
    """One ``ConfigError`` listing every problem, one per line."""
    if len(lines) == 1:
        return ConfigError(lines[0])
    return ConfigError(f"{len(lines)} settings errors:\n  " + "\n  ".join(lines))
