"""Each rule's finding carries parameters typed per rule (service/rules/params.py)."""

from __future__ import annotations

import dataclasses

import pytest
from support.rule_facts import NOW
from support.scenarios import everything_wrong

from service.rules.catalog import CATALOG
from service.rules.common import fire
from service.rules.engine import evaluate_rules
from service.rules.params import PARAMS, QUALIFIES_ITS_LINE, MedicationParams, Params
from service.rules.policy import Policy


def test_every_rule_has_a_parameters_class() -> None:
    assert set(PARAMS) == set(CATALOG)
    for cls in PARAMS.values():
        assert dataclasses.is_dataclass(cls) and issubclass(cls, Params)


def test_findings_carry_their_rules_class() -> None:
    findings = evaluate_rules(everything_wrong(), Policy(), NOW)
    assert len({f.rule_id for f in findings}) > 10
    for finding in findings:
        assert isinstance(finding.params, PARAMS[finding.rule_id]), finding.rule_id
        if finding.rule_id in QUALIFIES_ITS_LINE:
            assert isinstance(finding.params, MedicationParams)
            assert finding.params.for_rule in CATALOG


def test_a_value_the_rule_does_not_declare_is_refused() -> None:
    with pytest.raises(TypeError):
        fire("SCOPE-NOT-LUNG-PRIMARY", {"metastasis": "C79.5", "metastases": "typo"})
    with pytest.raises(TypeError):
        fire("SCOPE-NOT-LUNG-PRIMARY", {})  # a value the card needs is missing


def test_params_read_as_a_mapping_of_their_fields() -> None:
    params = fire("SCOPE-NOT-LUNG-PRIMARY", {"metastasis": "Bone metastasis"}).params
    assert params["metastasis"] == "Bone metastasis" == params.metastasis  # type: ignore[attr-defined]
    assert dict(params) == {"metastasis": "Bone metastasis"}
    with pytest.raises(KeyError):
        params["other"]
