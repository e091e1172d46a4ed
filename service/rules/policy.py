"""The institution's local protocol: the values RULES.md leaves to each site (`[policy]` in the
configuration), read by the rules and shown on the rule pages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import ConfigDict, Field


@dataclass(frozen=True)
class Policy:
    """`[policy]`: local policy values of RULES.md, which the guideline does not give."""

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)

    lab_max_age_days: Annotated[int, Field(ge=1, le=365)] = 7
    inr_max: Annotated[float, Field(ge=1.0, le=5.0)] = 1.5
    pain_controlled_max: Annotated[float, Field(ge=0, le=10)] = 3
    pain_uncontrolled_min: Annotated[float, Field(ge=0, le=10)] = 4
    # Hold delays (days before the procedure) for antithrombotics the guideline does not list,
    # by ingredient key (e.g. {"prasugrel": 7}). None by default: the card says none is given.
    unlisted_hold_days: Mapping[str, Annotated[int, Field(ge=0, le=60)]] = field(
        default_factory=dict
    )
    # The usual interruption of a vitamin K antagonist, in days before the procedure: the guideline
    # gives none (MED-VKA, MED-VKA-TOO-LATE); the card calls it the institution's local protocol.
    vka_stop_days: Annotated[int, Field(ge=1, le=30)] = 5
