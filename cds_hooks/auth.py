"""Client authentication: CDS Hooks 2.0 "Trusting CDS Clients".

Every call from a CDS Client carries `Authorization: Bearer <JWT>`, signed with the client's
private key. A token is accepted only when all of these hold:

* header: `alg` in the configured list (never `none`, never HMAC, whatever the configuration
  says), `typ` is `JWT`, `kid` present and found in the client's JWK Set;
* `iss` is a configured client; a `jku` header, when present, is in that client's allow-list;
  the key is the client's pinned `jwks_file` entry for `kid` when there is one (no fetch,
  with or without `jku`), else fetched from the `jku` URL (or, without `jku`, from the
  client's allow-listed URLs);
* `aud` is exactly the URL called, under one of the public base URLs the service is reached
  by (string or one-element array);
* `exp` in the future, `iat` not in the future (both with clock skew), `exp - iat` at most
  the configured maximum lifetime;
* `jti` never seen before during the token's lifetime, across every worker and instance (the
  `ReplayGuard`, implemented by the shared store), unless this is a hook call's very same
  request sent again (same path, query, Accept-Language and body) within `RESEND_WINDOW_S` of its
  first presentation, once, to another process: a proxy resends a call to another replica when
  the first died before answering (docker/nginx.conf), and that resend is not a replay;
* `tenant` equals the client's configured tenant when one is configured.

A refusal raises `Unauthorized(reason)`: the reason is for the log (it never contains the
token); the HTTP answer is a bare 401 with `WWW-Authenticate: Bearer`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Protocol

import jwt
import requests
from pydantic import ConfigDict, Field

from cds_hooks.errors import Unauthorized

log = logging.getLogger("cds_hooks.auth")

# Algorithms that can never authenticate a client: unsigned, or symmetric (a shared secret
# would let anyone holding the public JWK Set forge tokens).
FORBIDDEN_ALGORITHMS = frozenset({"none", "HS256", "HS384", "HS512"})
# Curve each ECDSA algorithm is defined on (RFC 7518 §3.4).
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_KTY = {"ES": "EC", "RS": "RSA", "PS": "RSA"}
MAX_TOKEN_BYTES = 16 * 1024
MAX_JTI_CHARS = 255
MAX_JWKS_BYTES = 256 * 1024


# How long before or after a token's first presentation the very same request may bring it again
# (either way: the replicas' clocks may differ): nginx resends at once when a replica's connection
# fails, or after its 15 s read timeout.
RESEND_WINDOW_S = 30
# The one route a proxy resends with its token: a hook call (docker/nginx.conf's `location`).
HOOK_CALL_PATH = re.compile(r"/cds-services/[^/]+")


@dataclass(frozen=True)
class Presentation:
    """A token presented with one request: which (`request_digest`) and when (Unix seconds)."""

    request_digest: str
    at: int


def request_digest(*parts: bytes) -> str:
    """SHA-256 of the parts that make a request the same request, each prefixed by its length
    (so that no two different lists of parts give the same input)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def accepted_again(first: Presentation | None, again: Presentation | None) -> bool:
    """Whether a token already claimed may be accepted once more: only as a resend of the very
    same request, near its first presentation. Without a presentation on either side: never.
    (The store accepts it once at most: `ReplayGuard.claim`.)"""
    if first is None or again is None:
        return False
    return (
        again.request_digest == first.request_digest and abs(again.at - first.at) <= RESEND_WINDOW_S
    )


class ReplayGuard(Protocol):
    def claim(
        self, iss: str, jti: str, expires_at: int, presentation: Presentation | None = None
    ) -> bool:
        """Record (iss, jti) until `expires_at` (Unix seconds), with `presentation` when given;
        False if already recorded, unless `accepted_again(first presentation, presentation)`
        and it was not accepted again before: one resend at most, by another process than the
        one that claimed it."""
        ...


@dataclass(frozen=True)
class TrustedClient:
    """One `[[auth.clients]]` table: a CDS Client's issuer and where its keys are."""

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)

    iss: Annotated[str, Field(min_length=1)]
    jwks_file: Path | None = None
    # Allow-listed JWK Set URLs (one string or a list in TOML).
    jku: tuple[str, ...] = ()
    tenant: Annotated[str | None, Field(min_length=1)] = None  # absent: no tenant check


# Algorithms an `[auth] algorithms` list may name: asymmetric only.
SUPPORTED_ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS384")


@dataclass(frozen=True)
class AuthSettings:
    """`[auth]` in the configuration, plus the service's public base URLs."""

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)

    # The audience of a call is one of these + the request path: every URL the service is
    # reached by (loopback spellings in the demo; an internal and an external host name).
    public_base_urls: Annotated[tuple[str, ...], Field(min_length=1)]
    clients: tuple[TrustedClient, ...] = ()
    required: bool = True
    # Never empty: an empty list would refuse every token.
    algorithms: Annotated[tuple[str, ...], Field(min_length=1)] = ("ES384", "RS384")
    clock_skew_s: Annotated[int, Field(ge=0, le=600)] = 60
    max_lifetime_s: Annotated[int, Field(ge=1, le=24 * 3600)] = 3600
    jwks_fetch_timeout_s: Annotated[float, Field(ge=0.1, le=30)] = 2.0
    # At most one re-fetch per URL per interval.
    jwks_refresh_interval_s: Annotated[float, Field(ge=1, le=3600)] = 60.0
    # A set fetched through `jku` is trusted this long, then fetched again: a key the client
    # withdraws (compromised) stops being accepted within this delay. Pinned files never expire.
    # At least the refetch interval, at most a day.
    jwks_max_age_s: Annotated[float, Field(ge=60, le=86400)] = 3600.0


@dataclass(frozen=True)
class VerifiedClient:
    iss: str
    kid: str
    jti: str
    expires_at: int
    sub: str | None = None
    tenant: str | None = None


JwksFetcher = Callable[[str, float], Mapping[str, Any]]


def fetch_jwks_over_http(url: str, timeout_s: float) -> Mapping[str, Any]:
    """GET a JWK Set: no redirects (the allow-list names the exact URL), bounded size."""
    with requests.get(url, timeout=timeout_s, allow_redirects=False, stream=True) as response:
        if response.status_code != 200:
            raise OSError(f"HTTP {response.status_code}")
        body = response.raw.read(MAX_JWKS_BYTES + 1, decode_content=True)
    if len(body) > MAX_JWKS_BYTES:
        raise OSError("JWK Set too large")
    return json.loads(body)


class _KeySet:
    """The keys of one JWK Set, by kid."""

    def __init__(self, jwks: Mapping[str, Any], source: str) -> None:
        keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
        if not isinstance(keys, list):
            raise ValueError(f"{source}: not a JWK Set (no 'keys' array)")
        self.by_kid: dict[str, Mapping[str, Any]] = {}
        for key in keys:
            if isinstance(key, Mapping) and isinstance(key.get("kid"), str):
                self.by_kid[key["kid"]] = key


class _RemoteKeySet:
    def __init__(self) -> None:
        self.keys: _KeySet | None = None
        self.fetched_at = float("-inf")  # when `keys` was fetched (the clock at the request)
        self.last_attempt = float("-inf")
        # Held during a fetch: concurrent calls wait for its result instead of being refused.
        self.lock = threading.Lock()


class ClientAuthenticator:
    """Verifies client JWTs; one instance per worker (it caches fetched JWK Sets)."""

    def __init__(
        self,
        settings: AuthSettings,
        replay_guard: ReplayGuard,
        *,
        fetch_jwks: JwksFetcher = fetch_jwks_over_http,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._replay_guard = replay_guard
        self._fetch_jwks = fetch_jwks
        self._clock = clock
        self._algorithms = frozenset(settings.algorithms) - FORBIDDEN_ALGORITHMS
        self._clients = {client.iss: client for client in settings.clients}
        # Local JWK Sets are read once, at start-up: a broken file stops start-up, not a call.
        self._files: dict[str, _KeySet] = {}
        for client in settings.clients:
            if client.jwks_file is not None:
                source = str(client.jwks_file)
                self._files[client.iss] = _KeySet(
                    json.loads(client.jwks_file.read_text(encoding="utf-8")), source
                )
        self._remote: dict[str, _RemoteKeySet] = {}
        self._lock = threading.Lock()

    def __call__(self, flask_request: Any) -> VerifiedClient | None:
        """Authenticate a Flask request.

        Not required (demo profile): a call without a token is accepted (None), but a token that
        is presented is still verified, so a forged or replayed one is refused all the same.
        """
        if not self.settings.required and not flask_request.headers.get("Authorization"):
            return None
        audiences = tuple(
            base.rstrip("/") + flask_request.path for base in self.settings.public_base_urls
        )

        def digest() -> str:  # read only once the token is verified: no body read for a forger
            return request_digest(
                flask_request.path.encode("utf-8", "surrogatepass"),
                flask_request.query_string,  # raw bytes: any byte, no decoding to fail
                flask_request.headers.get("Accept-Language", "").encode(),  # the cards' language
                flask_request.get_data(cache=True),  # kept for the view that reads it next
            )

        resendable = flask_request.method == "POST" and bool(
            HOOK_CALL_PATH.fullmatch(flask_request.path)
        )
        return self.verify(
            flask_request.headers.get("Authorization"),
            audiences,
            digest if resendable else None,
        )

    def verify(
        self,
        authorization_header: str | None,
        audience: str | Sequence[str],
        digest_of_request: Callable[[], str] | None = None,
    ) -> VerifiedClient:
        """Verify a token whose `aud` must be `audience` (or one of them). `digest_of_request`,
        given for a hook call only, identifies the request that carries the token: the same
        request sent again soon is accepted once more with the same token (`accepted_again`)."""
        audiences = (audience,) if isinstance(audience, str) else tuple(audience)
        try:
            return self._verify(authorization_header, audiences, digest_of_request)
        except Unauthorized as refusal:
            log.warning("client authentication refused: %s", refusal.reason)
            raise

    def _verify(
        self,
        authorization_header: str | None,
        audiences: tuple[str, ...],
        digest_of_request: Callable[[], str] | None,
    ) -> VerifiedClient:
        token = _bearer_token(authorization_header)
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"malformed: {type(exc).__name__}") from None

        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise Unauthorized(f"alg-not-allowed: {str(alg)[:20]!r}")
        if header.get("typ") != "JWT":
            raise Unauthorized("typ-not-jwt")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("kid-missing")
        iss = unverified.get("iss")
        client = self._clients.get(iss) if isinstance(iss, str) else None
        if client is None:
            raise Unauthorized(f"iss-unknown: {str(iss)[:200]!r}")

        jwk = self._find_key(client, header.get("jku"), kid)
        key = _verification_key(jwk, alg, kid)
        try:
            # The signature only: every claim is checked below against our own clock, so that
            # each refusal has one precise reason.
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise Unauthorized(f"signature-invalid: iss {iss!r} kid {kid!r}") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"malformed: {type(exc).__name__}") from None

        expires_at = self._check_claims(claims, client, audiences)
        jti = claims["jti"]
        presentation = (
            Presentation(digest_of_request(), int(self._clock())) if digest_of_request else None
        )
        if not self._replay_guard.claim(iss, jti, expires_at, presentation):
            raise Unauthorized(f"jti-replayed: iss {iss!r}")
        sub = claims.get("sub")
        return VerifiedClient(
            iss=iss,
            kid=kid,
            jti=jti,
            expires_at=expires_at,
            sub=sub if isinstance(sub, str) else None,
            tenant=claims.get("tenant") if isinstance(claims.get("tenant"), str) else None,
        )

    def _check_claims(
        self, claims: Mapping[str, Any], client: TrustedClient, audiences: tuple[str, ...]
    ) -> int:
        """Check the verified claims; return until when the jti must be remembered."""
        aud = claims.get("aud")
        if isinstance(aud, list) and len(aud) == 1:
            aud = aud[0]
        if not isinstance(aud, str) or aud not in audiences:
            raise Unauthorized(f"aud-mismatch: expected one of {list(audiences)!r}")
        exp, iat = claims.get("exp"), claims.get("iat")
        if not _is_number(exp) or not _is_number(iat):
            raise Unauthorized("exp-or-iat-missing")
        now = self._clock()
        skew = self.settings.clock_skew_s
        if exp <= now - skew:
            raise Unauthorized("expired")
        if iat > now + skew:
            raise Unauthorized("iat-in-future")
        nbf = claims.get("nbf")
        if nbf is not None and (not _is_number(nbf) or nbf > now + skew):
            raise Unauthorized("not-yet-valid")
        if exp - iat > self.settings.max_lifetime_s:
            raise Unauthorized(f"lifetime-too-long: {int(exp - iat)} s")
        if exp <= iat:
            raise Unauthorized("exp-before-iat")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_CHARS:
            raise Unauthorized("jti-missing")
        if client.tenant is not None and claims.get("tenant") != client.tenant:
            raise Unauthorized("tenant-mismatch")
        return int(exp + skew) + 1

    # Keys ---------------------------------------------------------------------------------

    def _find_key(self, client: TrustedClient, jku: Any, kid: str) -> Mapping[str, Any]:
        # A `jku` the client did not allow-list is refused whatever the kid: the header names
        # where the key lives, and only the configured URLs are trusted to say so.
        if jku is not None and (not isinstance(jku, str) or jku not in client.jku):
            raise Unauthorized(f"jku-not-allowed: iss {client.iss!r}")
        # The pinned set answers first, with or without `jku`: a key the operator pinned is
        # trusted as much as anything the URL could serve, and needs no network (the sandbox
        # names its public `jku` in every token, also when the service runs offline).
        local = self._files.get(client.iss)
        if local is not None and kid in local.by_kid:
            return local.by_kid[kid]
        # Otherwise the URL the token names, or (no `jku`) the client's allow-listed URLs.
        urls: tuple[str, ...] = (jku,) if jku is not None else client.jku
        for url in urls:
            key = self._remote_key(url, kid)
            if key is not None:
                return key
        raise Unauthorized(f"kid-unknown: iss {client.iss!r} kid {kid[:100]!r}")

    def _remote_key(self, url: str, kid: str) -> Mapping[str, Any] | None:
        with self._lock:
            entry = self._remote.setdefault(url, _RemoteKeySet())
        with entry.lock:
            now = self._clock()
            fresh = now - entry.fetched_at < self.settings.jwks_max_age_s
            if fresh and entry.keys is not None and kid in entry.keys.by_kid:
                return entry.keys.by_kid[kid]
            # Unknown kid, or a set too old to trust: fetch again, but at most once per
            # interval, so that a flood of forged kids cannot turn the service into a load
            # generator against the client. Until a fetch succeeds, an expired set is not used
            # (fail closed: it may still hold the key the client withdrew).
            if now - entry.last_attempt < self.settings.jwks_refresh_interval_s:
                return None
            entry.last_attempt = now
            try:
                fetched = self._fetch_jwks(url, self.settings.jwks_fetch_timeout_s)
                entry.keys = _KeySet(fetched, url)
                entry.fetched_at = now
            except (OSError, ValueError, requests.RequestException) as exc:
                log.warning("JWK Set fetch failed: %s: %s", url, type(exc).__name__)
                return None
            return entry.keys.by_kid.get(kid)


def _bearer_token(authorization_header: str | None) -> str:
    if not authorization_header:
        raise Unauthorized("no-authorization-header")
    scheme, _, token = authorization_header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("not-a-bearer-token")
    if len(token) > MAX_TOKEN_BYTES:
        raise Unauthorized("token-too-large")
    return token


def _verification_key(jwk: Mapping[str, Any], alg: str, kid: str) -> Any:
    """The public key of `jwk` for `alg`, refusing a key meant for anything else."""
    if jwk.get("use") not in (None, "sig"):
        raise Unauthorized(f"key-not-for-signing: kid {kid!r}")
    if "alg" in jwk and jwk["alg"] != alg:
        raise Unauthorized(f"alg-does-not-match-key: kid {kid!r}")
    if jwk.get("kty") != _KTY.get(alg[:2]):
        raise Unauthorized(f"alg-does-not-match-key: kid {kid!r}")
    if alg in _EC_CURVES and jwk.get("crv") != _EC_CURVES[alg]:
        raise Unauthorized(f"alg-does-not-match-key: kid {kid!r}")
    if any(name in jwk for name in ("d", "p", "q", "k")):
        # A private or symmetric key in a public key set: the set is broken.
        raise Unauthorized(f"key-not-public: kid {kid!r}")
    try:
        return jwt.PyJWK(dict(jwk), algorithm=alg).key
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"key-unusable: kid {kid!r}: {type(exc).__name__}") from None


def _is_number(value: Any) -> bool:
    # JSON as Python parses it may carry NaN or Infinity, which every comparison would let by.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
