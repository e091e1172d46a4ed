"""Observations -> LabResult: status filter, latest first, UCUM units, never a guessed value.

`final`, `amended` and `corrected` count; `preliminary` is read too, flagged, and counts in the
rules only when less favourable than the latest final result. The date is effectiveDateTime (or
effectiveInstant), else effectivePeriod.end, else issued (see dates.py for partial dates; a time
without a zone is read in the zone of "now", the site's, and flagged). Only what the rules read is
interpreted (and validated), since a prefetch may hold hundreds of Observations: per kind, newest
first, every result down to the most recent USABLE final one (exact value, known unit) and the
results of that same instant (ties), at most MAX_READ_BACK when none is usable (a newer unusable
result never hides an older usable one: RULES.md "Latest"), plus the few future-dated ones
(reported, never used).
A result carrying a modifierExtension (the service understands none) is never usable.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from service.facts.dates import EARLIEST_ZONE, FhirDate, parse_fhir_datetime
from service.facts.model import InvalidResource, LabResult
from service.facts.refs import has_modifier_extension, is_one_of, resource_ref, unreadable
from service.facts.units import convert
from service.facts.validation import validation_error
from service.valuesets import LabSpec, ValueSets
from service.valuesets.codeable import normalise_system
from service.valuesets.common import UCUM
from service.vocabulary import DataCategory, LabKind

MODIFIER_PROBLEM = "modifierExtension not understood"

# Why a result is unusable, as a code the cards word in their language (`LabResult.problem`
# keeps the English detail for logs and the audit). First matching prefix wins.
_PROBLEM_CODES = (
    ("no unit", "no-unit"),
    ("unit ", "unit"),  # not convertible, or not accepted for this test
    ("value has a comparator", "bound"),
    ("non-numeric value", "non-numeric"),
    ("valueQuantity is not an object", "non-numeric"),
    ("no value", "no-value"),
    ("value is not a finite number", "non-numeric"),
    ("negative value", "out-of-range"),
    ("value outside", "out-of-range"),
    ("invalid FHIR R4", "invalid"),
    ("date", "date"),
    (MODIFIER_PROBLEM, "modifier"),
    ("could not be read", "unreadable"),
    ("scale not shown", "scale"),  # LabSpec.scale_problem
)


def problem_code(problem: str | None) -> str | None:
    """The code of a result's problem (None when it has none); "other" when unforeseen."""
    if problem is None:
        return None
    return next((code for prefix, code in _PROBLEM_CODES if problem.startswith(prefix)), "other")


USABLE_STATUSES = frozenset({"final", "amended", "corrected"})
PRELIMINARY = "preliminary"
READ_STATUSES = USABLE_STATUSES | {PRELIMINARY}
MAX_FUTURE_PER_KIND = 2
# Past results of one kind interpreted, newest first, while none is a usable final one: enough to
# reach back past a few unusable entries (a unit missing, a typo), cheap when a prefetch holds
# hundreds of results.
MAX_READ_BACK = 10
# A result dated later than now + this tolerance is never the latest one: a typo (2062 for 2026)
# would otherwise hide every real result. One hour absorbs clock skew between the lab system and
# us; such a result is reported as uninterpretable instead ("dated in the future").
FUTURE_TOLERANCE = timedelta(hours=1)
_NEVER = datetime.min.replace(tzinfo=EARLIEST_ZONE)


def observation_date(resource: dict[str, Any], site_zone: tzinfo | None = None) -> FhirDate | None:
    """The result's date; a time without a zone is read in `site_zone` (when given)."""
    for key in ("effectiveDateTime", "effectiveInstant"):
        if key in resource:
            return parse_fhir_datetime(resource[key], site_zone)
    period = resource.get("effectivePeriod")
    if isinstance(period, dict) and "end" in period:
        return parse_fhir_datetime(period["end"], site_zone)
    if "issued" in resource:
        return parse_fhir_datetime(resource["issued"], site_zone)
    return None


def lab_kind(resource: dict[str, Any], valuesets: ValueSets) -> LabKind | None:
    """The kind named by the first coding in the value sets (system and code as `codings`
    reads them). Run on every Observation of the prefetch, hence no intermediate list."""
    concept = resource.get("code")
    coding_list = concept.get("coding") if isinstance(concept, dict) else None
    if not isinstance(coding_list, list):
        return None
    by_code = valuesets.lab_kind_by_code
    for coding in coding_list:
        if not isinstance(coding, dict):
            continue
        system, code = coding.get("system"), coding.get("code")
        kind = by_code.get(
            (normalise_system(system), code.strip() if isinstance(code, str) else "")
        )
        if kind is not None:
            return kind
    return None


def _sort_key(date: FhirDate | None) -> datetime:
    """The instant; a result without one (no date, or a date that is no instant) sorts oldest.
    (A time without a zone has one: extract_labs reads it in the site's zone.)"""
    if date is None or date.instant is None:
        return _NEVER
    return date.instant


# The data category of each lab kind (an Observation that cannot be read is unavailable data).
LAB_CATEGORIES = {
    LabKind.PLATELETS: DataCategory.PLATELETS,
    LabKind.TP_PERCENT: DataCategory.COAGULATION,
    LabKind.INR: DataCategory.COAGULATION,
    LabKind.PT_SECONDS: DataCategory.COAGULATION,
    LabKind.PAIN_SCORE: DataCategory.PAIN,
    LabKind.TEMPERATURE: DataCategory.TEMPERATURE,
    LabKind.NEUTROPHILS: DataCategory.NEUTROPHILS,
}


def extract_labs(
    observations: list[dict[str, Any]],
    valuesets: ValueSets,
    now: datetime,
    invalid: list[InvalidResource] | None = None,
) -> list[LabResult]:
    """The latest usable results of each kind, most recent first.

    An Observation whose reading raises (an input no reader foresaw) never fails the call: once
    its kind is known it becomes an uninterpretable result; before that, it is appended to
    `invalid` once per lab category (it may have been any of them).
    """
    site_zone = now.tzinfo
    candidates: dict[LabKind, list[tuple[datetime, FhirDate | None, dict[str, Any]]]] = {}
    for resource in observations:
        try:
            if not is_one_of(resource.get("status"), READ_STATUSES):
                continue
            kind = lab_kind(resource, valuesets)
            if kind is None:
                continue
            date = observation_date(resource, site_zone)
            candidates.setdefault(kind, []).append((_sort_key(date), date, resource))
        except Exception as exc:  # this resource only; logged without content
            first = unreadable(resource, exc, DataCategory.PLATELETS)
            if invalid is not None:
                for category in sorted(set(LAB_CATEGORIES.values())):
                    invalid.append(replace(first, category=category))
    results: list[LabResult] = []
    for kind, items in candidates.items():
        items.sort(key=lambda item: item[0], reverse=True)
        window = valuesets.labs[kind].keep_within
        if window is not None:  # temperature: the rules read every result of the last 48 h
            recent = [i for i in items if now - window <= i[0] <= now + FUTURE_TOLERANCE]
            results.extend(_read(kind, item, valuesets) for item in recent)
        else:
            results.extend(_read_by_rules(kind, items, now, valuesets))
    results.sort(key=lambda r: r.effective or _NEVER, reverse=True)
    return results


def _read(
    kind: LabKind,
    item: tuple[datetime, FhirDate | None, dict[str, Any]],
    valuesets: ValueSets,
) -> LabResult:
    """One result; a reading that raises (an input no reader foresaw) gives an uninterpretable
    result of its kind instead of failing the request."""
    _, date, resource = item
    try:
        return interpret(kind, resource, date, valuesets)
    except Exception as exc:  # this resource only: a lab that cannot be trusted
        reason = unreadable(resource, exc, LAB_CATEGORIES[kind]).reason
        return LabResult(
            kind,
            None,
            "",
            None,
            None,
            resource_ref(resource),
            problem=reason,
            problem_code=problem_code(reason),
        )


def _decides(result: LabResult) -> bool:
    """A final result with an exact, interpretable value: reading back can stop at it."""
    return result.interpretable and result.comparator is None and not result.preliminary


def _read_by_rules(
    kind: LabKind,
    items: list[tuple[datetime, FhirDate | None, dict[str, Any]]],
    now: datetime,
    valuesets: ValueSets,
) -> list[LabResult]:
    """The results of one kind (`items` newest first) that the rules read: the few dated in the
    future, then the past ones newest first down to the first that decides and every other
    result of its instant (MAX_READ_BACK at most while none decides)."""
    not_after = now + FUTURE_TOLERANCE
    future = [item for item in items if item[0] > not_after][:MAX_FUTURE_PER_KIND]
    read = [_read(kind, item, valuesets) for item in future]
    decided_at: datetime | None = None
    for count, item in enumerate(item for item in items if item[0] <= not_after):
        if decided_at is not None and item[0] != decided_at:
            break  # the instant that decides is read whole (ties), nothing older
        if decided_at is None and count >= MAX_READ_BACK:
            break
        result = _read(kind, item, valuesets)
        read.append(result)
        if decided_at is None and _decides(result):
            decided_at = item[0]
    return read


def interpret(
    kind: LabKind, resource: dict[str, Any], date: FhirDate | None, valuesets: ValueSets
) -> LabResult:
    spec = valuesets.labs[kind]
    raw_value, raw_unit, units, problem = _read_value(resource)
    comparator = _bound_comparator(resource)
    if comparator is not None and kind not in BOUND_KINDS:
        problem = problem or f"value has a comparator ({comparator}): not exact"
    value: float | None = None
    if problem is None:
        value, problem = _normalise(spec, raw_value, units, valuesets)
    if problem is None:  # 38208-5: only on a 0-10 scale shown by the result (labs.json)
        problem = spec.scale_problem(resource)
    if problem is None:
        checked = _zoned(resource, date.instant) if date and date.zone_assumed else resource
        invalid = validation_error(checked)
        if invalid is not None:
            value, problem = None, invalid
    if date is not None and date.problem is not None:
        value, problem = None, problem or f"date: {date.problem}"
    if has_modifier_extension(resource):
        value, problem = None, MODIFIER_PROBLEM
    return LabResult(
        kind=kind,
        value=value if problem is None else None,
        original_value="" if raw_value is None else str(raw_value),  # str(float) is its repr
        original_unit=raw_unit,
        effective=date.instant if date is not None else None,
        source=resource_ref(resource),
        problem=problem,
        effective_precision=date.precision if date is not None else None,
        comparator=comparator if problem is None else None,
        problem_code=problem_code(problem),
        preliminary=resource.get("status") == PRELIMINARY,
        zone_assumed=date is not None and date.zone_assumed,
    )


# A bound ("<20 G/L") can still settle a threshold for these; a pain score with one cannot.
BOUND_KINDS = frozenset({LabKind.PLATELETS, LabKind.TP_PERCENT, LabKind.INR})
BOUND_COMPARATORS = ("<", "<=", ">=", ">")


def _bound_comparator(resource: dict[str, Any]) -> str | None:
    quantity = resource.get("valueQuantity")
    comparator = quantity.get("comparator") if isinstance(quantity, dict) else None
    return comparator if comparator in BOUND_COMPARATORS else None


# The date elements of an Observation that may carry a time without a zone.
_DATE_KEYS = ("effectiveDateTime", "effectiveInstant", "issued")


def _zoned(resource: dict[str, Any], instant: datetime | None) -> dict[str, Any]:
    """A copy to validate in which each date-time written without a zone carries the site's
    offset (the zone it was read in): that one defect is accepted (RULES.md), no other."""
    if instant is None:
        return resource
    zone = instant.tzinfo

    def fixed(value: Any) -> Any:
        parsed = parse_fhir_datetime(value, zone)
        if parsed is not None and parsed.zone_assumed and parsed.instant is not None:
            return parsed.instant.isoformat()
        return value

    copy = dict(resource)
    for key in _DATE_KEYS:
        if key in copy:
            copy[key] = fixed(copy[key])
    period = copy.get("effectivePeriod")
    if isinstance(period, dict):
        copy["effectivePeriod"] = {key: fixed(value) for key, value in period.items()}
    return copy


def _read_value(
    resource: dict[str, Any],
) -> tuple[Any, str | None, list[str], str | None]:
    """(value, unit as written, unit strings to try, problem)."""
    if "valueQuantity" in resource:
        quantity = resource["valueQuantity"]
        if not isinstance(quantity, dict):
            return None, None, [], "valueQuantity is not an object"
        value = quantity.get("value")
        code, system, unit = quantity.get("code"), quantity.get("system"), quantity.get("unit")
        units: list[str] = []
        if isinstance(code, str) and (system is None or normalise_system(system) == UCUM):
            units.append(code)
        if isinstance(unit, str) and unit not in units:
            units.append(unit)
        shown_unit = unit if isinstance(unit, str) else (code if isinstance(code, str) else None)
        comparator = quantity.get("comparator")
        if comparator is not None and comparator not in BOUND_COMPARATORS:
            return value, shown_unit, units, f"value has a comparator ({str(comparator)[:2]})"
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            return value, shown_unit, units, "non-numeric value"
        return value, shown_unit, units, None
    if "valueInteger" in resource:
        value = resource["valueInteger"]
        if isinstance(value, bool) or not isinstance(value, int):
            return value, None, [], "non-numeric value"
        return value, None, [], None
    for key in ("valueString", "valueCodeableConcept", "valueBoolean", "valueRatio", "valueRange"):
        if key in resource:
            shown = resource[key] if isinstance(resource[key], str) else key
            return shown, None, [], f"non-numeric value ({key})"
    if "dataAbsentReason" in resource:
        return None, None, [], "no value (dataAbsentReason)"
    return None, None, [], "no value"


GREEK_MU, MICRO_SIGN = "\u03bc", "\u00b5"


def _alias(unit: str, valuesets: ValueSets) -> str:
    """The UCUM unit of an alias of labs.json (exact, trimmed; the Greek mu read as the micro
    sign), else the unit as written."""
    written = unit.strip().replace(GREEK_MU, MICRO_SIGN)
    return valuesets.unit_aliases.get(written, written)


def _normalise(
    spec: LabSpec, value: Any, units: list[str], valuesets: ValueSets
) -> tuple[float | None, str | None]:
    written = [_alias(unit, valuesets) for unit in units]
    shown = units[0] if units else "(none)"
    if spec.accepted_units is not None:
        if (not written and "" in spec.accepted_units) or any(
            u in spec.accepted_units for u in written
        ):
            normalised = float(value)
        else:
            accepted = ", ".join(repr(u) if u else "no unit" for u in sorted(spec.accepted_units))
            return None, f"unit {shown!r} is not accepted for {spec.kind.value} ({accepted})"
    else:
        target = spec.target_unit or "1"
        if not written:
            return None, f"no unit: cannot be converted to {target}"
        converted = None
        for unit in written:
            converted = convert(value, unit, target)
            if converted is not None:
                break
        if converted is None:
            return None, f"unit {shown!r} cannot be converted to {target}"
        normalised = converted
    if normalised != normalised or normalised in (float("inf"), float("-inf")):
        return None, "value is not a finite number"
    if normalised < 0:
        return None, "negative value"
    if spec.value_range is not None and not (
        spec.value_range[0] <= normalised <= spec.value_range[1]
    ):
        low, high = spec.value_range
        return None, f"value outside the {low:g}-{high:g} scale"
    return normalised, None
