"""Test helpers: key pairs, JWK Sets and signed client tokens."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SERVICE_URL = "https://cds.example.org/cds-services/cementoplasty-order-select"


@dataclass
class KeyPair:
    kid: str
    alg: str
    private_key: Any

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        jwk = json.loads(algorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "alg": self.alg, "use": "sig"})
        return jwk


def es384_key(kid: str = "ec-key-1") -> KeyPair:
    return KeyPair(kid, "ES384", ec.generate_private_key(ec.SECP384R1()))


def rs384_key(kid: str = "rsa-key-1") -> KeyPair:
    return KeyPair(kid, "RS384", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def write_jwks(path: Path, *keys: KeyPair) -> Path:
    path.write_text(json.dumps({"keys": [key.public_jwk() for key in keys]}), encoding="utf-8")
    return path


def claims(iss: str, aud: Any = SERVICE_URL, now: float | None = None, **extra: Any) -> dict:
    now = time.time() if now is None else now
    out = {"iss": iss, "aud": aud, "iat": int(now), "exp": int(now) + 300}
    out["jti"] = str(uuid.uuid4())
    out.update(extra)
    return {key: value for key, value in out.items() if value is not None}


def sign(key: KeyPair, payload: dict, **header: Any) -> str:
    headers = {"kid": key.kid, "typ": "JWT", **header}
    headers = {name: value for name, value in headers.items() if value is not None}
    return jwt.encode(payload, key.private_key, algorithm=key.alg, headers=headers)


class MemoryReplayGuard:
    """One process's jti memory (the real guard is the shared store)."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    def claim(self, iss: str, jti: str, expires_at: int, presentation: object = None) -> bool:
        if (iss, jti) in self.seen:
            return False
        self.seen.add((iss, jti))
        return True


def flask_like(path: str, headers: dict[str, str]) -> SimpleNamespace:
    """What the authenticator reads of a Flask request, for a GET (no body, no query)."""
    return SimpleNamespace(
        method="GET", path=path, query_string=b"", headers=headers, get_data=lambda cache: b""
    )
