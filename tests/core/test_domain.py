"""Domain values whose behaviour others rely on: a thread's channel key."""

from __future__ import annotations

from bot.core.domain import Actor, ChannelKey, CommandCall, Permission

THREAD = ChannelKey("discord", "201", parent_id="100")


def test_thread_key_equals_its_own_id_whatever_the_parent() -> None:
    """Queues and write budgets keyed by a thread stay per thread, parent known or not."""
    thread, bare = THREAD, ChannelKey("discord", "201")

    assert thread == bare
    assert hash(thread) == hash(bare)
    assert {bare: "lane"}[thread] == "lane"
    assert thread != ChannelKey("discord", "100")


def test_thread_settings_live_on_its_parent() -> None:
    """A thread's settings key is its channel; a channel's is itself."""
    channel = ChannelKey("discord", "100")

    assert THREAD.settings_key == channel
    assert THREAD.settings_key.parent_id is None
    assert channel.settings_key is channel


def test_thread_key_prints_as_its_own_id() -> None:
    """Logs and scopes name the thread itself."""
    assert str(THREAD) == "discord:201"


def test_thread_without_a_server_shares_its_channels_library() -> None:
    """Profiles and characters of a serverless thread are its channel's."""
    call = CommandCall("profile", {}, THREAD, Actor("1", "Ann", Permission.OPERATOR))

    assert call.profile_scope == "discord:100"
