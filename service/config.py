"""Service configuration: one TOML file named by the CDS_CONFIG environment variable.

Every key has a documented, safe default (README "Configuration"). A bad value stops start-up
with a `ConfigError` naming the key. The demo profile (`service/profiles/demo.toml`) is an
ordinary configuration file with `demo = true`, which the app logs loudly at start-up.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.facts.model import ProcedureKind

DEMO_PROFILE = Path(__file__).parent / "profiles" / "demo.toml"


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the key."""


@dataclass(frozen=True)
class Policy:
    """Local policy values of RULES.md: the guideline does not give them."""

    lab_max_age_days: int = 7
    inr_max: float = 1.5
    pain_controlled_max: float = 3
    pain_uncontrolled_min: float = 4
    # Hold delays (days before the procedure) for antithrombotics the guideline does not list,
    # by ingredient key (e.g. {"prasugrel": 7}). None by default: the card says none is given.
    unlisted_hold_days: Mapping[str, int] = field(default_factory=dict)
    # The usual interruption of a vitamin K antagonist, in days before the procedure: the guideline
    # gives none (MED-VKA, MED-VKA-TOO-LATE); the card calls it the institution's local protocol.
    vka_stop_days: int = 5


@dataclass(frozen=True)
class FhirConfig:
    allowed_servers: tuple[str, ...] = ()
    allow_http: bool = False
    deadline_s: float = 1.5
    request_timeout_s: float = 1.0
    max_pages: int = 5
    max_response_bytes: int = 8 * 1024 * 1024


@dataclass(frozen=True)
class AuthClient:
    iss: str
    jwks_file: Path | None = None
    jku: tuple[str, ...] = ()  # allow-listed JWK Set URLs
    tenant: str | None = None


@dataclass(frozen=True)
class AuthConfig:
    required: bool = True
    algorithms: tuple[str, ...] = ("ES384", "RS384")
    clock_skew_s: int = 60
    max_lifetime_s: int = 3600
    jwks_fetch_timeout_s: float = 2.0
    jwks_max_age_s: float = 3600.0  # a key set fetched through `jku` is fetched again after this
    clients: tuple[AuthClient, ...] = ()


@dataclass(frozen=True)
class Config:
    # Every URL the EHRs call the service by: a client JWT's `aud` is one of them + the path.
    public_base_urls: tuple[str, ...] = ("http://127.0.0.1:8080",)
    demo: bool = False
    max_request_bytes: int = 8 * 1024 * 1024
    cors_allowed_origins: tuple[str, ...] = ()
    locale_default: str = "en"
    # The site's time zone: "today" for the hold plan, and every time shown on a card.
    time_zone: str = "Europe/Paris"
    store_url: str = "sqlite:///data/cementoplasty-cds.sqlite3"
    # Audit records the store cannot take wait here (service.storage.spool), on a local disk
    # that outlives the process; relative to the working directory, like the default store.
    store_spool_dir: Path = Path("data/audit-spool")
    store_spool_max_bytes: int = 256 * 1024 * 1024  # per worker process
    trigger_procedures: frozenset[ProcedureKind] = frozenset(ProcedureKind)
    log_level: str = "INFO"
    # Whether the EHRs evaluate CDS Hooks 3.0 relative-date prefetch tokens (`{{today() - 28
    # days}}`): discovery then offers date-bounded lab searches; else the 2.0 templates.
    prefetch_relative_dates: bool = False
    fhir: FhirConfig = field(default_factory=FhirConfig)
    policy: Policy = field(default_factory=Policy)
    auth: AuthConfig = field(default_factory=AuthConfig)
    source_path: Path | None = None


SUPPORTED_LOCALES = ("en", "fr")
SUPPORTED_ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS384")


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
    return parse_config(raw, base_dir=file.parent, source_path=file)


def parse_config(
    raw: Mapping[str, Any], base_dir: Path = Path("."), source_path: Path | None = None
) -> Config:
    reader = _Reader(raw, "")
    defaults = Config()
    server = reader.table("server")
    fhir = reader.table("fhir")
    store = reader.table("store")
    locale = reader.table("locale")
    policy = reader.table("policy")
    cors = reader.table("cors")
    auth = reader.table("auth")
    triggers = reader.table("triggers")
    logging_ = reader.table("logging")
    prefetch = reader.table("prefetch")

    public_base_urls = _public_base_urls(reader, defaults.public_base_urls)
    locale_default = locale.string("default", defaults.locale_default)
    if locale_default not in SUPPORTED_LOCALES:
        raise ConfigError(f"locale.default: must be one of {', '.join(SUPPORTED_LOCALES)}")
    time_zone = locale.string("time_zone", defaults.time_zone)
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"locale.time_zone: unknown time zone {time_zone!r}") from exc

    fhir_defaults = FhirConfig()
    # "*" allows any server (demo profile only: it lets a sandbox name its own FHIR server).
    allowed_servers = tuple(s.rstrip("/") for s in fhir.strings("allowed_servers", ()))
    for index, server_url in enumerate(allowed_servers):
        if server_url != "*":
            _check_url(f"fhir.allowed_servers[{index}]", server_url)
    fhir_config = FhirConfig(
        allowed_servers=allowed_servers,
        allow_http=fhir.boolean("allow_http", fhir_defaults.allow_http),
        deadline_s=fhir.number("deadline_s", fhir_defaults.deadline_s, 0.05, 30),
        request_timeout_s=fhir.number(
            "request_timeout_s", fhir_defaults.request_timeout_s, 0.05, 30
        ),
        max_pages=int(fhir.number("max_pages", fhir_defaults.max_pages, 1, 100)),
        max_response_bytes=int(
            fhir.number("max_response_bytes", fhir_defaults.max_response_bytes, 1024, 1 << 30)
        ),
    )
    if not fhir_config.allow_http:
        for index, server_url in enumerate(allowed_servers):
            if server_url != "*" and urlsplit(server_url).scheme != "https":
                raise ConfigError(
                    f"fhir.allowed_servers[{index}]: {server_url} is not https "
                    "(set fhir.allow_http = true to allow it)"
                )

    policy_defaults = Policy()
    unlisted = policy.table("unlisted_hold_days")
    unlisted_days = {key: int(unlisted.number(key, 0, 0, 60)) for key in unlisted.raw}
    policy_config = Policy(
        lab_max_age_days=int(
            policy.number("lab_max_age_days", policy_defaults.lab_max_age_days, 1, 365)
        ),
        inr_max=policy.number("inr_max", policy_defaults.inr_max, 1.0, 5.0),
        pain_controlled_max=policy.number(
            "pain_controlled_max", policy_defaults.pain_controlled_max, 0, 10
        ),
        pain_uncontrolled_min=policy.number(
            "pain_uncontrolled_min", policy_defaults.pain_uncontrolled_min, 0, 10
        ),
        unlisted_hold_days=unlisted_days,
        vka_stop_days=int(policy.number("vka_stop_days", policy_defaults.vka_stop_days, 1, 30)),
    )
    if policy_config.pain_controlled_max >= policy_config.pain_uncontrolled_min:
        raise ConfigError("policy.pain_controlled_max: must be below policy.pain_uncontrolled_min")

    auth_defaults = AuthConfig()
    algorithms = tuple(auth.strings("algorithms", auth_defaults.algorithms))
    for algorithm in algorithms:
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise ConfigError(
                f"auth.algorithms: {algorithm!r} is not allowed "
                f"(asymmetric only: {', '.join(SUPPORTED_ALGORITHMS)})"
            )
    clients = []
    for index, client in enumerate(auth.tables("clients")):
        name = f"auth.clients[{index}]"
        for key in client.raw:
            if key not in _CLIENT_KEYS:  # a typo would silently turn a check off
                raise ConfigError(f"{name}.{key}: unknown configuration key")
        iss = client.string("iss", "")
        if not iss:
            raise ConfigError(f"{name}.iss: required")
        jwks_file_value = client.string("jwks_file", "")
        jwks_file = None
        if jwks_file_value:
            jwks_file = _resolve_path(jwks_file_value, base_dir)
            if not jwks_file.is_file():
                raise ConfigError(f"{name}.jwks_file: no such file {jwks_file}")
        jku_value = client.raw.get("jku", ())
        jku = (jku_value,) if isinstance(jku_value, str) else tuple(client.strings("jku", ()))
        for url in jku:
            _check_url(f"{name}.jku", url)
        if not jwks_file and not jku:
            raise ConfigError(f"{name}: needs jwks_file or jku")
        tenant = client.string("tenant", "") or None
        clients.append(AuthClient(iss=iss, jwks_file=jwks_file, jku=jku, tenant=tenant))
    auth_config = AuthConfig(
        required=auth.boolean("required", auth_defaults.required),
        algorithms=algorithms,
        clock_skew_s=int(auth.number("clock_skew_s", auth_defaults.clock_skew_s, 0, 600)),
        max_lifetime_s=int(
            auth.number("max_lifetime_s", auth_defaults.max_lifetime_s, 1, 24 * 3600)
        ),
        jwks_fetch_timeout_s=auth.number(
            "jwks_fetch_timeout_s", auth_defaults.jwks_fetch_timeout_s, 0.1, 30
        ),
        # At least the refetch interval (60 s), at most a day.
        jwks_max_age_s=auth.number("jwks_max_age_s", auth_defaults.jwks_max_age_s, 60, 86400),
        clients=tuple(clients),
    )

    procedure_names = triggers.strings("procedures", tuple(kind.value for kind in ProcedureKind))
    try:
        trigger_procedures = frozenset(ProcedureKind(name) for name in procedure_names)
    except ValueError as exc:
        known = ", ".join(kind.value for kind in ProcedureKind)
        raise ConfigError(f"triggers.procedures: unknown procedure ({known})") from exc

    store_url = store.string("url", defaults.store_url)
    if not store_url.startswith(("sqlite://", "postgresql")):
        raise ConfigError("store.url: must be a sqlite:// or postgresql:// SQLAlchemy URL")
    spool_dir_value = store.string("spool_dir", "")
    store_spool_dir = (
        _resolve_path(spool_dir_value, base_dir) if spool_dir_value else defaults.store_spool_dir
    )
    store_spool_max_bytes = int(
        store.number("spool_max_mb", defaults.store_spool_max_bytes / 2**20, 1, 1 << 20) * 2**20
    )

    log_level = logging_.string("level", defaults.log_level).upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("logging.level: DEBUG, INFO, WARNING or ERROR")

    config = Config(
        public_base_urls=public_base_urls,
        demo=reader.boolean("demo", False),
        max_request_bytes=int(
            server.number("max_request_bytes", defaults.max_request_bytes, 1024, 1 << 30)
        ),
        cors_allowed_origins=tuple(cors.strings("allowed_origins", ())),
        locale_default=locale_default,
        time_zone=time_zone,
        store_url=store_url,
        store_spool_dir=store_spool_dir,
        store_spool_max_bytes=store_spool_max_bytes,
        trigger_procedures=trigger_procedures,
        log_level=log_level,
        prefetch_relative_dates=prefetch.boolean(
            "relative_dates", defaults.prefetch_relative_dates
        ),
        fhir=fhir_config,
        policy=policy_config,
        auth=auth_config,
        source_path=source_path,
    )
    reader.reject_unknown()
    return config


def _public_base_urls(reader: _Reader, default: tuple[str, ...]) -> tuple[str, ...]:
    """`public_base_urls`, or its one-element form `public_base_url` (not both)."""
    if "public_base_url" in reader.raw:
        if "public_base_urls" in reader.raw:
            raise ConfigError("public_base_url: give public_base_urls or public_base_url, not both")
        single = reader.string("public_base_url", "")
        _check_base_url("public_base_url", single)
        return (single.rstrip("/"),)
    if "public_base_urls" not in reader.raw:
        return default
    urls = reader.strings("public_base_urls", ())
    if not urls:
        raise ConfigError("public_base_urls: at least one URL")
    out: list[str] = []
    for index, url in enumerate(urls):
        key = f"public_base_urls[{index}]"
        _check_base_url(key, url)
        if url.rstrip("/") in out:
            raise ConfigError(f"{key}: {url!r} is listed twice")
        out.append(url.rstrip("/"))
    return tuple(out)


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


_CLIENT_KEYS = {"iss", "jwks_file", "jku", "tenant"}  # one [[auth.clients]] table
_KNOWN_KEYS = {
    "": {
        "public_base_url",
        "public_base_urls",
        "demo",
        "server",
        "fhir",
        "store",
        "locale",
        "policy",
        "cors",
        "auth",
        "triggers",
        "logging",
        "prefetch",
    },
    "server.": {"max_request_bytes"},
    "fhir.": {
        "allowed_servers",
        "allow_http",
        "deadline_s",
        "request_timeout_s",
        "max_pages",
        "max_response_bytes",
    },
    "store.": {"url", "spool_dir", "spool_max_mb"},
    "locale.": {"default", "time_zone"},
    "policy.": {
        "lab_max_age_days",
        "inr_max",
        "pain_controlled_max",
        "pain_uncontrolled_min",
        "unlisted_hold_days",
        "vka_stop_days",
    },
    "cors.": {"allowed_origins"},
    "auth.": {
        "required",
        "algorithms",
        "clock_skew_s",
        "max_lifetime_s",
        "jwks_fetch_timeout_s",
        "jwks_max_age_s",
        "clients",
    },
    "triggers.": {"procedures"},
    "logging.": {"level"},
    "prefetch.": {"relative_dates"},
}


class _Reader:
    """Typed access to one TOML table; every error names the full key."""

    def __init__(self, raw: Mapping[str, Any], prefix: str) -> None:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{prefix.rstrip('.') or 'configuration'}: must be a table")
        self.raw = raw
        self.prefix = prefix

    def _get(self, key: str, default: Any) -> Any:
        return self.raw.get(key, default)

    def table(self, key: str) -> _Reader:
        return _Reader(self._get(key, {}), f"{self.prefix}{key}.")

    def tables(self, key: str) -> list[_Reader]:
        value = self._get(key, [])
        if not isinstance(value, list):
            raise ConfigError(f"{self.prefix}{key}: must be an array of tables")
        return [_Reader(item, f"{self.prefix}{key}[{i}].") for i, item in enumerate(value)]

    def string(self, key: str, default: str) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise ConfigError(f"{self.prefix}{key}: must be a string")
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self._get(key, default)
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.prefix}{key}: must be a list of strings")
        return tuple(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.prefix}{key}: must be true or false")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{self.prefix}{key}: must be a number")
        if not low <= value <= high:
            raise ConfigError(f"{self.prefix}{key}: must be between {low} and {high}")
        return float(value)

    def reject_unknown(self) -> None:
        for prefix, known in _KNOWN_KEYS.items():
            table: Any = self.raw
            for part in [p for p in prefix.split(".") if p]:
                table = table.get(part, {})
            for key in table:
                if key not in known:
                    raise ConfigError(f"{prefix}{key}: unknown configuration key")
