"""Configuration checks that need the value sets (run by `cementoplasty-cds` and create_app)."""

from __future__ import annotations

from service.config import ConfigError
from service.rules.policy import Policy
from service.valuesets import ValueSets
from service.vocabulary import DrugClass


def check_policy_against_valuesets(policy: Policy, valuesets: ValueSets) -> None:
    """A hold delay for a drug the value sets do not class as an unlisted antithrombotic would
    silently do nothing (a typo, or a drug the guideline already covers): refuse to start."""
    unlisted = sorted(
        ingredient
        for ingredient, classes in valuesets.drugs.ingredient_classes.items()
        if DrugClass.OTHER_ANTITHROMBOTIC in classes
    )
    for ingredient in policy.unlisted_hold_days:
        if ingredient not in unlisted:
            raise ConfigError(
                f"policy.unlisted_hold_days.{ingredient}: not an unlisted antithrombotic "
                f"(one of {', '.join(unlisted)})"
            )
