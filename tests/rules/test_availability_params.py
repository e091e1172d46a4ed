"""DATA-UNAVAILABLE's parameters: the categories in the catalog's order and how many records of
each could not be read (the card says "2 records could not be read"). A mutation run of
service/rules/availability.py found the count and the order unpinned, and the "nothing could
be checked" reading with some data of one category only."""

from __future__ import annotations

from dataclasses import replace

from support.rule_facts import IN_SCOPE, NOW, facts, med, ref

from service.facts.model import InvalidResource
from service.rules.availability import evaluate
from service.rules.policy import Policy
from service.vocabulary import DataCategory, DrugClass

ALL = frozenset(DataCategory)


def test_unreadable_records_are_counted_per_category_and_categories_keep_the_catalog_order():
    unreadable = tuple(
        InvalidResource(category, ref("MedicationRequest"), "no medication[x]")
        for category in (DataCategory.MEDICATIONS, DataCategory.MEDICATIONS, DataCategory.PLATELETS)
    )
    patient = replace(
        facts(
            unavailable=frozenset(
                {DataCategory.TEMPERATURE, DataCategory.MEDICATIONS, DataCategory.PLATELETS}
            )
        ),
        invalid_resources=unreadable,
    )
    (finding,) = evaluate(patient, Policy(), NOW)
    assert finding.params["unreadable"] == {"medications": 2, "platelets": 1}
    # DataCategory's order (platelets before medications before temperature), not the alphabet's
    assert list(finding.params["categories"]) == ["platelets", "medications", "temperature"]


def test_any_data_read_means_some_check_ran() -> None:
    """Everything unavailable, yet one category's records read: not 'nothing obtained'."""
    only_conditions = facts(unavailable=ALL, labs=(), conditions=IN_SCOPE)
    only_medications = facts(
        unavailable=ALL, labs=(), conditions=(), medications=(med("warfarin", DrugClass.VKA),)
    )
    nothing = facts(unavailable=ALL, labs=(), conditions=())
    for patient, nothing_obtained in (
        (only_conditions, False),
        (only_medications, False),
        (nothing, True),
    ):
        (finding,) = evaluate(patient, Policy(), NOW)
        assert finding.params["nothing_obtained"] is nothing_obtained
