"""What the fake Discord records of REST requests, and the failures a test queues for them.

Plain records; knows nothing of aiohttp or of the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord.limits import rate_limited_body, rate_limited_headers
from tests.fakes.discord.wire import ApiError, JsonDict


@dataclass(frozen=True, slots=True)
class Call:
    """One REST request as the fake answered it; `at` is its arrival on the fake's clock."""

    route: str  # "POST /channels/{channel_id}/messages", or "GET /unknown/path" for a 404
    params: dict[str, str]  # the route's path parameters
    body: Any  # the JSON body (payload_json for a multipart request), None without one
    at: float
    status: int
    query: dict[str, str] = field(default_factory=dict)  # e.g. {"thread_id": …, "wait": "1"}

    @property
    def channel_id(self) -> int | None:
        value = self.params.get("channel_id")
        return int(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class Failure:
    """An error answer queued for a route by `fail_next`."""

    status: int
    body: JsonDict
    headers: dict[str, str]

    @classmethod
    def build(
        cls, status: int, *, message: str, code: int, retry_after: float, via: bool
    ) -> Failure:
        """A 429 carries retry_after and, unless via=False (what Cloudflare's ban looks like
        to discord.py), the Via header; any other status Discord's error body."""
        if status != 429:
            return cls(status, ApiError(status, message or f"{status}", code=code).payload(), {})
        headers = rate_limited_headers(retry_after, "user")
        if not via:
            headers.pop("Via")
        return cls(status, rate_limited_body(retry_after), headers)
