"""Paginators: follow a vendor's "next page" token until there is none, and never loop.

A paginator is told each page's response and answers the token of the next one. Vendors spell
"next" differently: Shopify puts a ``page_info`` cursor in a ``Link: <...>; rel="next"`` header,
Amazon SP-API returns ``payload.NextToken``, many APIs return a cursor field. A vendor bug that hands
back a token already followed would page forever, so a repeated token raises
:class:`~connectors.errors.PaginationLoopError` (as Meltano's SDK does).

:class:`Cursor` is the durable polling position (the high-water mark plus the paging token), which
the hub persists between polls; :class:`TimeWindow` is a backfill range.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx

from connectors.errors import PaginationLoopError

__all__ = [
    "BasePaginator",
    "Cursor",
    "JsonPathPaginator",
    "LinkHeaderPaginator",
    "TimeWindow",
    "next_link",
    "paginate",
]

T = TypeVar("T")

_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?([^";]+)"?')


def next_link(header: str | None) -> str | None:
    """The ``rel="next"`` URL of an RFC 8288 ``Link`` header, if any."""
    if not header:
        return None
    for url, rel in _LINK.findall(header):
        if "next" in rel.split():
            return str(url)
    return None


class BasePaginator(Generic[T]):
    """Tracks the token of the next page; raises on a token seen before."""

    def __init__(self, start: T | None = None) -> None:
        self.current: T | None = start
        self.finished = False
        self._seen: set[T] = set()
        if start is not None:
            self._seen.add(start)

    def get_next(self, response: httpx.Response) -> T | None:
        """The next page's token from ``response``, or None on the last page."""
        raise NotImplementedError

    def advance(self, response: httpx.Response) -> None:
        token = self.get_next(response)
        if token is None or token == "":
            self.finished = True
            return
        if token in self._seen:
            raise PaginationLoopError(f"the vendor returned the page token {token!r} twice")
        self._seen.add(token)
        self.current = token


class LinkHeaderPaginator(BasePaginator[str]):
    """Shopify REST cursor pagination: the ``page_info`` of the ``rel="next"`` Link."""

    def __init__(self, start: str | None = None, *, param: str = "page_info") -> None:
        super().__init__(start)
        self.param = param

    def get_next(self, response: httpx.Response) -> str | None:
        url = next_link(response.headers.get("Link"))
        if url is None:
            return None
        values = parse_qs(urlsplit(url).query).get(self.param)
        return values[0] if values else None


class JsonPathPaginator(BasePaginator[str]):
    """A token in the JSON body at a key path, e.g. ``("payload", "NextToken")`` for Amazon.

    With ``param``, the value may also be a link to the next page (``/2026-01/inventory-level/
    locations?Cursor=abc``, as ShipBob's ``next`` is): the token is then that query parameter
    (matched case-insensitively), so the caller always pages with the bare token.
    """

    def __init__(
        self, path: tuple[str, ...], start: str | None = None, *, param: str | None = None
    ) -> None:
        super().__init__(start)
        self.path = path
        self.param = param

    def get_next(self, response: httpx.Response) -> str | None:
        node: Any = response.json()
        for key in self.path:
            if not isinstance(node, dict):
                return None
            node = node.get(key)
        if not isinstance(node, str):
            return None
        if self.param is not None and "?" in node:
            query = parse_qs(urlsplit(node).query)
            values = next((v for k, v in query.items() if k.lower() == self.param.lower()), None)
            return values[0] if values else None
        return node


def paginate(
    fetch: Callable[[T | None], httpx.Response], paginator: BasePaginator[T]
) -> Iterator[httpx.Response]:
    """Fetch page after page (``fetch(token)``) until the paginator says there is no next."""
    while not paginator.finished:
        response = fetch(paginator.current)
        yield response
        paginator.advance(response)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A half-open range ``[start, end)`` of vendor update times, for polls and backfills."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("time windows need time zones")
        if self.end <= self.start:
            raise ValueError("a time window must end after it starts")

    def split(self, step: Any) -> list[TimeWindow]:
        """Consecutive windows of at most ``step`` (a timedelta), for a long backfill."""
        windows = []
        cursor = self.start
        while cursor < self.end:
            upper = min(self.end, cursor + step)
            windows.append(TimeWindow(cursor, upper))
            cursor = upper
        return windows


@dataclass(frozen=True, slots=True)
class Cursor:
    """A durable polling position: the newest vendor update time seen, and the page token.

    The hub stores it after each page, so a poll interrupted mid-way resumes where it stopped.
    """

    high_water: datetime | None = None
    page_token: str | None = None

    def advanced(self, seen: datetime | None) -> Cursor:
        """A cursor whose high-water mark includes ``seen`` (never moves backwards)."""
        if seen is None or (self.high_water is not None and seen <= self.high_water):
            return self
        return Cursor(high_water=seen, page_token=self.page_token)
