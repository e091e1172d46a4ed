"""Override reasons: the CDS Hooks 3.0 example terminology where a reason fits, the service's own
codes only where it lacks one, and a display in every language."""

from __future__ import annotations

import json

from support.shared_data import shared_path

from service.cards.base import HL7_OVERRIDE_SYSTEM, OVERRIDE_REASON_SYSTEM, OVERRIDE_REASONS
from service.cards.messages import SUPPORTED_LOCALES, messages


def clinical_selection() -> set[str]:
    path = shared_path("cds-hooks", "hl7-3.0", "ValueSet-non-adherence-reason-clinical.json")
    value_set = json.loads(path.read_text("utf-8"))
    return {
        concept["code"]
        for include in value_set["compose"]["include"]
        if include["system"] == HL7_OVERRIDE_SYSTEM
        for concept in include["concept"]
    }


def test_hl7_reasons_are_in_the_specifications_clinical_value_set() -> None:
    hl7 = [code for system, code in OVERRIDE_REASONS if system == HL7_OVERRIDE_SYSTEM]
    assert hl7, "at least the reasons the terminology covers come from it"
    assert set(hl7) <= clinical_selection()


def test_own_codes_only_for_what_the_terminology_lacks() -> None:
    own = {code for system, code in OVERRIDE_REASONS if system == OVERRIDE_REASON_SYSTEM}
    assert own == {"agreed-with-anaesthesia", "mdt-decided"}
    assert not own & clinical_selection()


def test_every_reason_has_a_display_in_every_language() -> None:
    for locale in SUPPORTED_LOCALES:
        displays = messages(locale)["override"]
        assert set(displays) == {code for _, code in OVERRIDE_REASONS}
        assert all(text.strip() for text in displays.values())
    assert messages("fr")["override"]["mdt-decided"] != messages("en")["override"]["mdt-decided"]
