"""Builds the protocol-level client authenticator from the service configuration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cds_hooks.auth import ClientAuthenticator, ReplayGuard
from cds_hooks.errors import Unauthorized
from service.config import Config, ConfigError
from service.observability import count_auth_refusal
from service.request_log import add_request_log_fields

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
    return ClientAuthenticator(config.auth, replay_guard)


def build_authenticate(config: Config, replay_guard: ReplayGuard) -> Callable[[Any], None]:
    """The blueprint's `authenticate` hook: verifies the caller, counts every refusal."""
    authenticator = build_authenticator(config, replay_guard)

    def authenticate(flask_request: Any) -> None:
        try:
            client = authenticator(flask_request)
        except Unauthorized as refusal:
            count_auth_refusal(refusal.code)
            raise
        if client is not None:
            add_request_log_fields(client=client.iss)  # a configured issuer, never the token

    return authenticate
