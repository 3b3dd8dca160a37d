"""Reading a JSON request body: an object or a 400 with a message, never a 500.

Every endpoint that takes a JSON body reads it here. Broken JSON, a body nested too deep
for the parser, bytes that are not UTF-8 and any top-level value but an object are refused
before a view looks inside; the views then check each key's type.
"""

from __future__ import annotations

import json
from typing import Any

from flask import request


class BadBody(ValueError):
    """A request body of the wrong shape (answered 400; nothing was read from it)."""


def json_object(example: str) -> dict[str, Any] | None:
    """The body as a JSON object; None when there is no body; `BadBody` naming `example` otherwise."""
    raw = request.get_data(cache=True)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested past the parser's depth
        raise BadBody(f"the request body is not valid JSON; send an object like {example}") from None
    if not isinstance(data, dict):
        raise BadBody(f"the JSON body must be an object like {example}, not {type(data).__name__}")
    return data
