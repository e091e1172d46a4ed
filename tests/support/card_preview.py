"""A CDS Hooks response's cards as one standalone HTML page, drawn roughly as an EHR draws them
(the CDS Hooks sandbox: an indicator stripe, the summary, the Markdown detail, the source link,
the suggestion buttons, the override reasons under Dismiss). For documentation screenshots
only: no EHR renders this page."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark")
_COLOURS = {"critical": "#c62828", "warning": "#ef8f00", "info": "#1565c0"}
_WORDS = {
    "en": {
        "dismiss": "Dismiss",
        "reasons": "Reason for overriding:",
        "source": "Source:",
        "critical": "critical",
        "warning": "warning",
        "info": "info",
    },
    "fr": {
        "dismiss": "Ignorer",
        "reasons": "Motif :",
        "source": "Source :",
        "critical": "critique",
        "warning": "avertissement",
        "info": "info",
    },
}

_STYLE = """
body { font: 14px/1.45 system-ui, "DejaVu Sans", sans-serif; margin: 16px; width: 860px;
       background: #f4f5f7; color: #1d2330; }
h1 { font-size: 15px; margin: 0 0 12px; color: #505a6b; font-weight: 600; }
.card { background: #fff; border: 1px solid #d6dae1; border-left: 8px solid; border-radius: 4px;
        padding: 12px 16px; margin-bottom: 14px; }
.summary { font-weight: 700; font-size: 15px; margin-bottom: 6px; }
.indicator { font-size: 11px; text-transform: uppercase; letter-spacing: .05em;
             font-weight: 700; margin-bottom: 4px; }
.detail p { margin: 6px 0; } .detail ul { margin: 4px 0; padding-left: 22px; }
.source { font-size: 12px; color: #505a6b; margin-top: 8px; }
.source a { color: #1565c0; }
button { font: inherit; font-size: 13px; margin: 8px 8px 0 0; padding: 5px 10px;
         border: 1px solid #1565c0; background: #e8f0fb; color: #0d3c7a; border-radius: 3px; }
.reasons { font-size: 12px; color: #505a6b; margin-top: 6px; }
"""


def _detail(markdown: str) -> str:
    rendered = _MARKDOWN.render(markdown)
    # Task-list boxes ("- [ ] item"), which CommonMark leaves as text, drawn as an EHR does.
    return rendered.replace("<li>[ ] ", "<li>☐ ").replace("<li><p>[ ] ", "<li><p>☐ ")


def card_html(card: Mapping[str, Any], language: str) -> str:
    words = _WORDS[language]
    indicator = str(card.get("indicator", "info"))
    source = card.get("source") or {}
    label = html.escape(str(source.get("label", "")))
    link = f'<a href="{html.escape(source["url"])}">{label}</a>' if source.get("url") else label
    buttons = "".join(
        f"<button>{html.escape(s.get('label', ''))}</button>" for s in card.get("suggestions", ())
    )
    reasons = card.get("overrideReasons") or ()
    reason_text = " · ".join(html.escape(r.get("display", "")) for r in reasons)
    dismiss = (
        f'<div class="reasons"><button>{words["dismiss"]}</button> {words["reasons"]} '
        f"{reason_text}</div>"
        if reasons
        else ""
    )
    return (
        f'<div class="card" style="border-left-color:{_COLOURS.get(indicator, "#777")}">'
        f'<div class="indicator" style="color:{_COLOURS.get(indicator, "#777")}">'
        f"{html.escape(words.get(indicator, indicator))}</div>"
        f'<div class="summary">{html.escape(str(card.get("summary", "")))}</div>'
        f'<div class="detail">{_detail(str(card.get("detail") or ""))}</div>'
        f"{buttons}{dismiss}"
        f'<div class="source">{words["source"]} {link}</div></div>'
    )


def page(title: str, cards: Sequence[Mapping[str, Any]], language: str) -> str:
    """The cards on one page. A script writes the page's height on the body once it is laid out,
    so that the screenshot can be taken at exactly that height."""
    body = "".join(card_html(card, language) for card in cards)
    return (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}"
        "<script>document.body.dataset.height ="
        " Math.ceil(document.documentElement.getBoundingClientRect().height) + 32;</script>"
        "</body></html>"
    )
