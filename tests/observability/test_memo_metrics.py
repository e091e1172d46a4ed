"""The validation memo's hit rate and size are in /metrics (issue #15: memos are bounded and
say what they hold)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from service.facts.validation import ValidationMemo
from service.observability import metrics_response


def lookups(result: str) -> float:
    value = REGISTRY.get_sample_value(
        "cds_memo_lookups_total", {"memo": "validation", "result": result}
    )
    return value or 0.0


def test_hits_misses_and_size_are_counted_and_exposed() -> None:
    memo = ValidationMemo(entries=2)
    hits, misses = lookups("hit"), lookups("miss")
    content = {"resourceType": "Observation", "id": "memo-metrics-1", "status": "final"}
    assert memo.outcome("Observation", content, lambda: None) is None
    assert memo.outcome("Observation", content, lambda: "never called") is None
    assert (lookups("hit") - hits, lookups("miss") - misses) == (1, 1)
    for number in range(2, 5):  # past the bound: the oldest go, the size stays at 2
        memo.outcome("Observation", {**content, "id": f"memo-metrics-{number}"}, lambda: None)
    assert len(memo) == 2
    assert REGISTRY.get_sample_value("cds_memo_entries", {"memo": "validation"}) == 2
    body, status, _ = metrics_response()
    assert status == 200
    assert b'cds_memo_lookups_total{memo="validation",result="hit"}' in body
    assert b'cds_memo_entries{memo="validation"}' in body
