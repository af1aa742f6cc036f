"""Telegram's webhook route on the operator's listener, over real HTTP: only a request with
the right secret header is taken, a body that is not an update is refused, and nothing is
taken while no adapter is attached."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping

import httpx
import pytest

from bot.web.listener import OpsListener
from bot.web.webhook import TELEGRAM_HEADER, WebhookReceiver

SECRET = "s3cret_with-dashes"
PATH = "/telegram/hook"
UPDATE = {"update_id": 7, "message": {"message_id": 1, "text": "hi"}}


class Taken:
    """A sink that keeps what it was given, refusing objects without an update_id."""

    def __init__(self) -> None:
        self.updates: list[Mapping[str, object]] = []

    def __call__(self, update: Mapping[str, object]) -> None:
        if "update_id" not in update:
            raise ValueError("no update_id")
        self.updates.append(update)


@pytest.fixture
def taken() -> Taken:
    return Taken()


@pytest.fixture
def receiver(taken: Taken) -> WebhookReceiver:
    hook = WebhookReceiver(path=PATH, secret=SECRET, max_bytes=4096)
    hook.attach(taken)
    return hook


@pytest.fixture
async def url(receiver: WebhookReceiver) -> AsyncIterator[str]:
    async with OpsListener(routes=[receiver.route()]) as listener:
        yield f"http://127.0.0.1:{listener.port}{PATH}"


async def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    sent = {"Content-Type": "application/json", TELEGRAM_HEADER: SECRET} | (headers or {})
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        return await client.post(url, content=body, headers=sent)


async def test_an_update_with_the_secret_is_taken(url: str, taken: Taken) -> None:
    """The right header: 200, and the update handed on as sent."""
    response = await post(url, json.dumps(UPDATE).encode())
    assert response.status_code == 200
    assert taken.updates == [UPDATE]


@pytest.mark.parametrize("header", ["", "s3cret_with-dashe", "S3CRET_WITH-DASHES", SECRET + "x"])
async def test_a_wrong_or_missing_secret_is_forbidden(
    url: str, taken: Taken, receiver: WebhookReceiver, header: str
) -> None:
    """403, and nothing is handed on."""
    response = await post(url, json.dumps(UPDATE).encode(), {TELEGRAM_HEADER: header})
    assert response.status_code == 403
    assert taken.updates == []
    assert receiver.refused == 1


async def test_no_header_at_all_is_forbidden(url: str, taken: Taken) -> None:
    """Without the header (a stranger who found the URL): 403."""
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        response = await client.post(url, json=UPDATE)
    assert response.status_code == 403
    assert taken.updates == []


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2]", b'"text"', b'{"message": {}}', b"\xff\xfe"]
)
async def test_a_body_that_is_not_an_update_is_a_bad_request(
    url: str, taken: Taken, body: bytes
) -> None:
    """Bad JSON, JSON that is not an object, an object the sink refuses: 400."""
    response = await post(url, body)
    assert response.status_code == 400
    assert taken.updates == []


async def test_a_body_over_the_cap_is_refused(url: str, taken: Taken) -> None:
    """Bigger than the cap: 413, not read into memory as an update."""
    big = {"update_id": 8, "message": {"text": "x" * 5000}}
    response = await post(url, json.dumps(big).encode())
    assert response.status_code == 413
    assert taken.updates == []


async def test_nothing_is_taken_while_no_sink_is_attached(
    url: str, taken: Taken, receiver: WebhookReceiver
) -> None:
    """Starting or shutting down: 503, for Telegram to deliver it again later."""
    receiver.attach(None)
    response = await post(url, json.dumps(UPDATE).encode())
    assert response.status_code == 503
    receiver.attach(taken)
    assert (await post(url, json.dumps(UPDATE).encode())).status_code == 200
    assert taken.updates == [UPDATE]


async def test_only_post_is_served(url: str) -> None:
    """A GET of the webhook's path is not an update."""
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        response = await client.get(url, headers={TELEGRAM_HEADER: SECRET})
    assert response.status_code == 405
