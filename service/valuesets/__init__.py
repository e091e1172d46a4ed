"""Value sets as data files (JSON, each code with its source), loaded once by `load_valuesets`."""

from service.valuesets.loader import (
    BodySiteValueSet,
    ConceptValueSet,
    DrugMatch,
    DrugValueSet,
    LabSpec,
    ProcedureValueSet,
    ValueSetError,
    ValueSets,
    load_valuesets,
)

__all__ = [
    "BodySiteValueSet",
    "ConceptValueSet",
    "DrugMatch",
    "DrugValueSet",
    "LabSpec",
    "ProcedureValueSet",
    "ValueSetError",
    "ValueSets",
    "load_valuesets",
]
