from __future__ import annotations

from bot.core.domain import ChannelKey
from bot.platforms.common.button_presses import PRESSES
from bot.platforms.common.latest import LatestReplies

HERE = ChannelKey("chat", "1")
TOPIC = ChannelKey("chat", "1:7")


def test_buttons_act_on_the_latest_reply_only_and_stop_anywhere() -> None:
    """Regenerate under an older reply is refused; under the latest it acts; Stop always."""
    latest = LatestReplies()
    latest.record(HERE, 10)
    latest.record(HERE, 12)
    assert not latest.acts_on(HERE, 10, PRESSES["regen"])
    assert latest.acts_on(HERE, 12, PRESSES["regen"])
    assert latest.acts_on(HERE, 10, PRESSES["stop"])


def test_before_any_reply_is_known_every_button_acts() -> None:
    """After a restart the bot knows no reply: the service acts on its stored last one."""
    assert LatestReplies().acts_on(HERE, 3, PRESSES["next"])


def test_each_channel_has_its_own_latest_reply() -> None:
    """A reply in a forum topic leaves the buttons in the group's other topics live."""
    latest = LatestReplies()
    latest.record(HERE, 10)
    latest.record(TOPIC, 11)
    assert latest.acts_on(HERE, 10, PRESSES["cont"])
