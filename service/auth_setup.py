"""Builds the protocol-level client authenticator from the service configuration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cds_hooks.auth import AuthSettings, ClientAuthenticator, ReplayGuard, TrustedClient
from cds_hooks.errors import Unauthorized
from service.config import Config, ConfigError
from service.observability import count_auth_refusal


def auth_settings_from_config(config: Config) -> AuthSettings:
    auth = config.auth
    return AuthSettings(
        public_base_urls=config.public_base_urls,
        clients=tuple(
            TrustedClient(
                iss=client.iss, jwks_file=client.jwks_file, jku=client.jku, tenant=client.tenant
            )
            for client in auth.clients
        ),
        required=auth.required,
        algorithms=auth.algorithms,
        clock_skew_s=auth.clock_skew_s,
        max_lifetime_s=auth.max_lifetime_s,
        jwks_fetch_timeout_s=auth.jwks_fetch_timeout_s,
        jwks_max_age_s=auth.jwks_max_age_s,
    )


NO_CLIENT = (
    "auth.required = true but no [[auth.clients]] is configured: every CDS call would be "
    "refused with 401. Add your EHR's issuer and JWK Set ([[auth.clients]] with iss and "
    "jwks_file or jku; README 'Configuration'), or set auth.required = false on a closed test "
    "network."
)


def check_clients(config: Config) -> None:
    """Refuse to start a service that could answer no call at all (ConfigError, saying why)."""
    if config.auth.required and not config.auth.clients:
        raise ConfigError(NO_CLIENT)


def build_authenticator(config: Config, replay_guard: ReplayGuard) -> ClientAuthenticator:
    """One per worker; `replay_guard` is the shared store (`service.storage.Store`)."""
    return ClientAuthenticator(auth_settings_from_config(config), replay_guard)


def build_authenticate(config: Config, replay_guard: ReplayGuard) -> Callable[[Any], None]:
    """The blueprint's `authenticate` hook: verifies the caller, counts every refusal."""
    authenticator = build_authenticator(config, replay_guard)

    def authenticate(flask_request: Any) -> None:
        try:
            authenticator(flask_request)
        except Unauthorized as refusal:
            count_auth_refusal(refusal.code)
            raise

    return authenticate
