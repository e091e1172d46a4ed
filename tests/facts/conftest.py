from __future__ import annotations

import pytest

from service.valuesets import ValueSets, load_valuesets
from service.vocabulary import ProcedureKind


@pytest.fixture(scope="session")
def valuesets() -> ValueSets:
    return load_valuesets()


@pytest.fixture(scope="session")
def all_triggers() -> frozenset[ProcedureKind]:
    return frozenset(ProcedureKind)
