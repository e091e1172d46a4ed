"""The discovery response's wire model (CDS Hooks "Discovery"): what `GET /cds-services` writes
and what the OpenAPI document's `Discovery` and `DiscoveredService` schemas are generated from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from cds_hooks.cards import WIRE_CONFIG, Text


@dataclass(frozen=True)
class DiscoveredService:
    """One CDS Service as discovery describes it."""

    __pydantic_config__ = WIRE_CONFIG

    hook: Text
    id: Text
    description: Text
    # CDS Hooks 3.0: the version of CDS Hooks the service implements, and of its hook.
    version: Text
    title: Text | None = None
    prefetch: Mapping[str, str] | None = None  # omitted when the service prefetches nothing
    usage_requirements: Annotated[str | None, Field(serialization_alias="usageRequirements")] = None
    hook_version: Annotated[str | None, Field(serialization_alias="hookVersion")] = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"hook": self.hook, "id": self.id}
        if self.title is not None:
            out["title"] = self.title
        out |= {"description": self.description, "version": self.version}
        if self.hook_version is not None:
            out["hookVersion"] = self.hook_version
        if self.prefetch:
            out["prefetch"] = dict(self.prefetch)
        if self.usage_requirements:
            out["usageRequirements"] = self.usage_requirements
        return out


@dataclass(frozen=True)
class Discovery:
    __pydantic_config__ = WIRE_CONFIG

    services: tuple[DiscoveredService, ...]

    def to_json(self) -> dict[str, Any]:
        return {"services": [service.to_json() for service in self.services]}
