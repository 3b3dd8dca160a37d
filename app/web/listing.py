"""The paged lists' shared steps (/incidences, /uploads): the page size argument, and running
a listing query so a bad cursor answers 400 and a database outage a plain 503."""

from __future__ import annotations

from typing import Callable, TypeVar

from flask import request
from sqlalchemy.exc import SQLAlchemyError

from app.ingest import listing
from app.web.respond import database_unavailable, error_response

T = TypeVar("T")


def page_size_arg() -> int:
    """`per_page` as the listing's page size (bounded there); a non-number is a `BadCursor`."""
    try:
        return listing.page_size(int(request.args["per_page"]) if "per_page" in request.args else None)
    except ValueError:
        raise listing.BadCursor("per_page must be a whole number") from None


def after_arg() -> str | None:
    """The cursor of the page to show (`after`), if any."""
    return request.args.get("after") or None


def run_listing(query: Callable[[str | None, int], T]):
    """`query(after, limit)` -> (page, None), or (None, the error answer)."""
    try:
        return query(after_arg(), page_size_arg()), None
    except listing.BadCursor as exc:
        return None, error_response(400, str(exc))
    except SQLAlchemyError as exc:
        return None, database_unavailable(exc)


def kept_args(args: dict[str, str]) -> dict[str, str]:
    """The filters in use plus the cursor, for the pager's links."""
    kept = {k: v for k, v in args.items() if v}
    if after_arg():
        kept["after"] = after_arg()
    return kept
