"""context.selections on order-select: which draftOrders entries a selection can name."""

from __future__ import annotations

import pytest

from cds_hooks.request import draft_order_references, selection_references


@pytest.mark.parametrize(
    ("entry", "references"),
    [
        ({"resource": {"resourceType": "ServiceRequest", "id": "a"}}, {"ServiceRequest/a"}),
        (
            {
                "fullUrl": "https://ehr.example/fhir/ServiceRequest/abc",
                "resource": {"resourceType": "ServiceRequest"},
            },
            {"ServiceRequest/abc"},
        ),
        (
            {
                "fullUrl": "ServiceRequest/u",
                "resource": {"resourceType": "ServiceRequest", "id": "i"},
            },
            {"ServiceRequest/u", "ServiceRequest/i"},
        ),
        ({"fullUrl": "urn:uuid:5f6a", "resource": {"resourceType": "ServiceRequest"}}, set()),
        ({"resource": {"resourceType": "ServiceRequest", "id": 3}}, set()),
        (None, set()),
        ("ServiceRequest/a", set()),
    ],
)
def test_selection_references_of_one_entry(entry: object, references: set[str]) -> None:
    assert selection_references(entry) == references


def test_draft_order_references_are_the_union_over_entries() -> None:
    draft = {
        "resourceType": "Bundle",
        "entry": [
            {"fullUrl": "https://ehr.example/fhir/ServiceRequest/x", "resource": {}},
            {"resource": {"resourceType": "MedicationRequest", "id": "m"}},
            "junk",
        ],
    }
    assert draft_order_references(draft) == {"ServiceRequest/x", "MedicationRequest/m"}
    assert draft_order_references({"entry": "x"}) == set()
