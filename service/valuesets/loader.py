"""Value sets: data files in this package, loaded once (cached) at start-up.

Every coded entry carries its source and verification from TERMINOLOGY.md; the loader refuses an
entry that is not verified ("yes", "yes (2nd)", or "display" for a product code whose display was
checked to name the ingredient). Matching is by code first; display/text is the last resort. One
module per kind of value set: labs, drugs, concepts (conditions, allergies), procedures (and
body sites); `common` holds what they share.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from service.valuesets.common import ValueSetError, read_data_file
from service.valuesets.concepts import ConceptValueSet, load_concepts
from service.valuesets.drugs import DrugValueSet, load_drugs
from service.valuesets.labs import LabSpec, load_labs
from service.valuesets.procedures import (
    BodySiteValueSet,
    ProcedureValueSet,
    load_body_sites,
    load_procedures,
)
from service.vocabulary import LabKind


@dataclass(frozen=True)
class ValueSets:
    labs: Mapping[LabKind, LabSpec]
    lab_kind_by_code: Mapping[tuple[str, str], LabKind]
    unit_aliases: Mapping[str, str]
    drugs: DrugValueSet
    conditions: ConceptValueSet
    allergies: ConceptValueSet
    procedures: ProcedureValueSet
    body_sites: BodySiteValueSet

    def lab_codes(self, *kinds: LabKind) -> list[tuple[str, str]]:
        return [code for kind in kinds for code in self.labs[kind].codes]


@cache
def load_valuesets() -> ValueSets:
    """Load and check every data file (once per process). Raises ValueSetError."""
    try:
        labs, aliases = load_labs(read_data_file("labs.json"))
        lab_kind_by_code = {code: spec.kind for spec in labs.values() for code in spec.codes}
        return ValueSets(
            labs=labs,
            lab_kind_by_code=lab_kind_by_code,
            unit_aliases=aliases,
            drugs=load_drugs(read_data_file("drugs.json")),
            conditions=load_concepts("conditions.json", read_data_file("conditions.json")),
            allergies=load_concepts("allergies.json", read_data_file("allergies.json")),
            procedures=load_procedures(read_data_file("procedures.json")),
            body_sites=load_body_sites(read_data_file("body_sites.json")),
        )
    except (KeyError, TypeError, ValueError, re.error) as exc:
        if isinstance(exc, ValueSetError):
            raise
        raise ValueSetError(f"value sets: malformed data file: {exc!r}") from exc
