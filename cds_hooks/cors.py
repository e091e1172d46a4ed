"""CORS for browser-based CDS Clients (e.g. https://sandbox.cds-hooks.org).

A preflight `OPTIONS` is answered by Flask's automatic OPTIONS route plus flask-cors headers;
it never reaches a view, so it is never asked for authentication (browsers send no
Authorization header on a preflight).
"""

from __future__ import annotations

from collections.abc import Sequence

import flask
from flask_cors import CORS

ALLOWED_HEADERS = ("Authorization", "Content-Type", "Accept", "Accept-Language")
ALLOWED_METHODS = ("GET", "POST", "OPTIONS")
PREFLIGHT_MAX_AGE_S = 600


def install_cors(
    app: flask.Flask, allowed_origins: Sequence[str], allow_private_network: bool = False
) -> None:
    """Allow the given origins ("*" = any) on every CDS Hooks route.

    `allow_private_network`: answer a browser's Private Network Access preflight
    (`Access-Control-Request-Private-Network: true`) with
    `Access-Control-Allow-Private-Network: true`, which lets a public page (the CDS Hooks
    sandbox) call a service on loopback or a private address. Demo only: in production it would
    let any page the clinician opens reach a service inside the hospital network.
    """
    if not allowed_origins:
        return  # no cross-origin access at all: the safe default
    origins: str | list[str] = "*" if "*" in allowed_origins else list(allowed_origins)
    CORS(
        app,
        resources={r"/cds-services*": {"origins": origins}},
        methods=list(ALLOWED_METHODS),
        allow_headers=list(ALLOWED_HEADERS),
        expose_headers=["WWW-Authenticate"],
        send_wildcard=origins == "*",
        supports_credentials=False,  # the JWT is a header, not a cookie
        max_age=PREFLIGHT_MAX_AGE_S,
        vary_header=True,
        allow_private_network=allow_private_network,
    )
