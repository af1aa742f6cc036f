"""Reading what the simulated Discord shows: replies, their buttons, ephemeral answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tests.fakes.discord.server import FakeDiscord
from tests.fakes.discord.wire import MANAGE_GUILD
from tests.fakes.openai.server import FakeOpenAI, RecordedRequest

TIMEOUT = 30.0
ADMIN_PERMISSIONS = MANAGE_GUILD
Message = dict[str, Any]
T = TypeVar("T")


def found(fake: FakeDiscord, find: Callable[[], T | None], timeout: float = TIMEOUT) -> T:
    """What `find` returns once it returns something (TimeoutError naming the fake's last
    calls otherwise)."""
    result: list[T] = []

    def probe() -> bool:
        value = find()
        if value is not None:
            result[:] = [value]
        return value is not None

    fake.wait_for_sync(probe, timeout=timeout)
    return result[0]


def last_finished(fake: FakeDiscord, channel_id: int, *, count: int = 1) -> Message:
    """The bot's last message once it has written `count` and the last one is finished."""

    def find() -> Message | None:
        messages = bot_messages(fake, channel_id)
        if len(messages) >= count and finished(messages[-1]):
            return messages[-1]
        return None

    return found(fake, find)


def replies_finished(fake: FakeDiscord, channel_id: int, count: int) -> list[Message]:
    """The bot's messages once `count` replies carry their after-reply buttons."""

    def find() -> list[Message] | None:
        messages = bot_messages(fake, channel_id)
        return messages if sum(finished(m) for m in messages) >= count else None

    return found(fake, find)


def labels(message: dict[str, Any]) -> list[str]:
    return [
        c.get("label", "")
        for row in message.get("components", [])
        for c in row.get("components", [])
    ]


def finished(message: dict[str, Any]) -> bool:
    """A reply whose stream ended: Regenerate and the swipes are under it."""
    return any("Regenerate" in label for label in labels(message))


def bot_messages(fake: FakeDiscord, channel_id: int) -> list[dict[str, Any]]:
    """What the bot and its webhooks wrote, oldest first."""
    return [m for m in fake.messages(channel_id) if m["author"].get("bot") or m.get("webhook_id")]


def slash(
    fake: FakeDiscord,
    channel_id: int,
    name: str,
    options: dict[str, Any] | None = None,
    *,
    permissions: int = ADMIN_PERMISSIONS,
    **kwargs: Any,
) -> str:
    """Run /name and return the ephemeral answer the caller saw."""
    interaction = fake.slash_command(
        channel_id, name, options or {}, member_permissions=permissions, **kwargs
    )
    return answer_to(fake, interaction)


def answer_to(fake: FakeDiscord, interaction: dict[str, Any]) -> str:
    """The caller's answer: the deferred placeholder's final content."""

    def settled() -> str:
        for message in fake.interaction_messages(interaction["id"]):
            content = message.get("content")
            if content:
                return str(content)
        return ""

    return fake.wait_for_sync(settled, timeout=TIMEOUT)


def chat_requests(endpoint: FakeOpenAI) -> list[RecordedRequest]:
    """The chat completions the endpoint was asked for, oldest first."""
    return [r for r in endpoint.requests if r.path.endswith("/chat/completions")]


def post_containing(fake: FakeDiscord, channel_id: int, words: str) -> Message:
    """The bot's first message in the channel that contains `words`, once there is one."""

    def find() -> Message | None:
        return next((m for m in bot_messages(fake, channel_id) if words in m["content"]), None)

    return found(fake, find)
