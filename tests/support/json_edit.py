"""One edit of a JSON body at a dotted path, for the tests that send a body with one thing wrong."""

from __future__ import annotations

import copy
from typing import Any

DELETE = object()  # as `value`: remove the member instead of setting it


def edited(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `body` with the member at `path` ("context.draftOrders.entry") set to `value`,
    or removed when `value` is DELETE."""
    result = copy.deepcopy(body)
    target = result
    *parents, last = path.split(".")
    for name in parents:
        target = target[name]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return result
