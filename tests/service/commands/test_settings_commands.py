"""The connection, model and prompt commands."""

from __future__ import annotations

from bot.core.domain import Permission, Secret
from tests.service.conftest import CHANNEL, Harness

KEY = "sk-" + "fake" * 4 + "1234"  # built: nothing secret-shaped is committed


async def test_connect_stores_url_model_and_masked_key(harness: Harness) -> None:
    """/connect answers with the masked key; /settings shows the same."""
    answer = await harness.command(
        "connect", base_url="http://h.example:8080/v1/", api_key=KEY, model="m1"
    )
    assert "http://h.example:8080/v1." in answer.text
    assert "sk-…1234" in answer.text
    assert KEY not in answer.text
    shown = (await harness.command("settings")).text
    assert "Endpoint: http://h.example:8080/v1 (set in this channel)" in shown
    assert "Model: m1" in shown
    assert "API key: set (sk-…1234)" in shown
    assert KEY not in shown


async def test_new_base_url_forgets_the_key(harness: Harness) -> None:
    """Changing the host without a new key clears the stored key."""
    await harness.command("connect", base_url="http://one.example/v1", api_key=KEY)
    await harness.command("connect", base_url="http://two.example/v1")
    state = await harness.store.load_channel(CHANNEL)
    assert state.connection is not None
    assert state.connection.api_key is None


async def test_same_base_url_keeps_the_key(harness: Harness) -> None:
    """Re-running /connect on the same URL to change the model keeps the key."""
    await harness.command("connect", base_url="http://one.example/v1", api_key=KEY)
    await harness.command("connect", base_url="http://one.example/v1", model="m2")
    state = await harness.store.load_channel(CHANNEL)
    assert state.connection is not None
    assert state.connection.api_key == Secret(KEY)
    assert state.model == "m2"


async def test_connect_default_goes_back_to_the_operator(harness: Harness) -> None:
    """base_url:default drops the channel's own connection."""
    await harness.command("connect", base_url="http://one.example/v1", api_key=KEY)
    answer = await harness.command("connect", base_url="default")
    assert "operator's default" in answer.text
    state = await harness.store.load_channel(CHANNEL)
    assert state.connection is None
    assert "Endpoint: the operator's default endpoint" in (await harness.command("settings")).text


async def test_bad_url_changes_nothing(harness: Harness) -> None:
    """A malformed URL is refused with the reason, and the stored connection stays."""
    await harness.command("connect", base_url="http://one.example/v1", api_key=KEY)
    answer = await harness.command("connect", base_url="ftp://x")
    assert "http:// or https://" in answer.text
    state = await harness.store.load_channel(CHANNEL)
    assert state.connection is not None
    assert state.connection.base_url == "http://one.example/v1"
    assert state.connection.api_key == Secret(KEY)


async def test_model_command_sets_and_shows(harness: Harness) -> None:
    """/model name:… chooses; /model alone shows the choice."""
    assert "op-model" in (await harness.command("model")).text
    await harness.command("model", name="llama-3")
    assert (await harness.command("model")).text == "Model: llama-3"


async def test_models_lists_the_endpoint_models(harness: Harness) -> None:
    """/models lists what the endpoint offers, as choices too."""
    harness.client.models_list = ["alpha", "beta"]
    answer = await harness.command("models")
    assert answer.choices == ("alpha", "beta")
    assert "• alpha" in answer.text


async def test_member_cannot_change_the_connection(harness: Harness) -> None:
    """/connect needs server rights; the refusal says which."""
    answer = await harness.command(
        "connect", permission=Permission.EVERYONE, base_url="http://x.example/v1"
    )
    assert "manage the server" in answer.text
    assert (await harness.store.load_channel(CHANNEL)).connection is None


async def test_reset_starts_a_new_conversation(harness: Harness) -> None:
    """/reset archives the chat: the next prompt has no history."""
    from tests.fakes.openai.scripted_client import reply

    harness.client.scripts += [reply("a"), reply("b")]
    await harness.say("before")
    await harness.command("reset")
    await harness.say("after")
    assert [m.content for m in harness.client.requests[-1].messages] == ["after"]


async def test_system_prompt_is_set_and_cleared(harness: Harness) -> None:
    """/system prompt:… sets it, /system alone clears it."""
    await harness.command("system", prompt="You are terse.")
    assert (await harness.store.load_channel(CHANNEL)).system_prompt == "You are terse."
    assert (await harness.command("system")).text == "System prompt cleared."
    assert (await harness.store.load_channel(CHANNEL)).system_prompt is None


async def test_help_lists_what_the_caller_may_run(harness: Harness) -> None:
    """/help shows a member their commands and names the admin ones."""
    text = (await harness.command("help", permission=Permission.EVERYONE)).text
    assert "/stop — " in text
    assert "Admins can also use: /connect" in text


async def test_settings_never_claims_a_key_that_does_not_exist(harness: Harness) -> None:
    """On the operator's endpoint without an operator key, /settings says there is none."""
    assert "API key: none" in (await harness.command("settings")).text


async def test_listen_switches_between_mentions_and_every_message(harness: Harness) -> None:
    """/listen mode:all makes a channel answer everything; /settings says which; a member
    may not change it."""
    assert not await harness.service.answers_all(CHANNEL)
    refused = await harness.command("listen", permission=Permission.EVERYONE, mode="all")
    assert not await harness.service.answers_all(CHANNEL), refused.text
    await harness.command("listen", mode="all")
    assert await harness.service.answers_all(CHANNEL)
    assert "Answers: every message" in (await harness.command("settings")).text
    await harness.command("listen", mode="mentions")
    assert not await harness.service.answers_all(CHANNEL)


async def test_settings_name_the_profile_a_channel_uses(harness: Harness) -> None:
    """A channel on a profile says which one; its own connection and the operator's say so."""
    harness.client.models_list = ["m"]
    await harness.command("connect", base_url="http://h.example/v1", api_key=KEY)
    await harness.command("profile", action="save", name="home")
    await harness.command("profile", action="save", name="work", base_url="http://w.example/v1")
    shown = (await harness.command("settings")).text
    assert "Endpoint: http://h.example/v1 (set in this channel)" in shown
    assert "profile" not in shown
    await harness.command("profile", action="use", name="work")
    shown = (await harness.command("settings")).text
    assert "Endpoint: http://w.example/v1 (from the profile work)" in shown
    assert "home" not in shown
    await harness.command("profile", action="use", name="home")
    shown = (await harness.command("settings")).text
    assert "Endpoint: http://h.example/v1 (from the profile home)" in shown
    await harness.command("profile", action="delete", name="home")
    shown = (await harness.command("settings")).text
    assert "Endpoint: the operator's default endpoint" in shown
    assert "profile" not in shown


async def test_settings_show_extras_keys_without_controls(harness: Harness) -> None:
    """Body keys and dropped keys are shown without escape sequences or overrides."""
    harness.client.models_list = ["m"]
    await harness.command("connect", base_url="http://h.example/v1")
    await harness.command("extras", body='{"top\\u001b[31m_k": 1}', exclude="seed\u202e,\x07x")
    shown = (await harness.command("settings")).text
    assert "Extras: body top_k; dropping seed, x" in shown
