"""/profile: named connections shared by a server or chat, one used per channel."""

from __future__ import annotations

from bot.core.domain import ChannelKey, Secret
from tests.fakes.openai.scripted_client import reply
from tests.service.conftest import CHANNEL, Harness

KEY = "sk-" + "fake" * 4 + "9999"  # built: nothing secret-shaped is committed
OTHER = ChannelKey("test", "random")


async def test_saved_profile_is_used_by_another_channel(harness: Harness) -> None:
    """A profile saved from one channel's connection, key and model, serves another channel."""
    harness.client.models_list = ["m"]
    await harness.command("connect", base_url="http://h.example/v1", api_key=KEY, model="big")
    saved = await harness.command("profile", action="save", name="home")
    assert "Saved the profile home" in saved.text
    # Profiles belong to the server, so both channels of one server see them.
    used = await harness.command(
        "profile", action="use", name="home", channel=OTHER, server="guild-1"
    )
    assert "no profile" in used.text  # saved without a server: it is the chat's own
    await harness.command("profile", action="save", name="home", server="guild-1")
    used = await harness.command(
        "profile", action="use", name="home", channel=OTHER, server="guild-1"
    )
    assert used.text == "This channel now uses the profile home."
    state = await harness.store.load_channel(OTHER)
    assert state.connection is not None
    assert state.connection.base_url == "http://h.example/v1"
    assert state.connection.api_key == Secret(KEY)
    harness.client.scripts.append(reply("hi"))
    await harness.say("hello", channel=OTHER)
    request = harness.client.requests[-1]
    assert (request.model, request.connection.api_key) == ("big", Secret(KEY))


async def test_list_shows_masked_keys_and_users(harness: Harness) -> None:
    """/profile list names each profile with its host, model and masked key, never the key."""
    await harness.command(
        "profile",
        action="save",
        name="cloud",
        base_url="https://api.example.com/v1/",
        api_key=KEY,
        model="gpt-x",
    )
    await harness.command("profile", action="use", name="cloud")
    listing = (await harness.command("profile", action="list")).text
    assert "• cloud: api.example.com, gpt-x, key sk-…9999, used by 1" in listing
    assert KEY not in listing


async def test_new_url_without_key_forgets_the_profile_key(harness: Harness) -> None:
    """Changing a profile's base URL clears its key unless a new key comes with it."""
    await harness.command(
        "profile", action="save", name="p", base_url="http://one.example/v1", api_key=KEY
    )
    await harness.command("profile", action="save", name="p", base_url="http://two.example/v1")
    listing = (await harness.command("profile", action="list")).text
    assert "no key" in listing
    await harness.command(
        "profile", action="save", name="p", base_url="http://three.example/v1", api_key=KEY
    )
    assert "key sk-…9999" in (await harness.command("profile", action="list")).text


async def test_delete_sends_channels_back_to_the_operator(harness: Harness) -> None:
    """Deleting a profile in use tells how many channels fell back to the default."""
    await harness.command("profile", action="save", name="p", base_url="http://one.example/v1")
    await harness.command("profile", action="use", name="p")
    answer = await harness.command("profile", action="delete", name="p")
    assert "1 channel(s) using it went back" in answer.text
    assert (await harness.store.load_channel(CHANNEL)).connection is None
    assert "No profiles yet" in (await harness.command("profile", action="list")).text


async def test_unknown_profile_and_bad_names_are_explained(harness: Harness) -> None:
    """Using a missing profile, or a name with spaces, gets a clear answer."""
    assert (
        "There is no profile 'nope'"
        in (await harness.command("profile", action="use", name="nope")).text
    )
    assert (
        "needs name:<name>"
        in (await harness.command("profile", action="save", name="two words")).text
    )


async def test_saving_the_operator_endpoint_is_refused(harness: Harness) -> None:
    """The operator's endpoint (and its key) cannot be copied into a profile."""
    answer = await harness.command("profile", action="save", name="op")
    assert "operator's endpoint" in answer.text
