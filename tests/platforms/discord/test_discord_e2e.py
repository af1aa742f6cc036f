"""The bot on Discord end to end: the composition root (`Parlor`) in the test process, the
real discord.py talking REST and gateway to our simulated Discord (which enforces
per-channel buckets with 429s), and the fake OpenAI-compatible endpoint behind it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.characters.export import card_to_png
from tests.characters.samples import tiny_png
from tests.fakes.bot_thread import RunningBot
from tests.fakes.discord.calls import Call
from tests.fakes.discord.server import CHANNEL_ID, FakeDiscord
from tests.fakes.openai.server import FakeOpenAI
from tests.platforms.discord.helpers import (
    ADMIN_PERMISSIONS,
    answer_to,
    bot_messages,
    chat_requests,
    finished,
    found,
    replies_finished,
    slash,
)
from tests.prompt.worked_example import ALICE

pytestmark = pytest.mark.slow

TURNS = 4
"""With the greeting, more webhook writes than one 5-second window allows (see
`test_a_channel_set_up_with_slash_commands_chats_as_its_character`); that consecutive turns
share a channel's budget is tested on a virtual clock in tests/reply/test_streaming.py."""
EPHEMERAL = 1 << 6
ADMIN_ID = 930_000_000_000_000_077
AVATAR = tiny_png(colour=90)


def replies(fake: FakeDiscord) -> list[dict[str, Any]]:
    return bot_messages(fake, CHANNEL_ID)


def webhook_writes(fake: FakeDiscord, webhook_id: str) -> list[Call]:
    """Accepted sends and edits through one webhook: they share its bucket. (Slash
    commands' answers travel the same route under the application's id: not counted.)"""
    executing = " /webhooks/{webhook_id}/{webhook_token}"
    return [
        c
        for c in fake.calls
        if executing in c.route and c.status < 300 and c.params.get("webhook_id") == webhook_id
    ]


def fullest_window(times: list[float], seconds: float) -> int:
    """The most of `times` that fall within any `seconds` of each other."""
    counts = (sum(1 for t in times if start <= t < start + seconds) for start in times)
    return max(counts, default=0)


def connect_with_a_key(fake: FakeDiscord, endpoint: FakeOpenAI, key: str) -> str:
    """/connect api_key:True opens the private form; the key goes in there."""
    interaction = fake.slash_command(
        CHANNEL_ID,
        "connect",
        {"base_url": endpoint.base_url, "api_key": True},
        member_permissions=ADMIN_PERMISSIONS,
    )
    form = found(fake, lambda: fake.modal_of(interaction["id"]))
    submitted = fake.submit_modal(
        CHANNEL_ID, form["custom_id"], {"api_key": key}, member_permissions=ADMIN_PERMISSIONS
    )
    return answer_to(fake, submitted)


@pytest.fixture
def bot_settings() -> dict[str, str]:
    return {"DEFAULT_MODEL": "fake-model", "ALLOW_PRIVATE_ENDPOINTS": "true"}


def test_a_channel_set_up_with_slash_commands_chats_as_its_character(
    discord_fake: FakeDiscord, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """/connect with the key in a form, /model from autocomplete, /character import and use;
    then streamed turns as Alice (name and avatar), within Discord's limits."""
    fake = discord_fake
    key = "k-" + "7" * 30
    endpoint.required_api_key = key
    endpoint.models = ["fake-model", "other-model"]
    answer = connect_with_a_key(fake, endpoint, key)
    assert "Connected" in answer or endpoint.base_url in answer, answer

    typed = fake.autocomplete(CHANNEL_ID, "model", "name", "oth")
    choices = found(fake, lambda: fake.autocomplete_choices(typed["id"]))
    assert [c["value"] for c in choices] == ["other-model"]
    assert "other-model" in slash(fake, CHANNEL_ID, "model", {"name": "other-model"})

    card = card_to_png(ALICE, AVATAR)
    imported = fake.slash_command(
        CHANNEL_ID, "character", {"action": "import", "file": ("alice.png", card)},
        member_permissions=ADMIN_PERMISSIONS,
    )  # fmt: skip
    assert "Alice" in answer_to(fake, imported)
    # The answer to /character use is Alice's greeting, in the channel for everyone.
    fake.slash_command(
        CHANNEL_ID, "character", {"action": "use", "name": "alice"},
        member_permissions=ADMIN_PERMISSIONS,
    )  # fmt: skip
    greeting = replies_finished(fake, CHANNEL_ID, 1)[-1]
    assert greeting["author"]["username"] == "Alice"
    assert greeting["content"].startswith("*stretches* Hello")

    for turn in range(TURNS):
        fake.user_message(CHANNEL_ID, f"message {turn}", mentions_bot=True)
        replies_finished(fake, CHANNEL_ID, turn + 2)
    said = [m for m in replies(fake) if finished(m)][1:]
    assert [m["content"] for m in said] == [f"You said: message {n}" for n in range(TURNS)]
    assert all(m["author"]["username"] == "Alice" for m in said)
    [webhook] = fake.webhooks(CHANNEL_ID)
    assert all(m["webhook_id"] == webhook["id"] for m in said)
    assert fake.webhook_avatar(int(webhook["id"])) == AVATAR
    assert all(m["author"]["avatar"] == webhook["avatar"] for m in said)
    assert fake.rate_limited == []
    writes = [c.at for c in webhook_writes(fake, str(webhook["id"]))]
    limits = fake.limits
    # The character's webhook was driven to its limit (the fake counts in fixed windows, so a
    # sliding one may hold a few more), and no write was refused (no 429, above).
    assert fullest_window(writes, limits.webhook_window_seconds) >= limits.webhook_writes
    chats = chat_requests(endpoint)
    assert len(chats) == TURNS
    assert all(r.headers.get("authorization") == f"Bearer {key}" for r in chats)
    assert all(r.json["model"] == "other-model" for r in chats)
    assert all(m["allowed_mentions"] == {"parse": []} for m in said), "model output pings nobody"
    assert key not in bot.log
    assert all(key not in str(m) for m in fake.messages(CHANNEL_ID))


def test_an_exported_card_comes_back_as_a_file_only_the_caller_sees(
    discord_fake: FakeDiscord, bot: RunningBot
) -> None:
    fake = discord_fake
    card = ("alice.png", card_to_png(ALICE, AVATAR))
    imported = fake.slash_command(
        CHANNEL_ID, "character", {"action": "import", "file": card},
        member_permissions=ADMIN_PERMISSIONS,
    )  # fmt: skip
    assert "Alice" in answer_to(fake, imported)
    exported = fake.slash_command(
        CHANNEL_ID, "character", {"action": "export", "name": "alice", "format": "json"},
        member_permissions=0,
    )  # fmt: skip

    def the_file() -> dict[str, Any] | None:
        files = [
            a for m in fake.interaction_messages(exported["id"]) for a in m.get("attachments", [])
        ]
        return files[0] if files else None

    attachment = found(fake, the_file)
    assert attachment["filename"].endswith(".json")
    assert json.loads(fake.uploaded(attachment["id"]))["data"]["name"] == "Alice"
    assert all(m["flags"] & EPHEMERAL for m in fake.interaction_messages(exported["id"]))
    assert fake.messages(CHANNEL_ID) == [], "nothing of it in the channel"


def test_connect_offers_the_models_of_the_address_being_typed(
    discord_fake: FakeDiscord, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """Typing /connect base_url:… model:… lists that endpoint's models before anything is
    saved, to a member who may connect."""
    fake = discord_fake
    endpoint.models = ["fake-model", "other-model"]
    fake.add_member(ADMIN_ID, "ada", permissions=ADMIN_PERMISSIONS)
    typing = fake.autocomplete(
        CHANNEL_ID, "connect", "model", "oth", options={"base_url": endpoint.base_url},
        user=ADMIN_ID,
    )  # fmt: skip
    offered = found(fake, lambda: fake.autocomplete_choices(typing["id"]))
    assert [choice["value"] for choice in offered] == ["other-model"]
