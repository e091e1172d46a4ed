"""Fixtures of the protocol-layer tests (helpers live in cds_support, importable by name)."""

from support.cds_support import fhir_server, make_app

__all__ = ["fhir_server", "make_app"]
