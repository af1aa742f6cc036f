"""The fake Discord, driven by the real discord.py over HTTP and a websocket on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import yarl

with warnings.catch_warnings():  # discord.py imports audioop, deprecated since Python 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord
    from discord import app_commands

from tests.fakes.clock import FakeClock
from tests.fakes.discord_server import ALICE_ID, BOT_ID, CHANNEL_ID, GUILD_ID, FakeDiscord
from tests.fakes.discord_wire import MANAGE_GUILD

MESSAGES = "POST /channels/{channel_id}/messages"
EDITS = "PATCH /channels/{channel_id}/messages/{message_id}"


@pytest.fixture(autouse=True)
def _discord_overrides() -> Iterator[None]:
    """Each test points discord.py at its own fake; put Discord's addresses back afterwards."""
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE = base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        discord.http.Route.BASE = server.api_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)
        yield server


class Recorder(discord.Client):
    """A plain client that keeps what it received, with one slash command on a tree."""

    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = intents.message_content = True
        # guild_ready_timeout: on_ready waits this long after the last GUILD_CREATE (2 s).
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.ready = asyncio.Event()
        self.received: asyncio.Queue[discord.Message] = asyncio.Queue()
        self.tree = app_commands.CommandTree(self)

        @self.tree.command(description="Say something back")
        async def echo(interaction: discord.Interaction, text: str) -> None:
            await interaction.response.send_message(f"echo: {text}")

    async def on_ready(self) -> None:
        self.ready.set()

    async def on_message(self, message: discord.Message) -> None:
        await self.received.put(message)


@pytest.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[Recorder]:
    """A started client, READY; closed (and its task awaited) after the test."""
    bot = Recorder()
    task = asyncio.create_task(bot.start(fake.token))
    try:
        async with asyncio.timeout(5):
            await bot.ready.wait()
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


def channel(bot: discord.Client) -> discord.TextChannel:
    found = bot.get_channel(CHANNEL_ID)
    assert isinstance(found, discord.TextChannel)
    return found


async def test_ready_populates_user_and_guilds(fake: FakeDiscord, client: Recorder) -> None:
    """Login, application info and READY + GUILD_CREATE give the client its user and guild."""
    assert client.user is not None
    assert client.user.id == BOT_ID
    guild = client.get_guild(GUILD_ID)
    assert guild is not None
    assert guild.member_count == 2
    assert guild.get_member(ALICE_ID) is None  # listed only with the members intent
    assert channel(client).permissions_for(guild.me).send_messages
    assert not guild.me.guild_permissions.manage_guild
    assert [c.route for c in fake.calls[:2]] == ["GET /users/@me", "GET /oauth2/applications/@me"]
    assert fake.gateway_frames[0].op == 1
    assert fake.gateway_frames[1].op == 2


async def test_on_message_receives_a_user_message(fake: FakeDiscord, client: Recorder) -> None:
    """An injected MESSAGE_CREATE reaches on_message, mention and author intact."""
    sent = fake.user_message(CHANNEL_ID, "hello", mentions_bot=True)
    message = await asyncio.wait_for(client.received.get(), 5)
    assert message.id == int(sent["id"])
    assert message.content == f"<@{BOT_ID}> hello"
    assert client.user in message.mentions
    assert message.author.id == ALICE_ID


async def test_send_and_edit_are_stored(fake: FakeDiscord, client: Recorder) -> None:
    """The client's message and its edit are what the fake shows, allowed_mentions recorded."""
    sent = await channel(client).send("draft", allowed_mentions=discord.AllowedMentions.none())
    await sent.edit(content="final")
    [stored] = fake.messages(CHANNEL_ID)
    assert stored["content"] == "final"
    assert stored["edited_timestamp"] is not None
    assert stored["allowed_mentions"]["parse"] == []


async def test_too_long_content_is_refused(fake: FakeDiscord, client: Recorder) -> None:
    """Over 2000 characters: 400 with code 50035, as discord.py's HTTPException sees it."""
    with pytest.raises(discord.HTTPException) as caught:
        await channel(client).send("x" * 2001)
    assert caught.value.status == 400
    assert caught.value.code == 50035


async def test_sixth_write_waits_for_the_bucket(fake: FakeDiscord, client: Recorder) -> None:
    """discord.py reads the bucket headers and holds the 6th write until the window resets."""
    fake.limits.message_window_seconds = 0.5
    sent = await channel(client).send("1")
    for text in "2345":
        await sent.edit(content=text)
    await channel(client).send("6")
    writes = fake.calls_to(MESSAGES, EDITS)
    assert [c.status for c in writes] == [200] * 6
    assert not fake.rate_limited
    assert writes[5].at - writes[0].at >= 0.45


async def test_forced_429_is_retried(fake: FakeDiscord, client: Recorder) -> None:
    """A 429 with Via and retry_after is slept on and retried by discord.py itself."""
    fake.fail_next(MESSAGES, 429, retry_after=0.05)
    await channel(client).send("after a wait")
    assert [c.status for c in fake.calls_to(MESSAGES)] == [429, 200]
    assert [e.scope for e in fake.rate_limited] == ["forced"]


async def test_slash_command_syncs_and_answers(fake: FakeDiscord, client: Recorder) -> None:
    """The tree syncs (PUT commands); an injected /echo runs and its answer is recorded."""
    await client.tree.sync()
    assert [c["name"] for c in fake.commands()] == ["echo"]
    interaction = fake.slash_command(
        CHANNEL_ID, "echo", {"text": "hi"}, member_permissions=MANAGE_GUILD
    )
    responses = await fake.wait_for(lambda: fake.interaction_responses(interaction["id"]))
    assert [(r["type"], r["data"]["content"]) for r in responses] == [(4, "echo: hi")]
    assert fake.messages(CHANNEL_ID)[0]["content"] == "echo: hi"


async def test_webhook_send_records_username_and_avatar(
    fake: FakeDiscord, client: Recorder
) -> None:
    """A webhook made by the bot posts under a persona; the fake keeps name and avatar."""
    webhook = await channel(client).create_webhook(name="Parlor personas")
    sent = await webhook.send(
        "in character", username="Ada", avatar_url="https://example.invalid/ada.png", wait=True
    )
    [stored] = fake.messages(CHANNEL_ID)
    assert stored["id"] == str(sent.id)
    assert stored["author"]["username"] == "Ada"
    assert stored["avatar_url"] == "https://example.invalid/ada.png"
    assert stored["webhook_id"] == str(webhook.id)


async def test_close_ends_the_gateway_session(fake: FakeDiscord) -> None:
    """client.close() hangs up cleanly: start() returns and the fake forgets the session."""
    bot = Recorder()
    task = asyncio.create_task(bot.start(fake.token))
    await asyncio.wait_for(bot.ready.wait(), 5)
    await bot.close()
    await asyncio.wait_for(task, 5)
    await fake.wait_for(lambda: not fake.sessions)


async def test_bucket_headers_and_429_on_an_injected_clock() -> None:
    """Five writes pass with falling Remaining; the sixth is a 429 until the clock moves on."""
    clock = FakeClock()
    async with FakeDiscord(clock=clock.now) as fake, aiohttp.ClientSession() as http:
        url = f"{fake.api_url}/channels/{CHANNEL_ID}/messages"
        headers = {"Authorization": f"Bot {fake.token}"}
        remaining = []
        for n in range(5):
            async with http.post(url, json={"content": str(n)}, headers=headers) as response:
                assert response.status == 200
                remaining.append(response.headers["X-RateLimit-Remaining"])
                assert response.headers["X-RateLimit-Bucket"] == "fakemessages"
        async with http.post(url, json={"content": "6"}, headers=headers) as response:
            body = await response.json()
            assert response.status == 429
            assert response.headers["Via"] == "1.1 google"
            assert body == {"message": "You are being rate limited.", "retry_after": 5.0,
                            "global": False}  # fmt: skip
        await clock.advance(5.0)
        async with http.post(url, json={"content": "6"}, headers=headers) as response:
            assert response.status == 200
    assert remaining == ["4", "3", "2", "1", "0"]
    assert len(fake.rate_limited) == 1


def test_in_thread_serves_a_blocking_caller() -> None:
    """in_thread runs the fake in its own loop; wait_for_sync sees a call made from here."""
    with FakeDiscord.in_thread() as fake:

        async def get_me() -> int:
            async with aiohttp.ClientSession() as http:
                headers = {"Authorization": f"Bot {fake.token}"}
                async with http.get(f"{fake.api_url}/users/@me", headers=headers) as response:
                    return response.status

        assert asyncio.run(get_me()) == 200
        assert fake.wait_for_sync(lambda: fake.calls_to("GET /users/@me"), 2)


async def test_button_press_updates_its_message(fake: FakeDiscord, client: Recorder) -> None:
    """A pressed button reaches the view; its edit_message (callback 7) changes the message."""

    class Stop(discord.ui.View):
        @discord.ui.button(label="Stop", custom_id="stop")
        async def stop_button(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
            await interaction.response.edit_message(content="stopped", view=None)

    sent = await channel(client).send("streaming…", view=Stop())
    interaction = fake.press_button(CHANNEL_ID, sent.id, "stop")
    await fake.wait_for(lambda: fake.interaction_responses(interaction["id"]))
    assert fake.interaction_responses(interaction["id"])[0]["type"] == 7
    assert fake.message(CHANNEL_ID, sent.id)["content"] == "stopped"
    assert fake.message(CHANNEL_ID, sent.id)["components"] == []
