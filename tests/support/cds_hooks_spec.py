"""What CDS Hooks 2.0 requires of a service's answers, written from the specification.

Independent of the service's own OpenAPI document on purpose: a contract test must not check
the service against a description the service wrote itself. Each check names the section of
https://cds-hooks.hl7.org/2.0/ (and, where there is one, the requirement number of
`cds-hooks/cds-hooks_2.0_requirements.csv` in the shared folder). Every function returns the
list of violations, each with its JSON path: empty when the document conforms.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

INDICATORS = ("info", "warning", "critical")  # #card-attributes, req. 88
SELECTION_BEHAVIORS = ("at-most-one", "any")  # req. 95
ACTION_TYPES = ("create", "update", "delete")  # #action
LINK_TYPES = ("absolute", "smart")  # #link
SUMMARY_MAX_CHARS = 139  # "<140 characters" (req. 83)


def discovery_violations(document: Any) -> list[str]:
    """#discovery response: `{"services": [CDS Service, ...]}` (req. 6-12)."""
    if not isinstance(document, dict) or not isinstance(document.get("services"), list):
        return ["$: must be an object with a 'services' array (req. 6)"]
    problems = _no_null_or_empty(document, "$", allow_empty_arrays=("$.services",))
    ids: list[str] = []
    for index, service in enumerate(document["services"]):
        where = f"$.services[{index}]"
        if not isinstance(service, dict):
            problems.append(f"{where}: must be an object")
            continue
        for name in ("hook", "description", "id"):  # REQUIRED (req. 7, 9, 10)
            if not _is_text(service.get(name)):
                problems.append(f"{where}.{name}: required string")
        for name in ("title", "usageRequirements"):  # RECOMMENDED / OPTIONAL strings
            if name in service and not _is_text(service[name]):
                problems.append(f"{where}.{name}: must be a string")
        prefetch = service.get("prefetch")
        if prefetch is not None and not (
            isinstance(prefetch, dict) and all(_is_text(query) for query in prefetch.values())
        ):
            problems.append(f"{where}.prefetch: must map keys to FHIR query strings (req. 11)")
        ids.append(service.get("id"))
    if len(ids) != len(set(map(str, ids))):
        problems.append("$.services: two services with the same id")
    return problems


def response_violations(document: Any) -> list[str]:
    """#cds-service-response: `{"cards": [...]}` and optional `systemActions` (req. 74-77)."""
    if not isinstance(document, dict) or not isinstance(document.get("cards"), list):
        return ["$: must be an object with a 'cards' array (req. 74)"]
    # req. 3: no null or empty element, except the cards array itself ("no guidance").
    problems = _no_null_or_empty(document, "$", allow_empty_arrays=("$.cards",))
    card_uuids: list[str] = []
    for index, card in enumerate(document["cards"]):
        problems += _card_violations(card, f"$.cards[{index}]")
        if isinstance(card, dict) and "uuid" in card:
            card_uuids.append(card["uuid"])
    if len(card_uuids) != len(set(map(str, card_uuids))):
        problems.append("$.cards: card uuids must be unique (req. 80)")
    for index, action in enumerate(document.get("systemActions") or []):
        problems += _action_violations(action, f"$.systemActions[{index}]")
    return problems


def _card_violations(card: Any, where: str) -> list[str]:
    if not isinstance(card, dict):
        return [f"{where}: must be an object"]
    problems = []
    if "uuid" in card and not _is_text(card["uuid"]):
        problems.append(f"{where}.uuid: must be a string (req. 80)")
    summary = card.get("summary")
    if not _is_text(summary) or len(summary) > SUMMARY_MAX_CHARS:
        problems.append(f"{where}.summary: required string under 140 characters (req. 83)")
    if "detail" in card and not _is_text(card["detail"]):
        problems.append(f"{where}.detail: must be a (Markdown) string (req. 85)")
    if card.get("indicator") not in INDICATORS:
        problems.append(f"{where}.indicator: one of {', '.join(INDICATORS)} (req. 87-88)")
    problems += _source_violations(card.get("source"), f"{where}.source")
    suggestions = card.get("suggestions")
    if suggestions is not None:
        if not isinstance(suggestions, list):
            problems.append(f"{where}.suggestions: must be an array (req. 92)")
            suggestions = []
        if card.get("selectionBehavior") not in SELECTION_BEHAVIORS:
            problems.append(f"{where}.selectionBehavior: required with suggestions (req. 93, 95)")
        suggestion_uuids = []
        for index, suggestion in enumerate(suggestions):
            problems += _suggestion_violations(suggestion, f"{where}.suggestions[{index}]")
            if isinstance(suggestion, dict) and "uuid" in suggestion:
                suggestion_uuids.append(suggestion["uuid"])
        if len(suggestion_uuids) != len(set(map(str, suggestion_uuids))):
            problems.append(f"{where}.suggestions: suggestion uuids must be unique")
    elif "selectionBehavior" in card and card["selectionBehavior"] not in SELECTION_BEHAVIORS:
        problems.append(f"{where}.selectionBehavior: one of {', '.join(SELECTION_BEHAVIORS)}")
    reasons = card.get("overrideReasons")
    if reasons is not None:
        if not isinstance(reasons, list):
            problems.append(f"{where}.overrideReasons: must be an array of Coding (req. 98)")
        else:
            for index, reason in enumerate(reasons):
                path = f"{where}.overrideReasons[{index}]"
                problems += _coding_violations(reason, path, display_required=True)  # req. 100
    links = card.get("links")
    if links is not None:
        if not isinstance(links, list):
            problems.append(f"{where}.links: must be an array (req. 103)")
        else:
            for index, link in enumerate(links):
                problems += _link_violations(link, f"{where}.links[{index}]")
    return problems


def _source_violations(source: Any, where: str) -> list[str]:
    """#source: label required; url and icon absolute URLs; topic a Coding."""
    if not isinstance(source, dict):
        return [f"{where}: required object (req. 90)"]
    problems = []
    if not _is_text(source.get("label")):
        problems.append(f"{where}.label: required string")
    for name in ("url", "icon"):
        if name in source and not _is_absolute_url(source[name]):
            problems.append(f"{where}.{name}: must be an absolute URL")
    if "topic" in source:
        problems += _coding_violations(source["topic"], f"{where}.topic", display_required=False)
    return problems


def _suggestion_violations(suggestion: Any, where: str) -> list[str]:
    """#suggestion: label required; uuid a string; isRecommended a boolean; actions."""
    if not isinstance(suggestion, dict):
        return [f"{where}: must be an object"]
    problems = []
    if not _is_text(suggestion.get("label")):
        problems.append(f"{where}.label: required string")
    if "uuid" in suggestion and not _is_text(suggestion["uuid"]):
        problems.append(f"{where}.uuid: must be a string")
    if "isRecommended" in suggestion and not isinstance(suggestion["isRecommended"], bool):
        problems.append(f"{where}.isRecommended: must be a boolean")
    actions = suggestion.get("actions")
    if actions is not None:
        if not isinstance(actions, list):
            problems.append(f"{where}.actions: must be an array")
        else:
            for index, action in enumerate(actions):
                problems += _action_violations(action, f"{where}.actions[{index}]")
    return problems


def _action_violations(action: Any, where: str) -> list[str]:
    """#action: type and description required; create/update carry a FHIR resource."""
    if not isinstance(action, dict):
        return [f"{where}: must be an object"]
    problems = []
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        problems.append(f"{where}.type: one of {', '.join(ACTION_TYPES)}")
    if not _is_text(action.get("description")):
        problems.append(f"{where}.description: required string")
    resource = action.get("resource")
    if kind in ("create", "update") and not (
        isinstance(resource, dict) and _is_text(resource.get("resourceType"))
    ):
        problems.append(f"{where}.resource: a FHIR resource is required for {kind}")
    if kind == "delete" and "resource" in action:
        problems.append(f"{where}.resource: not used for delete (resourceId instead)")
    if "resourceId" in action and not (
        _is_text(action["resourceId"])
        or (
            isinstance(action["resourceId"], list)
            and all(_is_text(value) for value in action["resourceId"])
        )
    ):
        problems.append(f"{where}.resourceId: must be a string")
    return problems


def _link_violations(link: Any, where: str) -> list[str]:
    """#link: label, url and type required; appContext only for smart links."""
    if not isinstance(link, dict):
        return [f"{where}: must be an object"]
    problems = []
    if not _is_text(link.get("label")):
        problems.append(f"{where}.label: required string")
    if not _is_absolute_url(link.get("url")):
        problems.append(f"{where}.url: required absolute URL")
    if link.get("type") not in LINK_TYPES:
        problems.append(f"{where}.type: one of {', '.join(LINK_TYPES)}")
    if "appContext" in link and link.get("type") != "smart":
        problems.append(f"{where}.appContext: only for smart links")
    return problems


def _coding_violations(coding: Any, where: str, *, display_required: bool) -> list[str]:
    """#coding: code and system required strings; display required for override reasons."""
    if not isinstance(coding, dict):
        return [f"{where}: must be a Coding object"]
    problems = [
        f"{where}.{name}: required string"
        for name in ("code", "system")
        if not _is_text(coding.get(name))
    ]
    if display_required and not _is_text(coding.get("display")):
        problems.append(f"{where}.display: required (req. 100, 136)")
    return problems


def _no_null_or_empty(
    value: Any, where: str, *, allow_empty_arrays: tuple[str, ...] = ()
) -> list[str]:
    """req. 3: JSON elements SHALL NOT be null or empty, unless the spec says otherwise.

    The CDS Hooks structures are checked; FHIR resources inside actions have their own rules
    (FHIR also forbids empty elements) and are checked the same way."""
    if value is None:
        return [f"{where}: null"]
    if isinstance(value, (str, list, dict)) and not value and where not in allow_empty_arrays:
        return [f"{where}: empty"]
    if isinstance(value, dict):
        return [
            problem
            for key, item in value.items()
            for problem in _no_null_or_empty(
                item, f"{where}.{key}", allow_empty_arrays=allow_empty_arrays
            )
        ]
    if isinstance(value, list):
        return [
            problem
            for index, item in enumerate(value)
            for problem in _no_null_or_empty(
                item, f"{where}[{index}]", allow_empty_arrays=allow_empty_arrays
            )
        ]
    return []


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_absolute_url(value: Any) -> bool:
    if not _is_text(value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
