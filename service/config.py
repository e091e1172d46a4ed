"""Service configuration: one TOML file named by the CDS_CONFIG environment variable.

The file's shape is the `Config` dataclass below, one table per section; pydantic validates a
file against it (`parse_config`): an unknown key at any level, a value of the wrong type (no
string for a number, no 2.5 for a whole number) or out of its bounds stops start-up with a
`ConfigError` naming the key. The protocol settings (`[fhir]`, `[auth]`, `[[auth.clients]]`)
are `cds_hooks`' own classes, embedded as they are. Every key has a documented, safe default
(README "Configuration", checked against these classes by tests/test_config_readme.py). The demo
profile (`service/profiles/demo.toml`) is an ordinary file with `demo = true`.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, ValidationError

from cds_hooks.auth import SUPPORTED_ALGORITHMS, AuthSettings, TrustedClient
from cds_hooks.fhir_client import FhirFetchSettings
from service.rules.policy import Policy
from service.vocabulary import Language, ProcedureKind

DEMO_PROFILE = Path(__file__).parent / "profiles" / "demo.toml"
DEFAULT_PUBLIC_BASE_URLS = ("http://127.0.0.1:8080",)

_SECTION = ConfigDict(extra="forbid", strict=True)


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the key."""


def _existing_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


@dataclass(frozen=True)
class LocaleSettings:
    """`[locale]`: the language of a card when the call names none, and the site's clock."""

    __pydantic_config__ = _SECTION

    default: Language = "en"
    # The site's time zone: "today" for the hold plan, and every time shown on a card.
    time_zone: Annotated[str, AfterValidator(_existing_time_zone)] = "Europe/Paris"


def _store_url(url: str) -> str:
    # The folder of a SQLite file must exist: checked when the store opens it
    # (service.storage.engine), where the working folder of the running service is known.
    if not url.startswith(("sqlite://", "postgresql")):
        raise ValueError("must be a sqlite:// or postgresql:// SQLAlchemy URL")
    return url


@dataclass(frozen=True)
class StoreSettings:
    """`[store]`: where feedback, audit records and seen token IDs are kept."""

    __pydantic_config__ = _SECTION

    # A relative SQLite path is relative to the working folder (its folder must exist).
    url: Annotated[str, AfterValidator(_store_url)] = "sqlite:///data/cementoplasty-cds.sqlite3"
    # Audit records the store cannot take wait here (service.storage.spool), on a local disk
    # that outlives the process; relative to the configuration file's folder.
    spool_dir: Path = Path("data/audit-spool")
    spool_max_mb: Annotated[int, Field(ge=1, le=1 << 20)] = 256  # per worker process

    @property
    def spool_max_bytes(self) -> int:
        return self.spool_max_mb * 2**20


@dataclass(frozen=True)
class ServerSettings:
    """`[server]`."""

    __pydantic_config__ = _SECTION

    max_request_bytes: Annotated[int, Field(ge=1024, le=1 << 30)] = 8 * 1024 * 1024


@dataclass(frozen=True)
class CorsSettings:
    """`[cors]`: browser origins allowed to call the service (the sandbox page, say)."""

    __pydantic_config__ = _SECTION

    allowed_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class TriggerSettings:
    """`[triggers]`: which ordered procedures the service checks."""

    __pydantic_config__ = _SECTION

    # Never empty: an empty list would silently turn every check off.
    procedures: Annotated[frozenset[ProcedureKind], Field(min_length=1)] = frozenset(ProcedureKind)


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("DEBUG, INFO, WARNING or ERROR")
    return level


@dataclass(frozen=True)
class LoggingSettings:
    """`[logging]`."""

    __pydantic_config__ = _SECTION

    level: Annotated[str, AfterValidator(_log_level)] = "INFO"


@dataclass(frozen=True)
class PrefetchSettings:
    """`[prefetch]`: what discovery offers the EHR."""

    __pydantic_config__ = _SECTION

    # Whether the EHRs evaluate CDS Hooks 3.0 relative-date prefetch tokens (`{{today() - 28
    # days}}`): discovery then offers date-bounded lab searches; else the 2.0 templates.
    relative_dates: bool = False


def _default_auth() -> AuthSettings:
    return AuthSettings(public_base_urls=DEFAULT_PUBLIC_BASE_URLS)


@dataclass(frozen=True)
class Config:
    """The whole file. The top-level `public_base_urls` lives in `auth` (the audience of a
    client's token is one of them); `parse_config` moves it there."""

    __pydantic_config__ = _SECTION

    demo: bool = False
    server: ServerSettings = field(default_factory=ServerSettings)
    fhir: FhirFetchSettings = field(default_factory=FhirFetchSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    locale: LocaleSettings = field(default_factory=LocaleSettings)
    policy: Policy = field(default_factory=Policy)
    cors: CorsSettings = field(default_factory=CorsSettings)
    auth: AuthSettings = field(default_factory=_default_auth)
    triggers: TriggerSettings = field(default_factory=TriggerSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    prefetch: PrefetchSettings = field(default_factory=PrefetchSettings)

    @property
    def public_base_urls(self) -> tuple[str, ...]:
        return self.auth.public_base_urls


_VALIDATOR = TypeAdapter(Config)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the file named by `path`, else by CDS_CONFIG, else the defaults."""
    if path is None:
        path = os.environ.get("CDS_CONFIG") or None
    if path is None:
        return Config()
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"CDS_CONFIG: no such file {file}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    return parse_config(raw, base_dir=file.parent)


def parse_config(raw: Mapping[str, Any], base_dir: Path = Path(".")) -> Config:
    """Validate a parsed TOML document; paths in it are relative to `base_dir`."""
    document = _placed(raw, base_dir)
    try:
        # As JSON, strictly: a TOML array is a JSON array, a string is never taken for a number
        # or a boolean, and 2.5 is never cut to 2.
        config = _VALIDATOR.validate_json(json.dumps(document, default=_not_json))
    except ValidationError as exc:
        raise ConfigError(_first_error(exc)) from None
    _check_across_keys(config)
    return config


def _not_json(value: Any) -> dict[str, str]:
    """A TOML date or time: an object, which no key of the file accepts (never its text)."""
    return {"toml-date-time": str(value)}


def _placed(raw: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    """The document in `Config`'s shape: base URLs moved into `auth`, paths made absolute."""
    if not isinstance(raw, Mapping):
        raise ConfigError("configuration: must be a table")
    document = dict(raw)
    auth = document.get("auth", {})
    if not isinstance(auth, Mapping):
        raise ConfigError("auth: must be a table")
    auth = dict(auth)
    if "public_base_urls" in auth:
        raise ConfigError("auth.public_base_urls: unknown configuration key (a top-level key)")
    auth["public_base_urls"] = _public_base_urls(document)
    clients = auth.get("clients", [])
    if isinstance(clients, list):
        auth["clients"] = [
            _placed_client(f"auth.clients[{index}]", client, base_dir)
            for index, client in enumerate(clients)
        ]
    document["auth"] = auth

    fhir = document.get("fhir")
    if isinstance(fhir, Mapping) and isinstance(fhir.get("allowed_servers"), list):
        servers = [s.rstrip("/") if isinstance(s, str) else s for s in fhir["allowed_servers"]]
        document["fhir"] = {**fhir, "allowed_servers": servers}
    store = document.get("store")
    if isinstance(store, Mapping) and isinstance(store.get("spool_dir"), str):
        spool_dir = _non_empty_path("store.spool_dir", store["spool_dir"])
        document["store"] = {**store, "spool_dir": str(_resolve_path(spool_dir, base_dir))}
    return document


def _placed_client(key: str, client: Any, base_dir: Path) -> Any:
    if not isinstance(client, Mapping):
        return client  # refused by validation, with its key
    client = dict(client)
    if isinstance(client.get("jwks_file"), str):
        jwks_file = _non_empty_path(f"{key}.jwks_file", client["jwks_file"])
        client["jwks_file"] = str(_resolve_path(jwks_file, base_dir))
    if isinstance(client.get("jku"), str):
        client["jku"] = [client["jku"]]
    return client


def _non_empty_path(key: str, value: str) -> str:
    """An empty path would name the configuration file's own folder: a mistake, not a choice."""
    if not value.strip():
        raise ConfigError(f"{key}: must not be empty")
    return value


def _public_base_urls(document: dict[str, Any]) -> tuple[str, ...]:
    """`public_base_urls`, or its one-element form `public_base_url` (not both); removed from
    the top level of `document`."""
    single = document.pop("public_base_url", None)
    many = document.pop("public_base_urls", None)
    if single is not None and many is not None:
        raise ConfigError("public_base_url: give public_base_urls or public_base_url, not both")
    if single is not None:
        if not isinstance(single, str):
            raise ConfigError("public_base_url: must be a string")
        _check_base_url("public_base_url", single)
        return (single.rstrip("/"),)
    if many is None:
        return DEFAULT_PUBLIC_BASE_URLS
    if not isinstance(many, list) or not all(isinstance(url, str) for url in many):
        raise ConfigError("public_base_urls: must be a list of strings")
    if not many:
        raise ConfigError("public_base_urls: at least one URL")
    out: list[str] = []
    for index, url in enumerate(many):
        key = f"public_base_urls[{index}]"
        _check_base_url(key, url)
        if url.rstrip("/") in out:
            raise ConfigError(f"{key}: {url!r} is listed twice")
        out.append(url.rstrip("/"))
    return tuple(out)


def _check_across_keys(config: Config) -> None:
    """What one key alone cannot say."""
    for index, server_url in enumerate(config.fhir.allowed_servers):
        key = f"fhir.allowed_servers[{index}]"
        if server_url == "*":
            # Any server: lets a sandbox name its own FHIR server. Never in production.
            if not config.demo:
                raise ConfigError(f'{key}: "*" (any server) is allowed only with demo = true')
            continue
        _check_url(key, server_url)
        if not config.fhir.allow_http and urlsplit(server_url).scheme != "https":
            raise ConfigError(
                f"{key}: {server_url} is not https (set fhir.allow_http = true to allow it)"
            )
    for algorithm in config.auth.algorithms:
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise ConfigError(
                f"auth.algorithms: {algorithm!r} is not allowed "
                f"(asymmetric only: {', '.join(SUPPORTED_ALGORITHMS)})"
            )
    for index, client in enumerate(config.auth.clients):
        _check_client(f"auth.clients[{index}]", client)
    if config.auth.jwks_refresh_interval_s > config.auth.jwks_max_age_s:
        # A set would expire before it may be fetched again: every jku token refused meanwhile.
        raise ConfigError(
            "auth.jwks_refresh_interval_s: must not exceed auth.jwks_max_age_s "
            f"({config.auth.jwks_refresh_interval_s:g} > {config.auth.jwks_max_age_s:g})"
        )
    if config.policy.pain_controlled_max >= config.policy.pain_uncontrolled_min:
        raise ConfigError("policy.pain_controlled_max: must be below policy.pain_uncontrolled_min")


def _check_client(key: str, client: TrustedClient) -> None:
    if client.jwks_file is not None and not client.jwks_file.is_file():
        raise ConfigError(f"{key}.jwks_file: no such file {client.jwks_file}")
    for url in client.jku:
        _check_url(f"{key}.jku", url)
    if client.jwks_file is None and not client.jku:
        raise ConfigError(f"{key}: needs jwks_file or jku")


_MESSAGES = {
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "too_short": "must not be empty",
    "string_too_short": "must not be empty",
    "missing": "required",
    "model_type": "must be a table",
    "dataclass_type": "must be a table",
    "dict_type": "must be a table",
    "tuple_type": "must be a list",
    "frozen_set_type": "must be a list",
}


def _first_error(exc: ValidationError) -> str:
    """The first problem, as `section.key[index]: what is wrong`."""
    error = exc.errors()[0]
    key = ""
    for part in error["loc"]:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        return f"{key}: unknown configuration key"
    template = _MESSAGES.get(error["type"])
    message = (
        template.format(**error.get("ctx", {}))
        if template
        else error["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    )
    return f"{key or 'configuration'}: {message}"


def _check_base_url(key: str, value: str) -> None:
    """An http(s) URL the request path is appended to: no query, no fragment."""
    _check_url(key, value)
    parts = urlsplit(value)
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ConfigError(f"{key}: {value!r} must not hold a query or a fragment")


def _resolve_path(value: str, base_dir: Path) -> Path:
    path = Path(value)
    return path if path.is_absolute() else (base_dir / path).resolve()


def _check_url(key: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{key}: {value!r} is not an http(s) URL")
