"""Threads through the service: settings are the channel's, history and /reset the thread's."""

from __future__ import annotations

from bot.core.domain import ChannelKey, Role
from tests.fakes.openai.scripted_client import reply
from tests.service.conftest import CHANNEL, Harness

THREAD = ChannelKey(CHANNEL.platform, "t1", parent_id=CHANNEL.external_id)
SIBLING = ChannelKey(CHANNEL.platform, "t2", parent_id=CHANNEL.external_id)


async def test_settings_made_in_a_thread_apply_to_its_sibling(harness: Harness) -> None:
    """/model and /system in one thread are the channel's: a sibling thread's turn uses them."""
    harness.client.scripts.append(reply("ok"))
    await harness.command("model", name="m9", channel=THREAD)
    await harness.command("system", prompt="Be brief.", channel=THREAD)

    await harness.say("hi", channel=SIBLING)

    request = harness.client.requests[-1]
    assert request.model == "m9"
    assert [(m.role, m.content) for m in request.messages] == [
        (Role.SYSTEM, "Be brief."),
        (Role.USER, "hi"),
    ]
    assert (await harness.store.load_channel(CHANNEL)).model == "m9"


async def test_reset_in_a_thread_leaves_the_channel_its_history(harness: Harness) -> None:
    """/reset in a thread empties the thread's prompt; the channel still remembers."""
    harness.client.scripts += [reply("a"), reply("b"), reply("c"), reply("d")]
    await harness.say("in the channel")
    await harness.say("in the thread", channel=THREAD)

    await harness.command("reset", channel=THREAD)
    await harness.say("after", channel=THREAD)
    await harness.say("again")

    thread_prompt, channel_prompt = (r.messages for r in harness.client.requests[-2:])
    assert [m.content for m in thread_prompt] == ["after"]
    assert [m.content for m in channel_prompt] == ["in the channel", "a", "again"]


async def test_profile_saved_in_a_thread_is_the_channels(harness: Harness) -> None:
    """Outside a server a thread shares its channel's profiles: saved in one, listed in both."""
    await harness.command(
        "profile", action="save", name="home", base_url="http://p.example/v1", channel=THREAD
    )

    assert "home" in (await harness.command("profile", action="list")).text
