"""Thermal ablation named without the word "ablation": the bone context is what is required.

"Radiofréquence d'une métastase osseuse" once missed the trigger because the text rule wanted
"radiofrequenc*" AND "ablation", although a bone context is required anyway.
"""

from __future__ import annotations

import pytest

from service.vocabulary import ProcedureKind

RF = ProcedureKind.RADIOFREQUENCY_ABLATION
CRYO = ProcedureKind.CRYOABLATION


def text_kinds(valuesets, text: str) -> list[ProcedureKind]:
    return valuesets.procedures.match({"text": text}, bone_site_known=False)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Radiofréquence d'une métastase osseuse", RF),
        ("Radiofrequency of a vertebral metastasis", RF),
        ("Radiofréquence percutanée, os iliaque", RF),
        ("Cryothérapie d'une métastase osseuse", CRYO),
        ("Cryoablation du fémur", CRYO),
    ],
)
def test_technique_alone_with_a_bone_context_is_a_trigger(valuesets, text, kind) -> None:
    assert text_kinds(valuesets, text) == [kind]


@pytest.mark.parametrize(
    "text",
    ["Radiofréquence hépatique", "Radiofrequency of a thyroid nodule", "Cryothérapie cutanée"],
)
def test_technique_alone_without_bone_is_not_a_trigger(valuesets, text) -> None:
    assert text_kinds(valuesets, text) == []


def test_technique_alone_with_a_bone_body_site_is_a_trigger(valuesets) -> None:
    assert valuesets.procedures.match({"text": "Radiofréquence"}, bone_site_known=True) == [RF]
