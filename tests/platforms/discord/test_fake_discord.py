"""The fake Discord, driven by the real discord.py over HTTP and a websocket on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import io
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

import aiohttp
import pytest
import yarl

with warnings.catch_warnings():  # discord.py imports audioop, deprecated since Python 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord
    from discord import app_commands

from tests.fakes.clock import FakeClock
from tests.fakes.discord.server import ALICE_ID, BOT_ID, CHANNEL_ID, GUILD_ID, FakeDiscord
from tests.fakes.discord.wire import EPHEMERAL, MANAGE_GUILD

MESSAGES = "POST /channels/{channel_id}/messages"
EDITS = "PATCH /channels/{channel_id}/messages/{message_id}"
TYPING = "POST /channels/{channel_id}/typing"
EXECUTE = "POST /webhooks/{webhook_id}/{webhook_token}"
THREAD_ID = 940_000_000_000_000_001
# Enough of a PNG for discord.py, which reads only the signature to pick the data: URI's type.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(24))
T = TypeVar("T")


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

    def __init__(self, *, dm_messages: bool = True) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = intents.message_content = True
        intents.dm_messages = dm_messages
        # guild_ready_timeout: on_ready waits this long after the last GUILD_CREATE (2 s).
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.ready = asyncio.Event()
        self.received: asyncio.Queue[discord.Message] = asyncio.Queue()
        self.threads: asyncio.Queue[discord.Thread] = asyncio.Queue()
        self.edits: asyncio.Queue[tuple[discord.Message, discord.Message]] = asyncio.Queue()
        self.raw_deletes: asyncio.Queue[discord.RawMessageDeleteEvent] = asyncio.Queue()
        self.deletes: asyncio.Queue[discord.Message] = asyncio.Queue()
        self.tree = app_commands.CommandTree(self)

        @self.tree.command(description="Say something back")
        async def echo(interaction: discord.Interaction, text: str) -> None:
            await interaction.response.send_message(f"echo: {text}")

    async def on_ready(self) -> None:
        self.ready.set()

    async def on_message(self, message: discord.Message) -> None:
        await self.received.put(message)

    async def on_thread_create(self, thread: discord.Thread) -> None:
        await self.threads.put(thread)

    async def on_message_edit(self, before: discord.Message, after: discord.Message) -> None:
        await self.edits.put((before, after))

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self.raw_deletes.put(payload)

    async def on_message_delete(self, message: discord.Message) -> None:
        await self.deletes.put(message)


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord, bot: Recorder | None = None) -> AsyncIterator[Recorder]:
    """A started client, READY; closed (and its task awaited) on the way out."""
    bot = bot or Recorder()
    task = asyncio.create_task(bot.start(fake.token))
    try:
        async with asyncio.timeout(5):
            await bot.ready.wait()
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


@pytest.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[Recorder]:
    async with running(fake) as bot:
        yield bot


async def next_of(queue: asyncio.Queue[T]) -> T:
    """What the client received next (its events arrive after the fake has sent them)."""
    return await asyncio.wait_for(queue.get(), 5)


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
        async def stop_button(
            self, interaction: discord.Interaction, _: discord.ui.Button[Stop]
        ) -> None:
            await interaction.response.edit_message(content="stopped", view=None)

    sent = await channel(client).send("streaming…", view=Stop())
    interaction = fake.press_button(CHANNEL_ID, sent.id, "stop")
    await fake.wait_for(lambda: fake.interaction_responses(interaction["id"]))
    assert fake.interaction_responses(interaction["id"])[0]["type"] == 7
    assert fake.message(CHANNEL_ID, sent.id)["content"] == "stopped"
    assert fake.message(CHANNEL_ID, sent.id)["components"] == []


async def test_webhook_edit_stores_name_and_avatar(fake: FakeDiscord, client: Recorder) -> None:
    """Webhook.edit (PATCH /webhooks/{id} with the bot token) sets the name and the avatar
    image; channel.webhooks() and fetch_webhook show them."""
    webhook = await channel(client).create_webhook(name="Parlor personas")
    edited = await webhook.edit(name="Ada", avatar=PNG)
    assert [c.status for c in fake.calls_to("PATCH /webhooks/{webhook_id}")] == [200]
    assert fake.webhook_avatar(webhook.id) == PNG
    assert edited.name == "Ada"
    assert edited.avatar is not None
    [listed] = await channel(client).webhooks()
    fetched = await client.fetch_webhook(webhook.id)
    assert (listed.name, fetched.name) == ("Ada", "Ada")
    assert listed.avatar is not None
    assert fetched.avatar is not None
    assert listed.avatar.key == fetched.avatar.key == edited.avatar.key


async def test_webhook_message_shows_the_webhook_persona(
    fake: FakeDiscord, client: Recorder
) -> None:
    """A webhook's message shows its name and avatar unless username or avatar_url override."""
    webhook = await channel(client).create_webhook(name="Parlor personas")
    webhook = await webhook.edit(name="Ada", avatar=PNG)
    assert webhook.avatar is not None
    plain = await webhook.send("as the webhook", wait=True)
    override = await webhook.send(
        "as Bea", username="Bea", avatar_url="https://example.invalid/bea.png", wait=True
    )
    stored = fake.message(CHANNEL_ID, plain.id)
    assert (stored["author"]["username"], stored["author"]["avatar"]) == ("Ada", webhook.avatar.key)
    stored = fake.message(CHANNEL_ID, override.id)
    assert stored["author"]["username"] == "Bea"
    assert stored["author"]["avatar"] not in {None, webhook.avatar.key}
    assert stored["avatar_url"] == "https://example.invalid/bea.png"


async def test_thread_added_before_connect_is_in_guild_create(fake: FakeDiscord) -> None:
    """A thread configured before the client connects arrives in GUILD_CREATE's threads."""
    fake.add_thread(CHANNEL_ID, THREAD_ID, "ideas")
    async with running(fake) as bot:
        thread = bot.get_channel(THREAD_ID)
        assert isinstance(thread, discord.Thread)
        assert (thread.name, thread.parent_id) == ("ideas", CHANNEL_ID)
        assert thread.type is discord.ChannelType.public_thread


async def test_thread_added_after_connect_is_announced(fake: FakeDiscord, client: Recorder) -> None:
    """A thread added while the client is connected comes as THREAD_CREATE (on_thread_create)."""
    fake.add_thread(CHANNEL_ID, THREAD_ID, "ideas")
    thread = await next_of(client.threads)
    assert (thread.id, thread.parent_id) == (THREAD_ID, CHANNEL_ID)
    assert client.get_channel(THREAD_ID) is thread


async def test_messages_in_a_thread(fake: FakeDiscord, client: Recorder) -> None:
    """A user's thread message resolves to a Thread; the bot's reply lands in the thread."""
    fake.add_thread(CHANNEL_ID, THREAD_ID, "ideas")
    await next_of(client.threads)
    fake.user_message(THREAD_ID, "in the thread")
    message = await next_of(client.received)
    assert isinstance(message.channel, discord.Thread)
    assert message.channel.parent_id == CHANNEL_ID
    await message.channel.send("reply in the thread")
    await channel(client).send("in the parent")
    assert [m["content"] for m in fake.messages(THREAD_ID)] == ["reply in the thread"]
    assert [m["content"] for m in fake.messages(CHANNEL_ID)] == ["in the parent"]


async def test_thread_buckets_own_messages_share_webhooks() -> None:
    """A thread's messages have their own bucket; a webhook's posts into it share the webhook's."""
    async with FakeDiscord(clock=FakeClock().now) as fake, aiohttp.ClientSession() as http:
        fake.add_thread(CHANNEL_ID, THREAD_ID, "ideas")
        headers = {"Authorization": f"Bot {fake.token}"}
        channels = f"{fake.api_url}/channels"
        async with http.post(f"{channels}/{CHANNEL_ID}/webhooks", json={"name": "w"},
                             headers=headers) as response:  # fmt: skip
            webhook = await response.json()
        execute = f"{fake.api_url}/webhooks/{webhook['id']}/{webhook['token']}"
        for url in [f"{channels}/{CHANNEL_ID}/messages", execute] * 5:
            async with http.post(url, json={"content": "x"}, headers=headers) as response:
                assert response.status in {200, 204}
        async with http.post(f"{channels}/{THREAD_ID}/messages", json={"content": "x"},
                             headers=headers) as response:  # fmt: skip
            assert (response.status, response.headers["X-RateLimit-Remaining"]) == (200, "4")
        async with http.post(execute, params={"thread_id": str(THREAD_ID)},
                             json={"content": "x"}) as response:  # fmt: skip
            assert response.status == 429


async def test_webhook_messages_in_a_thread(fake: FakeDiscord, client: Recorder) -> None:
    """webhook.send(thread=…) posts with ?thread_id=; its edit and delete find it there."""
    fake.add_thread(CHANNEL_ID, THREAD_ID, "ideas")
    thread = await next_of(client.threads)
    webhook = await channel(client).create_webhook(name="Parlor personas")
    sent = await webhook.send("draft", thread=thread, wait=True)
    assert fake.calls_to(EXECUTE)[0].query["thread_id"] == str(THREAD_ID)
    await sent.edit(content="final")
    assert [m["content"] for m in fake.messages(THREAD_ID)] == ["final"]
    assert fake.messages(CHANNEL_ID) == []
    await webhook.delete_message(sent.id, thread=thread)
    assert fake.messages(THREAD_ID) == []


async def test_dm_message_reaches_on_message_in_a_dm_channel(
    fake: FakeDiscord, client: Recorder
) -> None:
    """A DM arrives without guild: a DMChannel; create_dm finds the same channel to reply in."""
    dm_id = fake.dm_channel(ALICE_ID)
    fake.user_message(dm_id, "psst")
    message = await next_of(client.received)
    assert isinstance(message.channel, discord.DMChannel)
    assert message.guild is None
    assert message.author.id == ALICE_ID
    dm = await message.author.create_dm()
    assert dm.id == dm_id
    await dm.send("hello in private")
    [stored] = fake.messages(dm_id)
    assert stored["content"] == "hello in private"
    assert "guild_id" not in stored


async def test_dm_needs_the_direct_messages_intent(fake: FakeDiscord) -> None:
    """Without the DIRECT_MESSAGES intent the client is not sent DMs, as on Discord."""
    async with running(fake, Recorder(dm_messages=False)) as bot:
        fake.user_message(fake.dm_channel(ALICE_ID), "unseen")
        fake.user_message(CHANNEL_ID, "seen")
        message = await next_of(bot.received)
        assert message.content == "seen"


async def test_slash_command_in_a_dm(fake: FakeDiscord, client: Recorder) -> None:
    """In a DM a command comes with `user`, no guild, context 1; guild-only ones are refused."""
    seen: list[discord.Interaction] = []

    @client.tree.command(description="Private only")
    @app_commands.guild_only()
    async def admin(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("no")

    @client.tree.command(description="Where am I?")
    async def where(interaction: discord.Interaction) -> None:
        seen.append(interaction)
        await interaction.response.send_message("in a DM")

    await client.tree.sync()
    dm_id = fake.dm_channel(ALICE_ID)
    interaction = fake.slash_command(dm_id, "where")
    assert "member" not in interaction
    assert "guild_id" not in interaction
    assert interaction["context"] == 1
    await fake.wait_for(lambda: fake.interaction_responses(interaction["id"]))
    [received] = seen
    assert received.guild is None
    assert isinstance(received.user, discord.User)
    assert isinstance(received.channel, discord.DMChannel)
    assert [m["content"] for m in fake.messages(dm_id)] == ["in a DM"]
    with pytest.raises(ValueError, match="not offered in DMs"):
        fake.slash_command(dm_id, "admin")


async def test_slash_command_attachment_option(fake: FakeDiscord, client: Recorder) -> None:
    """A (filename, bytes) option is a resolved Attachment whose url serves the bytes."""

    @client.tree.command(description="Measure a file")
    async def measure(interaction: discord.Interaction, file: discord.Attachment) -> None:
        data = await file.read()
        await interaction.response.send_message(f"{file.filename}: {len(data)} bytes")

    await client.tree.sync()
    interaction = fake.slash_command(CHANNEL_ID, "measure", {"file": ("card.png", PNG)})
    await fake.wait_for(lambda: fake.interaction_messages(interaction["id"]))
    [answer] = fake.interaction_messages(interaction["id"])
    assert answer["content"] == f"card.png: {len(PNG)} bytes"


async def test_deferred_ephemeral_answer_with_followups(
    fake: FakeDiscord, client: Recorder
) -> None:
    """defer(ephemeral, thinking), edit the original, follow up (ephemeral with a file, then
    public), delete the original: only the public followup shows in the channel."""

    @client.tree.command(description="Work in private")
    async def report(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.edit_original_response(content="working")
        report_file = discord.File(io.BytesIO(b"rows"), filename="report.csv")
        await interaction.followup.send("your report", ephemeral=True, file=report_file)
        await interaction.followup.send("a report was made")
        await interaction.delete_original_response()

    await client.tree.sync()
    interaction = fake.slash_command(CHANNEL_ID, "report")
    await fake.wait_for(lambda: len(fake.interaction_responses(interaction["id"])) == 5)
    responses = fake.interaction_responses(interaction["id"])
    assert [r["type"] for r in responses] == [
        5, "edit_original", "followup", "followup", "delete_original",
    ]  # fmt: skip
    assert responses[0]["data"]["flags"] == EPHEMERAL
    private, public = fake.interaction_messages(interaction["id"])
    assert (private["content"], private["flags"]) == ("your report", EPHEMERAL)
    [attachment] = private["attachments"]
    assert fake.uploaded(attachment["id"]) == b"rows"
    assert (public["content"], public["flags"]) == ("a report was made", 0)
    assert [m["content"] for m in fake.messages(CHANNEL_ID)] == ["a report was made"]


async def test_followup_right_after_defer_fills_the_loading_message(
    fake: FakeDiscord, client: Recorder
) -> None:
    """As Discord documents: a followup straight after a deferral edits the loading message,
    which stays ephemeral even if the followup is not."""

    @client.tree.command(description="Think first")
    async def think(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("thought")

    await client.tree.sync()
    interaction = fake.slash_command(CHANNEL_ID, "think")
    await fake.wait_for(lambda: len(fake.interaction_responses(interaction["id"])) == 2)
    [message] = fake.interaction_messages(interaction["id"])
    assert (message["content"], message["flags"]) == ("thought", EPHEMERAL)
    assert fake.messages(CHANNEL_ID) == []


async def test_buttons_on_a_webhook_message(fake: FakeDiscord, client: Recorder) -> None:
    """A view sent through the bot's webhook gets presses: edit_message (7) edits that message,
    defer (6) then edit_original_response edits it too."""

    class Controls(discord.ui.View):
        @discord.ui.button(label="Stop", custom_id="stop")
        async def stop_button(
            self, interaction: discord.Interaction, _: discord.ui.Button[Controls]
        ) -> None:
            await interaction.response.edit_message(content="stopped")

        @discord.ui.button(label="Later", custom_id="later")
        async def later_button(
            self, interaction: discord.Interaction, _: discord.ui.Button[Controls]
        ) -> None:
            await interaction.response.defer()
            await interaction.edit_original_response(content="done later", view=None)

    webhook = await channel(client).create_webhook(name="Parlor personas")
    sent = await webhook.send("streaming…", view=Controls(), wait=True)
    assert sent is not None
    first = fake.press_button(CHANNEL_ID, sent.id, "stop")
    await fake.wait_for(lambda: fake.interaction_responses(first["id"]))
    assert fake.interaction_responses(first["id"])[0]["type"] == 7
    assert fake.message(CHANNEL_ID, sent.id)["content"] == "stopped"
    second = fake.press_button(CHANNEL_ID, sent.id, "later")
    await fake.wait_for(lambda: len(fake.interaction_responses(second["id"])) == 2)
    stored = fake.message(CHANNEL_ID, sent.id)
    assert (stored["content"], stored["components"]) == ("done later", [])
    assert stored["webhook_id"] == str(webhook.id)


class Feedback(discord.ui.Modal, title="Feedback"):
    """Two inputs in both shapes Discord knows: an action row and a label."""

    topic: discord.ui.TextInput[Feedback] = discord.ui.TextInput(label="Topic", custom_id="topic")
    details: discord.ui.Label[Feedback] = discord.ui.Label(
        text="Details",
        component=discord.ui.TextInput(custom_id="details", required=False),
    )

    def __init__(self) -> None:
        super().__init__(custom_id="feedback")
        self.submitted: asyncio.Future[tuple[str, str]] = asyncio.Future()

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.details.component, discord.ui.TextInput)
        self.submitted.set_result((self.topic.value, self.details.component.value))
        await interaction.response.send_message("thanks", ephemeral=True)


async def test_modal_is_shown_and_submitted(fake: FakeDiscord, client: Recorder) -> None:
    """send_modal is recorded (type 9); submit_modal runs the Modal's on_submit with the values."""
    modal = Feedback()

    @client.tree.command(description="Tell us")
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(modal)

    await client.tree.sync()
    opened = fake.slash_command(CHANNEL_ID, "feedback")
    shown = await fake.wait_for(lambda: fake.modal_of(opened["id"]))
    assert shown is not None
    assert (shown["custom_id"], shown["title"]) == ("feedback", "Feedback")
    assert [c["type"] for c in shown["components"]] == [1, 18]
    submitted = fake.submit_modal(CHANNEL_ID, "feedback", {"topic": "cats", "details": "many"})
    assert await asyncio.wait_for(modal.submitted, 5) == ("cats", "many")
    await fake.wait_for(lambda: fake.interaction_messages(submitted["id"]))
    [thanks] = fake.interaction_messages(submitted["id"])
    assert (thanks["content"], thanks["flags"]) == ("thanks", EPHEMERAL)
    assert fake.messages(CHANNEL_ID) == []
    with pytest.raises(KeyError, match="no inputs"):
        fake.submit_modal(CHANNEL_ID, "feedback", {"topic": "x", "colour": "red"})


async def test_autocomplete_choices_are_recorded(fake: FakeDiscord, client: Recorder) -> None:
    """An autocomplete interaction runs the callback; its choices (type 8) can be read back."""

    @client.tree.command(description="Pick a fruit")
    async def pick(interaction: discord.Interaction, fruit: str) -> None:
        await interaction.response.send_message(fruit)

    @pick.autocomplete("fruit")
    async def fruits(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        names = ["apple", "apricot", "banana"]
        return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

    await client.tree.sync()
    typed = fake.autocomplete(CHANNEL_ID, "pick", "fruit", "ap")
    choices = await fake.wait_for(lambda: fake.autocomplete_choices(typed["id"]))
    assert choices == [{"name": "apple", "value": "apple"}, {"name": "apricot", "value": "apricot"}]
    assert fake.interaction_responses(typed["id"])[0]["type"] == 8


async def test_user_edit_and_delete_reach_the_client(fake: FakeDiscord, client: Recorder) -> None:
    """edit_user_message gives on_message_edit; delete_user_message gives the delete events."""
    sent = fake.user_message(CHANNEL_ID, "first")
    await next_of(client.received)
    fake.edit_user_message(CHANNEL_ID, sent["id"], "second")
    before, after = await next_of(client.edits)
    assert (before.id, before.content, after.content) == (int(sent["id"]), "first", "second")
    fake.delete_user_message(CHANNEL_ID, sent["id"])
    raw = await next_of(client.raw_deletes)
    assert (raw.message_id, raw.channel_id, raw.guild_id) == (int(sent["id"]), CHANNEL_ID, GUILD_ID)
    assert (await next_of(client.deletes)).id == int(sent["id"])
    assert fake.messages(CHANNEL_ID, include_users=True) == []


async def test_typing_in_a_channel_a_thread_and_a_dm(fake: FakeDiscord, client: Recorder) -> None:
    """The typing indicator is accepted (204) in a text channel, a thread and a DM."""
    fake.add_thread(CHANNEL_ID, THREAD_ID, "ideas")
    thread = await next_of(client.threads)
    dm_id = fake.dm_channel(ALICE_ID)
    fake.user_message(dm_id, "hi")
    dm = (await next_of(client.received)).channel
    for place in (channel(client), thread, dm):
        async with place.typing():
            pass
    calls = fake.calls_to(TYPING)
    assert [(c.channel_id, c.status) for c in calls] == [
        (CHANNEL_ID, 204), (THREAD_ID, 204), (dm_id, 204),
    ]  # fmt: skip
