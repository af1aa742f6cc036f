"""A secret form shown by one bot process is answered in another on the same database (a
restart between showing a form and its answer): the command it was opened for runs there,
once, and the key is never written anywhere but encrypted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.platforms.discord.slash import FORM_GONE
from tests.fakes.discord.server import CHANNEL_ID, FakeDiscord
from tests.fakes.openai.server import FakeOpenAI
from tests.platforms.discord.conftest import running
from tests.platforms.discord.helpers import ADMIN_PERMISSIONS, answer_to, found, slash

pytestmark = pytest.mark.slow

SETTINGS = {"DEFAULT_MODEL": "fake-model", "ALLOW_PRIVATE_ENDPOINTS": "true"}


def test_a_form_shown_by_one_process_is_answered_in_another_once(
    tmp_path: Path,
    endpoint: FakeOpenAI,
    discord_fake: FakeDiscord,
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """The first bot shows /connect's key form and stops; the second takes the answer,
    connects the channel with the key, and refuses the same form sent again."""
    fake = discord_fake
    key = "k-" + "5" * 30
    endpoint.required_api_key = key
    bots = (tmp_path, endpoint, fake, SETTINGS, encryption_key)
    with running(*bots, template=migrated_template):
        opened = fake.slash_command(
            CHANNEL_ID,
            "connect",
            {"base_url": endpoint.base_url, "api_key": True},
            member_permissions=ADMIN_PERMISSIONS,
        )
        form = found(fake, lambda: fake.modal_of(opened["id"]))
    with running(*bots, template=migrated_template) as other:
        sent = fake.submit_modal(
            CHANNEL_ID, form["custom_id"], {"api_key": key}, member_permissions=ADMIN_PERMISSIONS
        )
        answer = answer_to(fake, sent)
        again = fake.submit_modal(
            CHANNEL_ID, form["custom_id"], {"api_key": key}, member_permissions=ADMIN_PERMISSIONS
        )
        assert "Connected" in answer or endpoint.base_url in answer, answer
        assert key not in answer
        assert answer_to(fake, again) == FORM_GONE
        assert "5555" in slash(fake, CHANNEL_ID, "settings", {})  # the masked key's tail
    assert key not in other.log
