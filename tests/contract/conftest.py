"""Fixtures of the contract tests: a guard that records and refuses every outgoing connection."""

from __future__ import annotations

import socket
from typing import Any

import pytest


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every outgoing connection (a JWK Set fetch, a FHIR call) is recorded and refused."""
    attempts: list[Any] = []

    def refuse_connection(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("network refused in the contract tests")

    def refuse_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(host)  # a host name is looked up before any connection
        raise socket.gaierror("name resolution refused in the contract tests")

    monkeypatch.setattr(socket.socket, "connect", refuse_connection)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_connection)
    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookup)
    return attempts
