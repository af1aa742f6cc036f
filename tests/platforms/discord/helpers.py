"""Reading what the simulated Discord shows: replies, their buttons, ephemeral answers."""

from __future__ import annotations

from typing import Any

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.discord_wire import MANAGE_GUILD

TIMEOUT = 30.0
ADMIN_PERMISSIONS = MANAGE_GUILD


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

    def settled() -> str | None:
        for message in fake.interaction_messages(interaction["id"]):
            content = message.get("content")
            if content:
                return str(content)
        return None

    return fake.wait_for_sync(settled, timeout=TIMEOUT)
