"""Card builders that cannot produce a card the CDS Hooks 2.0 specification forbids.

Every constructor validates its arguments (no empty strings or arrays, summary under 140
characters, `selectionBehavior` present exactly when there are suggestions, a `display` on
every override reason) and raises `InvalidCard` otherwise, so an invalid card is a bug found
at build time, never a response sent to an EHR.
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field

SUMMARY_MAX_CHARS = 139  # the spec: "<140 characters"
# These classes are the response's wire model: their fields, with the JSON names given by
# `serialization_alias`, are what `to_json` writes and what the OpenAPI document's schemas are
# generated from (cds_hooks/openapi.py). `to_json` never writes null or an empty array.
WIRE_CONFIG = ConfigDict(extra="forbid")
# A class's fields that have a default in Python but that `to_json` always writes: required in
# the generated schema (`ALWAYS_WRITTEN` on each class).
# A string the wire never carries empty or blank (cards, discovery, feedback, hook calls).
NOT_BLANK = r"\S"
Text = Annotated[str, Field(min_length=1, pattern=NOT_BLANK)]


class InvalidCard(ValueError):
    """A card, suggestion or action that the specification does not allow."""


class Indicator(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "critical": 2}[self.value]

    @staticmethod
    def most_severe(indicators: Sequence[Indicator]) -> Indicator:
        if not indicators:
            raise InvalidCard("most_severe needs at least one indicator")
        return max(indicators, key=lambda i: i.rank)


class SelectionBehavior(StrEnum):
    AT_MOST_ONE = "at-most-one"
    ANY = "any"


class ActionType(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


def _non_empty(value: str | None, what: str) -> None:
    if value is not None and not value.strip():
        raise InvalidCard(f"{what} must not be empty")


def _new_uuid() -> str:
    return str(uuid_module.uuid4())


@dataclass(frozen=True)
class Coding:
    __pydantic_config__ = WIRE_CONFIG

    code: Text
    system: Text
    display: str | None = None

    def __post_init__(self) -> None:
        _non_empty(self.code, "Coding.code")
        _non_empty(self.system, "Coding.system")
        _non_empty(self.display, "Coding.display")

    def to_json(self) -> dict[str, Any]:
        out = {"system": self.system, "code": self.code}
        if self.display:
            out["display"] = self.display
        return out


@dataclass(frozen=True)
class OverrideReason(Coding):
    """A coded reason a clinician can give for not following a card; `display` is required."""

    ALWAYS_WRITTEN: ClassVar[tuple[str, ...]] = ("display",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.display:
            raise InvalidCard("an override reason needs a display")


@dataclass(frozen=True)
class Source:
    __pydantic_config__ = WIRE_CONFIG

    label: Text
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None

    def __post_init__(self) -> None:
        if not self.label or not self.label.strip():
            raise InvalidCard("Source.label is required")
        _non_empty(self.url, "Source.url")
        _non_empty(self.icon, "Source.icon")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label}
        if self.url:
            out["url"] = self.url
        if self.icon:
            out["icon"] = self.icon
        if self.topic:
            out["topic"] = self.topic.to_json()
        return out


@dataclass(frozen=True)
class Action:
    __pydantic_config__ = WIRE_CONFIG

    type: ActionType
    description: Text
    resource: Mapping[str, Any] | None = None
    resource_id: Annotated[str | None, Field(serialization_alias="resourceId")] = None

    def __post_init__(self) -> None:
        if not self.description or not self.description.strip():
            raise InvalidCard("Action.description is required")
        if self.type in (ActionType.CREATE, ActionType.UPDATE) and not self.resource:
            raise InvalidCard(f"a {self.type} action needs a resource")
        if self.type is ActionType.DELETE and not self.resource_id:
            raise InvalidCard("a delete action needs a resourceId")
        if self.resource is not None and not self.resource.get("resourceType"):
            raise InvalidCard("an action's resource needs a resourceType")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type.value, "description": self.description}
        if self.resource is not None:
            out["resource"] = dict(self.resource)
        if self.resource_id:
            out["resourceId"] = self.resource_id
        return out


@dataclass(frozen=True)
class Suggestion:
    __pydantic_config__ = WIRE_CONFIG
    ALWAYS_WRITTEN: ClassVar[tuple[str, ...]] = ("uuid",)

    label: Text
    actions: tuple[Action, ...] = ()
    is_recommended: Annotated[bool | None, Field(serialization_alias="isRecommended")] = None
    uuid: str = field(default_factory=_new_uuid)

    def __post_init__(self) -> None:
        if not self.label or not self.label.strip():
            raise InvalidCard("Suggestion.label is required")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "uuid": self.uuid}
        if self.is_recommended is not None:
            out["isRecommended"] = self.is_recommended
        if self.actions:
            out["actions"] = [a.to_json() for a in self.actions]
        return out


@dataclass(frozen=True)
class Link:
    __pydantic_config__ = WIRE_CONFIG
    ALWAYS_WRITTEN: ClassVar[tuple[str, ...]] = ("type",)

    label: Text
    url: Text
    type: Literal["absolute", "smart"] = "absolute"
    app_context: Annotated[str | None, Field(serialization_alias="appContext")] = None

    def __post_init__(self) -> None:
        _non_empty(self.label, "Link.label")
        _non_empty(self.url, "Link.url")
        if self.type not in ("absolute", "smart"):
            raise InvalidCard("Link.type is 'absolute' or 'smart'")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "url": self.url, "type": self.type}
        if self.app_context:
            out["appContext"] = self.app_context
        return out


@dataclass(frozen=True)
class Card:
    __pydantic_config__ = WIRE_CONFIG
    ALWAYS_WRITTEN: ClassVar[tuple[str, ...]] = ("uuid",)

    summary: Annotated[str, Field(min_length=1, max_length=SUMMARY_MAX_CHARS)]
    indicator: Indicator
    source: Source
    detail: str | None = None
    suggestions: tuple[Suggestion, ...] = ()
    selection_behavior: Annotated[
        SelectionBehavior | None, Field(serialization_alias="selectionBehavior")
    ] = None
    override_reasons: Annotated[
        tuple[OverrideReason, ...], Field(serialization_alias="overrideReasons")
    ] = ()
    links: tuple[Link, ...] = ()
    extension: Mapping[str, Any] | None = None
    uuid: str = field(default_factory=_new_uuid)

    def __post_init__(self) -> None:
        if not self.summary or not self.summary.strip():
            raise InvalidCard("Card.summary is required")
        if len(self.summary) > SUMMARY_MAX_CHARS:
            raise InvalidCard(f"Card.summary must be under 140 characters: {self.summary!r}")
        _non_empty(self.detail, "Card.detail")
        if self.suggestions and self.selection_behavior is None:
            raise InvalidCard("selectionBehavior is required when there are suggestions")
        if not self.suggestions and self.selection_behavior is not None:
            raise InvalidCard("selectionBehavior without suggestions")
        if self.extension is not None and not self.extension:
            raise InvalidCard("Card.extension must not be empty")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "uuid": self.uuid,
            "summary": self.summary,
            "indicator": self.indicator.value,
            "source": self.source.to_json(),
        }
        if self.detail:
            out["detail"] = self.detail
        if self.suggestions:
            out["suggestions"] = [s.to_json() for s in self.suggestions]
            out["selectionBehavior"] = self.selection_behavior.value  # type: ignore[union-attr]
        if self.override_reasons:
            out["overrideReasons"] = [r.to_json() for r in self.override_reasons]
        if self.links:
            out["links"] = [link.to_json() for link in self.links]
        if self.extension:
            out["extension"] = dict(self.extension)
        return out


@dataclass(frozen=True)
class CdsResponse:
    __pydantic_config__ = WIRE_CONFIG
    ALWAYS_WRITTEN: ClassVar[tuple[str, ...]] = ("cards",)

    cards: tuple[Card, ...] = ()
    system_actions: Annotated[tuple[Action, ...], Field(serialization_alias="systemActions")] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cards": [c.to_json() for c in self.cards]}
        if self.system_actions:
            out["systemActions"] = [a.to_json() for a in self.system_actions]
        return out


# Every class of the response's wire model, by the name its schema has in the OpenAPI document.
WIRE_CLASSES: Mapping[str, type] = {
    cls.__name__: cls
    for cls in (CdsResponse, Card, Suggestion, Action, Link, Source, Coding, OverrideReason)
}
