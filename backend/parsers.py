"""The API's request body parser: DRF's JSON parser, safe against deeply nested JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# No request body of this API nests deeper than a few levels. Python's json module recurses
# once per level and raises RecursionError past about a thousand, which would answer 500;
# a shallower, fixed limit also keeps serializers and error rendering from recursing deep.
MAX_DEPTH = 32


def _nests_deeper_than(value: Any, limit: int) -> bool:
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


class SafeJSONParser(JSONParser):
    """JSON bodies, answering 400 `parse_error` (not 500) for JSON nested too deeply."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("The JSON is nested too deeply.") from None
        if _nests_deeper_than(data, MAX_DEPTH):
            raise ParseError("The JSON is nested too deeply.")
        return data
