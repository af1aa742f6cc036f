"""The bot in Telegram webhook mode, in the test process, against the fake Bot API, which
POSTs each update to the bot's listener with the secret header as Telegram does: answered
with the right secret, refused (403, nothing answered, nothing lost) without it; the
webhook set only when Telegram's differs; polling removing a webhook left set."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.platforms.telegram.adapter import _ALLOWED_UPDATES
from tests.fakes.bot_thread import BotThread, running_in_thread
from tests.fakes.console_process import bot_env
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram
from tests.platforms.telegram.conftest import running
from tests.platforms.telegram.webhook_workers import (
    SECRET,
    free_port,
    listener_url,
    wait_until_ready,
    webhook_settings,
)

pytestmark = pytest.mark.slow

PRIVATE_CHAT = 5001
TIMEOUT = 30.0
REFUSED_DELIVERIES = 3
"""Telegram tried this many times and was refused each time: enough to see that a refused
update is neither answered nor dropped."""


@contextlib.contextmanager
def webhook_bot(
    tmp_path: Path, endpoint: FakeOpenAI, telegram: FakeTelegram, template: Path
) -> Iterator[tuple[BotThread, int]]:
    """A bot in webhook mode on its own port, back once it takes updates; it must stop
    cleanly, its token and secret unlogged."""
    port = free_port()
    env = bot_env(
        tmp_path,
        TELEGRAM_TOKEN=telegram.token,
        TELEGRAM_API_URL=telegram.base_url,
        DEFAULT_BASE_URL=endpoint.base_url,
        DEFAULT_MODEL="fake-model",
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        **webhook_settings(port),
    )
    with running_in_thread(tmp_path, env, template) as bot:
        wait_until_ready(bot, port)
        yield bot, port
    assert bot.stop() == 0, bot.log
    assert "Traceback" not in bot.log, bot.log
    assert telegram.token.split(":", 1)[1] not in bot.log, "the bot token leaked"
    assert SECRET not in bot.log, "the webhook secret leaked"


def replies(telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [str(m.get("text", "")) for m in telegram.messages(chat_id)]


def test_updates_posted_with_the_secret_are_answered(
    tmp_path: Path, endpoint: FakeOpenAI, telegram: FakeTelegram, migrated_template: Path
) -> None:
    """setWebhook gets the URL, the secret and the update kinds polling asks for, keeping
    what is queued; a message posted to the listener is answered; nothing polls."""
    with webhook_bot(tmp_path, endpoint, telegram, migrated_template) as (_, port):
        telegram.user_message(PRIVATE_CHAT, "hello by webhook")
        telegram.wait_for_sync(
            lambda: replies(telegram, PRIVATE_CHAT) == ["You said: hello by webhook"],
            timeout=TIMEOUT,
        )
    [setting] = telegram.calls_to("setWebhook")
    assert setting.params["url"] == listener_url(port)
    assert setting.params["secret_token"] == SECRET
    assert setting.params["allowed_updates"] == _ALLOWED_UPDATES
    assert setting.params.get("drop_pending_updates") in (None, False)
    assert telegram.calls_to("getUpdates") == []
    assert [d.status for d in telegram.deliveries] == [200]


def test_an_update_delivered_twice_is_answered_once(
    tmp_path: Path, endpoint: FakeOpenAI, telegram: FakeTelegram, migrated_template: Path
) -> None:
    """Our 200 is lost on the way: Telegram posts the same update again, and the bot takes
    it (200) but answers the message once, with one turn at the endpoint."""
    with webhook_bot(tmp_path, endpoint, telegram, migrated_template):
        telegram.lose_answers(1)
        telegram.user_message(PRIVATE_CHAT, "said once")
        telegram.wait_for_sync(
            lambda: (
                len(telegram.deliveries) == 2
                and replies(telegram, PRIVATE_CHAT) == ["You said: said once"]
            ),
            timeout=TIMEOUT,
        )  # the copy claimed first is answered, the other dropped
        telegram.user_message(PRIVATE_CHAT, "said after")
        telegram.wait_for_sync(
            lambda: replies(telegram, PRIVATE_CHAT)[-1:] == ["You said: said after"],
            timeout=TIMEOUT,
        )
    first, again, after = telegram.deliveries
    assert (
        (first.update_id, first.status)
        == (again.update_id, again.status)
        == (
            first.update_id,
            200,
        )
    )
    assert after.update_id == first.update_id + 1
    assert replies(telegram, PRIVATE_CHAT) == ["You said: said once", "You said: said after"]
    generations = [r for r in endpoint.requests if r.path in endpoint.generation_paths]
    assert len(generations) == 2, "the copy never reached the model"


@pytest.mark.parametrize("header", ["not-the-secret", ""], ids=["wrong", "missing"])
def test_a_delivery_without_the_secret_is_refused_and_kept(
    tmp_path: Path,
    endpoint: FakeOpenAI,
    telegram: FakeTelegram,
    migrated_template: Path,
    header: str,
) -> None:
    """A wrong or missing secret header: 403 each time, and the bot writes nothing; once
    the deliveries carry the right secret, Telegram's retry is answered, once."""
    with webhook_bot(tmp_path, endpoint, telegram, migrated_template):
        telegram.send_secret(header)
        telegram.user_message(PRIVATE_CHAT, "let me in")
        telegram.wait_for_sync(
            lambda: len([d for d in telegram.deliveries if d.status == 403]) >= REFUSED_DELIVERIES,
            timeout=TIMEOUT,
        )
        assert replies(telegram, PRIVATE_CHAT) == []
        assert telegram.calls_to("sendMessage", "sendMessageDraft", "sendChatAction") == []
        telegram.send_secret(None)
        telegram.wait_for_sync(
            lambda: replies(telegram, PRIVATE_CHAT) == ["You said: let me in"], timeout=TIMEOUT
        )
    refused = {d.update_id for d in telegram.deliveries if d.status == 403}
    taken = [d.update_id for d in telegram.deliveries if d.status == 200]
    assert len(refused) == 1
    assert taken == list(refused), "the refused update was delivered again, and taken once"
    assert replies(telegram, PRIVATE_CHAT) == ["You said: let me in"]
    webhook = telegram.webhook
    assert webhook is not None
    assert webhook.last_error_message == "Wrong response from the webhook: 403 Forbidden"


def test_a_webhook_already_set_as_ours_is_left_alone(
    tmp_path: Path, endpoint: FakeOpenAI, telegram: FakeTelegram, migrated_template: Path
) -> None:
    """Another worker set the same webhook: this one only looks (no setWebhook, which a
    burst of workers starting together would have Telegram answer with 429) and answers."""
    port = free_port()
    telegram.webhook_set_elsewhere(
        listener_url(port), secret=SECRET, allowed_updates=list(_ALLOWED_UPDATES)
    )
    env = bot_env(
        tmp_path,
        TELEGRAM_TOKEN=telegram.token,
        TELEGRAM_API_URL=telegram.base_url,
        DEFAULT_BASE_URL=endpoint.base_url,
        DEFAULT_MODEL="fake-model",
        **webhook_settings(port),
    )
    with running_in_thread(tmp_path, env, migrated_template) as bot:
        wait_until_ready(bot, port)
        telegram.user_message(PRIVATE_CHAT, "already set")
        telegram.wait_for_sync(
            lambda: replies(telegram, PRIVATE_CHAT) == ["You said: already set"], timeout=TIMEOUT
        )
    assert bot.stop() == 0, bot.log
    assert telegram.calls_to("getWebhookInfo")
    assert telegram.calls_to("setWebhook") == []


def test_a_webhook_to_another_url_is_replaced(
    tmp_path: Path, endpoint: FakeOpenAI, telegram: FakeTelegram, migrated_template: Path
) -> None:
    """An old deployment's webhook (another URL) is replaced by this one's."""
    telegram.webhook_set_elsewhere("https://old.example.org/hook", secret="old")
    with webhook_bot(tmp_path, endpoint, telegram, migrated_template) as (_, port):
        pass
    webhook = telegram.webhook
    assert webhook is not None
    assert webhook.url == listener_url(port)
    assert len(telegram.calls_to("setWebhook")) == 1


def test_polling_removes_a_webhook_left_set(
    tmp_path: Path, endpoint: FakeOpenAI, telegram: FakeTelegram, migrated_template: Path
) -> None:
    """Back to polling (TELEGRAM_WEBHOOK_URL unset): the webhook left set is removed, with
    a line saying so, the update queued meanwhile is answered, and the bot polls."""
    telegram.webhook_set_elsewhere("https://bot.example.org/hook", secret=SECRET)
    telegram.user_message(PRIVATE_CHAT, "sent while the webhook was down")
    settings = {"DEFAULT_MODEL": "fake-model"}
    with running(tmp_path, endpoint, telegram, settings, template=migrated_template) as bot:
        telegram.wait_for_sync(
            lambda: (
                replies(telegram, PRIVATE_CHAT) == ["You said: sent while the webhook was down"]
            ),
            timeout=TIMEOUT,
        )
    assert telegram.webhook is None
    assert telegram.calls_to("deleteWebhook")
    assert "removing the webhook to https://bot.example.org/hook to poll instead" in bot.log
