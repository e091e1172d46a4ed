"""Whatever arrives in the Authorization header, the answer is a refusal, never a crash."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from support.auth_tokens import MemoryReplayGuard, es384_key, write_jwks

from cds_hooks.auth import AuthSettings, ClientAuthenticator, TrustedClient
from cds_hooks.errors import Unauthorized

KEY = es384_key()
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _authenticator(tmp: Path) -> ClientAuthenticator:
    jwks = write_jwks(tmp / "jwks.json", KEY)
    return ClientAuthenticator(
        AuthSettings(
            public_base_urls=("https://cds.example.org",),
            clients=(TrustedClient(iss="https://ehr", jwks_file=jwks, jku=("https://ehr/j",)),),
        ),
        MemoryReplayGuard(),
        fetch_jwks=lambda url, timeout: {"keys": "nonsense"},
    )


def _assert_refused(authenticator: ClientAuthenticator, header: str) -> None:
    try:
        authenticator.verify(header, "https://cds.example.org/cds-services")
    except Unauthorized:
        return
    raise AssertionError("accepted a token it cannot have verified")


@settings(max_examples=300, deadline=None)
@given(header=st.text(max_size=300))
def test_arbitrary_header_text_is_refused(tmp_path_factory, header):
    _assert_refused(_authenticator(tmp_path_factory.mktemp("fuzz")), header)


@settings(max_examples=300, deadline=None)
@given(
    header=st.fixed_dictionaries(
        {"alg": st.sampled_from(["ES384", "RS384", "none", "HS256", 7])},
        optional={"typ": st.sampled_from(["JWT", "jwt", 1]), "kid": JSON, "jku": JSON},
    ),
    payload=st.dictionaries(
        st.sampled_from(["iss", "aud", "exp", "iat", "jti", "tenant", "nbf"]), JSON
    ),
    signature=st.binary(max_size=120),
)
def test_structured_forgeries_are_refused(tmp_path_factory, header, payload, signature):
    token = f"{_b64(header)}.{_b64(payload)}.{base64.urlsafe_b64encode(signature).decode()}"
    _assert_refused(_authenticator(tmp_path_factory.mktemp("fuzz")), f"Bearer {token}")
