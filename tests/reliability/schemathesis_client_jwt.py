"""Schemathesis hooks (SCHEMATHESIS_HOOKS): sign every generated call as the trusted CDS Client.

Each case gets a fresh ES384 JWT (new `jti`, `aud` = the exact URL called), so the fuzzed
requests pass client authentication and reach the service itself. The key and the service's
public base URL come from the environment set by test_openapi_schemathesis.py.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import schemathesis
from cryptography.hazmat.primitives.serialization import load_pem_private_key

ISSUER = os.environ.get("CDS_ST_ISS", "")
KEY_ID = os.environ.get("CDS_ST_KID", "")
BASE_URL = os.environ.get("CDS_ST_BASE_URL", "").rstrip("/")
KEY_PEM = os.environ.get("CDS_ST_KEY_PEM", "")


def client_token(url: str) -> str:
    key = load_pem_private_key(Path(KEY_PEM).read_bytes(), password=None)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": url, "iat": now, "exp": now + 120, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm="ES384", headers={"kid": KEY_ID, "typ": "JWT"})  # type: ignore[arg-type]


@schemathesis.auth(refresh_interval=None)
class CdsClientJwt:
    def get(self, case: Any, ctx: Any) -> str:
        return "sign-per-call"

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = dict(case.headers or {})
        case.headers["Authorization"] = f"Bearer {client_token(BASE_URL + case.formatted_path)}"
