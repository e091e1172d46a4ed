"""The contract tests' network guard sees the calls it must forbid: else "no call" proves
nothing."""

from __future__ import annotations

import pytest
import requests


@pytest.mark.parametrize(
    "url",
    [
        "https://sandbox.cds-hooks.org/.well-known/jwks.json",  # a jku fetch: a name lookup
        "http://127.0.0.1:8091/fhir/Observation",  # the recorded FHIR server: an address
    ],
)
def test_an_outgoing_request_is_recorded_and_refused(no_network, url) -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=1)
    assert no_network != []
