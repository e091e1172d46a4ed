"""SMART App Launch scopes (v1 and v2, granular): what the access token lets the service read."""

from __future__ import annotations

import pytest

from cds_hooks.scopes import for_patient, parse_scopes, permits

PLATELETS = "Observation?patient=p1&code=http://loinc.org|777-3&_sort=-date&_count=10"
LAB_SEARCH = PLATELETS + "&category=laboratory"
CONDITIONS = "Condition?patient=p1"
PATIENT_READ = "Patient/p1"


def allowed(scope: str, url: str) -> bool:
    return permits(parse_scopes(scope), url)


@pytest.mark.parametrize(
    "scope",
    [
        "patient/Observation.read",  # SMART v1
        "patient/Observation.rs",  # SMART v2
        "patient/Observation.s",  # v2: search alone is enough for a search
        "patient/Observation.cruds",
        "patient/Observation.*",  # v1 wildcard permission
        "patient/*.read",  # v1 any resource type
        "patient/*.rs",
        "user/Observation.read",
        "user/*.rs",
        "system/Observation.rs",
        "openid fhirUser launch/patient patient/Observation.rs offline_access",
    ],
)
def test_scopes_that_cover_an_observation_search(scope: str) -> None:
    assert allowed(scope, PLATELETS)


@pytest.mark.parametrize(
    "scope",
    [
        "patient/Condition.read",  # another resource type
        "patient/Observation.write",  # v1 write grants no read
        "patient/Observation.cud",  # v2 without r or s
        "patient/Observation.r",  # v2 read without search
        "openid fhirUser launch/patient",  # no resource scope at all
        "patient/Observation.sr",  # letters out of the cruds order: not a v2 scope
        "patient/observation.rs",  # not a resource type
    ],
)
def test_scopes_that_do_not_cover_an_observation_search(scope: str) -> None:
    assert not allowed(scope, PLATELETS)


def test_a_read_needs_r_and_a_search_needs_s() -> None:
    assert allowed("patient/Patient.r", PATIENT_READ)
    assert not allowed("patient/Patient.s", PATIENT_READ)
    assert allowed("patient/Patient.read", PATIENT_READ)
    assert allowed("patient/Medication.rs", "Medication/m1")


def test_granular_scope_covers_only_searches_carrying_its_restriction() -> None:
    scope = "patient/Observation.rs?category=laboratory"
    assert not allowed(scope, PLATELETS)  # the search would also ask for other categories
    assert allowed(scope, LAB_SEARCH)
    assert not allowed(scope, PLATELETS + "&category=laboratory,vital-signs")
    assert allowed(
        "patient/Observation.rs?category=laboratory,vital-signs", PLATELETS + "&category=laboratory"
    )
    # A read cannot be known beforehand to meet the restriction.
    assert not allowed(scope, "Observation/o1")


def test_granular_scope_with_a_coded_value() -> None:
    scope = (
        "patient/Observation.rs?category="
        "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    )
    url = (
        PLATELETS
        + "&category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    )
    assert allowed(scope, url)
    assert not allowed(scope, LAB_SEARCH)


def test_one_covering_scope_among_several_is_enough() -> None:
    scope = "patient/Observation.rs?category=laboratory patient/Observation.rs"
    assert allowed(scope, PLATELETS)
    assert allowed("patient/Condition.rs patient/Observation.read", CONDITIONS)


def test_patient_scopes_reach_only_the_tokens_patient() -> None:
    scopes = parse_scopes("patient/Observation.rs user/Condition.rs")
    assert for_patient(scopes, None, "p1") == scopes  # no patient named: as given
    assert for_patient(scopes, "p1", "p1") == scopes
    other = for_patient(scopes, "p2", "p1")
    assert not permits(other, PLATELETS)
    assert permits(other, CONDITIONS)  # a user scope is not tied to the token's patient
