"""Quotas on Discord end to end: a server's admin lowers the operator's rate with /limits
(and cannot raise it), and the message past it gets one line, with nothing sent to the model."""

from __future__ import annotations

import re
from pathlib import Path

from tests.fakes.discord.server import CHANNEL_ID, FakeDiscord
from tests.fakes.openai.server import FakeOpenAI
from tests.platforms.discord.conftest import running
from tests.platforms.discord.helpers import bot_messages, chat_requests, found, slash

BOB_ID = 930_000_000_000_000_002
REFUSAL = re.compile(
    r"This server has reached its limit of 2 messages per minute \(set by this server's "
    r"admins\); try again in \d+ s\.$"
)


def test_an_admins_lower_rate_refuses_the_message_past_it(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    bot_settings: dict[str, str],
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """The operator allows 5 a minute per server; the admin sets 2. Alice and Bob are
    answered, Alice's next message gets the line, and the model heard only two."""
    fake = discord_fake
    fake.add_member(BOB_ID, "bob")
    settings = bot_settings | {"QUOTA_SERVER_MESSAGES_PER_MINUTE": "5"}
    with running(tmp_path, endpoint, fake, settings, encryption_key, template=migrated_template):
        too_high = slash(fake, CHANNEL_ID, "limits", {"server_messages_per_minute": 10})
        lowered = slash(fake, CHANNEL_ID, "limits", {"server_messages_per_minute": 2})
        fake.user_message(CHANNEL_ID, "one", mentions_bot=True)
        found(fake, lambda: len(chat_requests(endpoint)) == 1 or None)
        fake.user_message(CHANNEL_ID, "two", mentions_bot=True, author=BOB_ID)
        found(fake, lambda: len(chat_requests(endpoint)) == 2 or None)
        fake.user_message(CHANNEL_ID, "three", mentions_bot=True)
        line = found(
            fake,
            lambda: next(
                (m["content"] for m in bot_messages(fake, CHANNEL_ID) if "reached" in m["content"]),
                None,
            ),
        )
        shown = slash(fake, CHANNEL_ID, "limits")
    assert too_high.startswith("server_messages_per_minute can be at most 5 here")
    assert "server_messages_per_minute 2" in lowered
    assert REFUSAL.match(line), line
    asked = [str(r.json["messages"][-1]["content"]) for r in chat_requests(endpoint)]
    assert len(asked) == 2
    assert not any("three" in line for line in asked)
    assert "This server's messages per minute: 2 of 2 used, 0 left" in shown
