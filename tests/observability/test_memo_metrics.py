"""The validation memo's hit rate and size are in /metrics (issue #15: memos are bounded and
say what they hold)."""

from __future__ import annotations

import json
from datetime import datetime

from prometheus_client import REGISTRY
from support.fixture_http import FIXTURES, load_manifest, make_app, post_hook

from service.facts.validation import ValidationMemo
from service.observability import metrics_response, report_memo_totals
from service.valuesets.text import memo_stats


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


def text_lookups(memo: str, result: str) -> float:
    value = REGISTRY.get_sample_value("cds_memo_lookups_total", {"memo": memo, "result": result})
    return value or 0.0


def test_the_text_memos_are_reported_after_each_call() -> None:
    """The text memos (lru_cache, service/valuesets/text.py) count their own lookups; a call
    adds their growth to /metrics, and their size, bounded (MEMO_ENTRIES per cache)."""
    manifest = load_manifest()
    app = make_app(datetime.fromisoformat(manifest["now"]))
    before = {m: (text_lookups(m, "hit"), text_lookups(m, "miss")) for m in memo_stats()}
    assert {"text.normalise", "text.negated_spans", "text.index"} <= set(before)
    path = next(p for p in manifest["fixtures"] if p.startswith("CI-ABS-SYSTEMIC-INFECTION/"))
    body = json.loads((FIXTURES / path).read_text(encoding="utf-8"))
    for _ in range(2):
        assert post_hook(app, body, "en")[0] == 200
    hits, misses = before["text.normalise"]  # every call normalises the displays it reads
    grown = text_lookups("text.normalise", "hit") - hits
    grown += text_lookups("text.normalise", "miss") - misses
    assert grown > 0
    for memo, stats in memo_stats().items():
        # Reported totals are this process's own counts, never more.
        assert text_lookups(memo, "hit") <= stats.hits, memo
        entries = REGISTRY.get_sample_value("cds_memo_entries", {"memo": memo})
        assert entries is not None and entries <= stats.bound, memo
    body_text, _, _ = metrics_response()
    assert b'cds_memo_lookups_total{memo="text.normalise",result="hit"}' in body_text


def test_a_stale_total_adds_nothing_and_never_moves_the_baseline_back() -> None:
    """Threads report concurrently: 110, then a total read earlier (100), then 115 are 115
    lookups, not 125."""
    memo = "text.test-stale"
    report_memo_totals(memo, 0, 0, 0, baseline_only=True)
    for hits in (110, 100, 115):
        report_memo_totals(memo, hits, 0, 1)
    assert text_lookups(memo, "hit") == 115


def test_lookups_before_the_baseline_are_not_traffic() -> None:
    memo = "text.test-warm-up"
    report_memo_totals(memo, 2_900, 10, 5, baseline_only=True)  # start-up's warm-up
    report_memo_totals(memo, 2_903, 11, 6)
    assert (text_lookups(memo, "hit"), text_lookups(memo, "miss")) == (3, 1)
