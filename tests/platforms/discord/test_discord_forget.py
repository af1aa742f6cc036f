"""/forget on Discord end to end: the prompt is the caller's ephemeral answer with an Erase
button; only its caller's press erases, in time; admins may erase a channel's history."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.service import confirmations
from bot.service.commands.forget import EXPIRED, MARKER, SOMEONE_ELSE
from tests.fakes.bot_thread import RunningBot
from tests.fakes.discord.server import CHANNEL_ID, FakeDiscord
from tests.fakes.discord.wire import MANAGE_CHANNELS
from tests.fakes.openai.server import FakeOpenAI
from tests.platforms.discord.helpers import (
    answer_to,
    chat_requests,
    found,
    labels,
    last_finished,
)

pytestmark = pytest.mark.slow

USER = 930_000_000_000_738_291  # distinctive, so a byte search cannot find it by chance
OTHER = 930_000_000_000_000_002
SECRET = "quokka-in-the-server-room"


@pytest.fixture
def bot_settings() -> dict[str, str]:
    return {"DEFAULT_MODEL": "scenario/numbered"}  # replies never repeat what was said


def chat(fake: FakeDiscord, text: str, *, user: int, count: int) -> None:
    """`user` mentions the bot with `text`; back once the bot's `count`th reply is done."""
    fake.user_message(CHANNEL_ID, text, author=user, mentions_bot=True)
    last_finished(fake, CHANNEL_ID, count=count)


def prompt_of(
    fake: FakeDiscord, options: dict[str, Any], *, user: int, permissions: int = 0
) -> dict[str, Any]:
    """Run /forget; the ephemeral answer once it carries its button."""
    asked = fake.slash_command(
        CHANNEL_ID, "forget", options, user=user, member_permissions=permissions
    )

    def with_button() -> dict[str, Any] | None:
        shown = [m for m in fake.interaction_messages(asked["id"]) if labels(m)]
        return shown[0] if shown else None

    return found(fake, with_button)


def press(
    fake: FakeDiscord, prompt: dict[str, Any], *, user: int, permissions: int = 0
) -> dict[str, Any]:
    custom_id = prompt["components"][0]["components"][0]["custom_id"]
    assert custom_id.startswith("c1:forget:")
    return fake.press_button(
        CHANNEL_ID, prompt["id"], custom_id, user=user, member_permissions=permissions
    )


def prompt_now(fake: FakeDiscord, prompt: dict[str, Any], starts: str) -> dict[str, Any]:
    """The prompt's message once its text starts with `starts`."""

    def edited() -> dict[str, Any] | None:
        message = fake.message(CHANNEL_ID, prompt["id"])
        return message if str(message.get("content", "")).startswith(starts) else None

    return found(fake, edited)


def every_value(tmp_path: Path) -> str:
    with sqlite3.connect(tmp_path / "data" / "parlor.db") as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(
            repr(row) for table in tables for row in db.execute(f'SELECT * FROM "{table}"')
        )


def file_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / "data" / "parlor.db"
    files = [path, path.with_name(path.name + "-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def test_forget_me_is_confirmed_by_its_caller_and_leaves_nothing_of_them(
    discord_fake: FakeDiscord, endpoint: FakeOpenAI, bot: RunningBot, tmp_path: Path
) -> None:
    """Someone else's press is refused ephemerally; the caller's erases their message (the
    marker in its place) and usage, shown in place of the prompt without the button; no row
    or byte of the database keeps their id or text; the next prompt reads the marker."""
    fake = discord_fake
    chat(fake, f"my {SECRET}", user=USER, count=1)
    chat(fake, "hello from someone else", user=OTHER, count=2)
    prompt = prompt_of(fake, {"target": "me"}, user=USER)
    assert "1 message" in prompt["content"]
    assert labels(prompt) == ["Erase"]

    refused = press(fake, prompt, user=OTHER)
    assert answer_to(fake, refused) == SOMEONE_ELSE
    press(fake, prompt, user=USER)

    done = prompt_now(fake, prompt, "Erased")
    assert done["content"] == "Erased 1 message and 1 usage row."
    assert not labels(done)
    everything = every_value(tmp_path)
    assert str(USER) not in everything
    assert SECRET not in everything
    assert "hello from someone else" in everything
    data = file_bytes(tmp_path)
    assert str(USER).encode() not in data
    assert SECRET.encode() not in data

    chat(fake, "what did they say?", user=OTHER, count=3)
    sent = str(chat_requests(endpoint)[-1].json["messages"])
    assert MARKER in sent
    assert SECRET not in sent


def test_an_expired_confirmation_says_so(
    discord_fake: FakeDiscord, bot: RunningBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pressed after its minutes (here: none), the button erases nothing and says so."""
    monkeypatch.setattr(confirmations, "CONFIRM_SECONDS", 0)
    chat(discord_fake, f"my {SECRET}", user=USER, count=1)
    prompt = prompt_of(discord_fake, {}, user=USER)

    press(discord_fake, prompt, user=USER)

    assert prompt_now(discord_fake, prompt, "This confirmation")["content"] == EXPIRED
    assert SECRET in every_value(tmp_path)


def test_forget_channel_is_refused_to_a_member_and_done_for_an_admin(
    discord_fake: FakeDiscord, bot: RunningBot, tmp_path: Path
) -> None:
    """A member gets no button; an admin's press empties the channel's history."""
    fake = discord_fake
    chat(fake, "a line to erase", user=OTHER, count=1)
    member = fake.slash_command(
        CHANNEL_ID, "forget", {"target": "channel"}, user=OTHER, member_permissions=0
    )
    assert "needs the right to manage this channel" in answer_to(fake, member)

    prompt = prompt_of(fake, {"target": "channel"}, user=USER, permissions=MANAGE_CHANNELS)
    assert "2 messages in 1 chat" in prompt["content"]
    press(fake, prompt, user=USER, permissions=MANAGE_CHANNELS)

    done = prompt_now(fake, prompt, "Erased")
    assert done["content"] == "Erased this channel's history: 2 messages."
    assert "a line to erase" not in every_value(tmp_path)
