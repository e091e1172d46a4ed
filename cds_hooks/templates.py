"""Prefetch templates: their tokens filled from the hook context (CDS Hooks 2.0 "Prefetch
tokens") and relative dates (3.0 "simpler FHIRPath": `{{today() - 30 days}}`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from cds_hooks.references import DOT_SEGMENTS

_TOKEN = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
# Prefetch tokens for the user (CDS Hooks 2.0 "Prefetch tokens"), derived from context.userId.
USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


class TemplateError(ValueError):
    """A prefetch template whose tokens the hook context cannot fill."""


# A relative date (CDS Hooks 3.0 "Prefetch tokens containing simpler FHIRPath", STU): `today()`,
# optionally plus or minus a FHIRPath calendar duration in days or weeks. Months and years have
# no fixed length in days: they are not read (a template with one is not renderable).
_RELATIVE_DATE = re.compile(
    r"^today\(\)(?:\s*(?P<sign>[+-])\s*(?P<n>\d{1,5})\s+(?P<unit>days?|weeks?))?$"
)


def relative_date(expression: str, today: date) -> date | None:
    """The date a `today() - 30 days` expression denotes on `today`; None if it is not one."""
    match = _RELATIVE_DATE.match(expression.strip())
    if match is None:
        return None
    if match.group("sign") is None:
        return today
    days = int(match.group("n")) * (7 if match.group("unit").startswith("week") else 1)
    return today + timedelta(days=days if match.group("sign") == "+" else -days)


def render_template(template: str, context: Mapping[str, Any], today: date | None = None) -> str:
    """Fill `{{context.field}}`, user tokens and `{{today() - N days}}` (on `today`, the site's
    day); values are URL-encoded."""

    def substitute(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression.startswith("today()"):
            if today is None:
                raise TemplateError("today() needs the site's day")
            day = relative_date(expression, today)
            if day is None:
                raise TemplateError(f"unsupported date expression {expression[:60]!r}")
            return day.isoformat()
        value = _token_value(expression, context)
        if value in DOT_SEGMENTS:
            raise TemplateError(f"{match.group(1)[:60]} is a dot segment, not an id")
        return quote(value, safe="")

    return _TOKEN.sub(substitute, template)


def _token_value(name: str, context: Mapping[str, Any]) -> str:
    if name.startswith("context."):
        field_name = name.removeprefix("context.")
        value = context.get(field_name)
        # Only root-level primitive context fields are tokens (spec "Prefetch tokens").
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip()):
            return str(value)
        raise TemplateError(f"context.{field_name} is missing or not a primitive value")
    if name in USER_TOKENS:
        user = context.get("userId")
        resource_type, _, user_id = user.partition("/") if isinstance(user, str) else ("", "", "")
        if resource_type == USER_TOKENS[name] and user_id:
            return user_id
        raise TemplateError(f"{name}: context.userId is not a {USER_TOKENS[name]}")
    raise TemplateError(f"unknown prefetch token {name[:60]!r}")
