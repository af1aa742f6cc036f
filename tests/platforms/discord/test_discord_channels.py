"""Where and when the bot talks on Discord: threads, DMs, replies and /listen, edits and
deletions, pictures, characters without a webhook, and model output that says @everyone.

Each test runs `python -m bot run` against the simulated Discord and the fake endpoint;
what the model read is checked in the endpoint's recorded requests.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.characters.export import card_to_png
from tests.characters.samples import tiny_png
from tests.fakes.bot_thread import RunningBot
from tests.fakes.discord.server import ALICE_ID, BOT_PERMISSIONS, CHANNEL_ID, FakeDiscord
from tests.fakes.discord.wire import MANAGE_CHANNELS, MANAGE_WEBHOOKS
from tests.fakes.openai.server import FakeOpenAI
from tests.platforms.discord.conftest import running, running_process
from tests.platforms.discord.helpers import (
    ADMIN_PERMISSIONS,
    TIMEOUT,
    answer_to,
    bot_messages,
    chat_requests,
    finished,
    labels,
    post_containing,
    slash,
)
from tests.prompt.worked_example import ALICE

pytestmark = pytest.mark.slow

THREAD_ID = 940_000_000_000_000_001
MESSAGE_CONTENT_INTENT = 1 << 15
PIRATE = "Answer like a pirate."


def chats(endpoint: FakeOpenAI) -> list[dict[str, Any]]:
    """The bodies of the chat requests the endpoint received, oldest first."""
    return [r.json for r in chat_requests(endpoint)]


def texts(request: dict[str, Any]) -> str:
    """Everything the model read in one request, as one string to search."""
    return "\n".join(str(message.get("content")) for message in request["messages"])


def user_lines(request: dict[str, Any]) -> list[str]:
    """What the people said, as the model read it in one request."""
    return [str(m["content"]) for m in request["messages"] if m["role"] == "user"]


def wait_for_replies(fake: FakeDiscord, channel_id: int, count: int) -> list[dict[str, Any]]:
    """The channel's finished replies (buttons under them) once there are `count`."""

    def replies() -> list[dict[str, Any]]:
        done = [m for m in bot_messages(fake, channel_id) if finished(m)]
        return done if len(done) >= count else []

    return fake.wait_for_sync(replies, timeout=TIMEOUT)


@pytest.fixture
def fake_without_webhooks() -> Iterator[FakeDiscord]:
    """A Discord where the bot was invited without Manage Webhooks."""
    with FakeDiscord.in_thread(bot_permissions=BOT_PERMISSIONS & ~MANAGE_WEBHOOKS) as fake:
        yield fake


def test_a_thread_follows_its_channels_settings_and_keeps_its_own_history(
    discord_fake: FakeDiscord, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """Model and system prompt set in the channel apply in its thread; what was said in
    one is never in the other's prompt."""
    fake = discord_fake
    model = "scenario/numbered"
    assert model in slash(fake, CHANNEL_ID, "model", {"name": model}, permissions=MANAGE_CHANNELS)
    assert "set" in slash(
        fake, CHANNEL_ID, "system", {"prompt": PIRATE}, permissions=MANAGE_CHANNELS
    )
    fake.user_message(CHANNEL_ID, "the treasure is under the palm", mentions_bot=True)
    wait_for_replies(fake, CHANNEL_ID, 1)

    fake.add_thread(CHANNEL_ID, THREAD_ID, "side quest")
    fake.user_message(THREAD_ID, "what about the parrot", mentions_bot=True)
    [in_thread] = wait_for_replies(fake, THREAD_ID, 1)
    assert in_thread["content"].startswith("Reply number"), in_thread
    thread_request = chats(endpoint)[-1]
    assert thread_request["model"] == model
    assert thread_request["messages"][0]["role"] == "system"
    assert PIRATE in thread_request["messages"][0]["content"]
    assert "what about the parrot" in texts(thread_request)
    assert "treasure" not in texts(thread_request), "the channel's talk leaked into the thread"

    fake.user_message(CHANNEL_ID, "and the map", mentions_bot=True)
    wait_for_replies(fake, CHANNEL_ID, 2)
    channel_request = chats(endpoint)[-1]
    assert channel_request["model"] == model
    assert "treasure" in texts(channel_request)
    assert "parrot" not in texts(channel_request), "the thread's talk leaked into the channel"
    assert len(bot_messages(fake, CHANNEL_ID)) == 2, "the thread's reply landed in the channel"


def test_a_direct_message_is_answered(
    discord_fake: FakeDiscord, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """DMs are on by default: no mention needed."""
    dm = discord_fake.dm_channel(ALICE_ID)
    discord_fake.user_message(dm, "hello in private")
    [reply] = wait_for_replies(discord_fake, dm, 1)
    assert reply["content"] == "You said: hello in private"
    assert len(chats(endpoint)) == 1


def test_with_direct_messages_off_a_dm_gets_a_note_and_the_model_is_not_asked(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    bot_settings: dict[str, str],
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """DISCORD_ALLOW_DMS=false: a short note instead of an answer; servers still work."""
    fake = discord_fake
    settings = bot_settings | {"DISCORD_ALLOW_DMS": "false"}
    with running(tmp_path, endpoint, fake, settings, encryption_key, template=migrated_template):
        dm = fake.dm_channel(ALICE_ID)
        fake.user_message(dm, "hello in private")
        note = post_containing(fake, dm, "turned direct messages off")
        assert not finished(note)
        fake.user_message(CHANNEL_ID, "hello in public", mentions_bot=True)
        wait_for_replies(fake, CHANNEL_ID, 1)
    assert [r["messages"][-1]["content"] for r in chats(endpoint)] == ["hello in public"]
    assert len(bot_messages(fake, dm)) == 1


def test_replies_to_the_bot_are_answered_and_other_messages_only_after_listen_all(
    discord_fake: FakeDiscord, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """A reply to the bot needs no mention; a plain message is left alone until a channel
    admin runs /listen mode:all (the bot asked Discord for message content)."""
    fake = discord_fake
    fake.user_message(CHANNEL_ID, "first", mentions_bot=True)
    [first] = wait_for_replies(fake, CHANNEL_ID, 1)
    fake.user_message(CHANNEL_ID, "just chatting among ourselves")
    fake.user_message(CHANNEL_ID, "following up", reply_to=first["id"])
    second = wait_for_replies(fake, CHANNEL_ID, 2)[-1]
    assert second["content"] == "You said: following up"
    assert len(chats(endpoint)) == 2, "the plain message was answered"
    assert all("among ourselves" not in texts(r) for r in chats(endpoint))

    assert all(s.intents and s.intents & MESSAGE_CONTENT_INTENT for s in fake.sessions)
    fake.slash_command(
        CHANNEL_ID, "listen", {"mode": "all"}, member_permissions=MANAGE_CHANNELS
    )  # answered in the channel, for everyone
    post_containing(fake, CHANNEL_ID, "I now answer every message here")
    fake.user_message(CHANNEL_ID, "anyone there?")
    third = wait_for_replies(fake, CHANNEL_ID, 3)[-1]
    assert third["content"] == "You said: anyone there?"
    assert len(bot_messages(fake, CHANNEL_ID)) == 4, "three replies and the /listen answer"


def test_edited_and_deleted_messages_change_what_the_model_reads_next(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    bot_settings: dict[str, str],
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """An edit replaces the stored text and a deletion removes it; neither is answered."""
    fake = discord_fake
    fake.heartbeat_interval_ms = 100  # each heartbeat wakes wait_for_sync to read the log
    settings = bot_settings | {"LOG_LEVEL": "DEBUG"}
    with running(
        tmp_path, endpoint, fake, settings, encryption_key, template=migrated_template
    ) as bot:
        cat = fake.user_message(CHANNEL_ID, "my cat is called Tom", mentions_bot=True)
        wait_for_replies(fake, CHANNEL_ID, 1)
        dog = fake.user_message(CHANNEL_ID, "my dog is called Rex", mentions_bot=True)
        wait_for_replies(fake, CHANNEL_ID, 2)
        mention = f"<@{fake.bot['id']}>"
        fake.edit_user_message(CHANNEL_ID, cat["id"], f"{mention} my cat is called Felix")
        fake.delete_user_message(CHANNEL_ID, dog["id"])
        # Nothing on Discord shows that the bot stored them: its log says so.
        fake.wait_for_sync(
            lambda: "changed its stored turn" in bot.log and "left the history" in bot.log,
            timeout=TIMEOUT,
        )
        fake.user_message(CHANNEL_ID, "who is who?", mentions_bot=True)
        wait_for_replies(fake, CHANNEL_ID, 3)
    assert user_lines(endpoint.requests[-1].json) == ["my cat is called Felix", "who is who?"]
    assert len(chats(endpoint)) == 3, "an edit or a deletion was answered"


def test_an_image_with_a_mention_reaches_the_model_as_an_image_part(
    discord_fake: FakeDiscord, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """The picture is downloaded and sent inline as a data: URL next to the text."""
    picture = tiny_png(colour=17)
    discord_fake.user_message(
        CHANNEL_ID, "what is this?", mentions_bot=True, attachments=[("dot.png", picture)]
    )
    wait_for_replies(discord_fake, CHANNEL_ID, 1)
    [request] = chats(endpoint)
    content = request["messages"][-1]["content"]
    assert request["messages"][-1]["role"] == "user"
    assert isinstance(content, list), content
    urls = [part["image_url"]["url"] for part in content if part.get("type") == "image_url"]
    assert urls == ["data:image/png;base64," + base64.b64encode(picture).decode("ascii")]
    assert any("what is this?" in str(part.get("text")) for part in content)


def test_without_manage_webhooks_a_character_speaks_as_the_bot_with_its_name(
    tmp_path: Path,
    fake_without_webhooks: FakeDiscord,
    endpoint: FakeOpenAI,
    bot_settings: dict[str, str],
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """No webhook is tried; the greeting and replies come from the bot, headed "**Alice:** "."""
    fake = fake_without_webhooks
    with running(
        tmp_path, endpoint, fake, bot_settings, encryption_key, template=migrated_template
    ):
        card = card_to_png(ALICE, tiny_png())
        imported = fake.slash_command(
            CHANNEL_ID, "character", {"action": "import", "file": ("alice.png", card)},
            member_permissions=ADMIN_PERMISSIONS,
        )  # fmt: skip
        assert "Alice" in answer_to(fake, imported)
        fake.slash_command(
            CHANNEL_ID, "character", {"action": "use", "name": "alice"},
            member_permissions=ADMIN_PERMISSIONS,
        )  # fmt: skip
        [greeting] = wait_for_replies(fake, CHANNEL_ID, 1)
        fake.user_message(CHANNEL_ID, "hi Alice", mentions_bot=True)
        reply = wait_for_replies(fake, CHANNEL_ID, 2)[-1]
    assert greeting["content"].startswith("**Alice:** *stretches* Hello")
    assert reply["content"] == "**Alice:** You said: hi Alice"
    assert all(m["author"]["id"] == fake.bot["id"] for m in (greeting, reply))
    assert all("webhook_id" not in m for m in (greeting, reply))
    assert fake.webhooks(CHANNEL_ID) == []
    asked = [c.route for c in fake.calls if "/channels/{channel_id}/webhooks" in c.route]
    assert asked == [], "no webhook is looked up or made without the permission"


def test_model_output_saying_everyone_pings_nobody(
    discord_fake: FakeDiscord, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """Every write of the reply carries allowed_mentions parse [] (the echo repeats it)."""
    fake = discord_fake
    fake.user_message(CHANNEL_ID, "@everyone hi", mentions_bot=True)
    [reply] = wait_for_replies(fake, CHANNEL_ID, 1)
    assert reply["content"] == "You said: @everyone hi"
    assert reply["allowed_mentions"] == {"parse": []}
    writes = [
        call
        for call in fake.calls
        if isinstance(call.body, dict) and "@everyone" in str(call.body.get("content"))
    ]
    assert writes, "the reply was written"
    assert all(call.body["allowed_mentions"] == {"parse": []} for call in writes), writes


def test_stopping_the_bot_mid_reply_leaves_no_stop_button_and_no_traceback(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    bot_settings: dict[str, str],
    encryption_key: str,
) -> None:
    """SIGTERM (a container's stop) while a reply streams: the reply is settled (its Stop
    button taken away) before the bot lets go of Discord."""
    fake = discord_fake
    edits = "PATCH /channels/{channel_id}/messages/{message_id}"
    with running_process(tmp_path, endpoint, fake, bot_settings, encryption_key) as process:
        slash(fake, CHANNEL_ID, "model", {"name": "scenario/slow"}, permissions=MANAGE_CHANNELS)
        fake.user_message(CHANNEL_ID, "tell me a long story", mentions_bot=True)
        fake.wait_for_sync(lambda: fake.calls_to(edits), timeout=TIMEOUT)  # under way
        assert process.stop() == 0, process.log
        assert "Traceback" not in process.log, process.log
        [reply] = bot_messages(fake, CHANNEL_ID)
        assert "Stop" not in labels(reply), "a Stop button that nothing answers any more"
