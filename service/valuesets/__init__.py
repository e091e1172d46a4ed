"""Value sets as data files (JSON, each code with its source), loaded once by `load_valuesets`."""

from service.valuesets.common import ValueSetError
from service.valuesets.concepts import ConceptValueSet
from service.valuesets.drugs import DrugMatch, DrugValueSet
from service.valuesets.labs import LabSpec
from service.valuesets.loader import ValueSets, load_valuesets
from service.valuesets.procedures import BodySiteValueSet, ProcedureValueSet

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
