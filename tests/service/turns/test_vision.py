"""Images meet a model that cannot see: the words still get an answer, and it is remembered."""

from __future__ import annotations

import pytest

from bot.core.domain import Attachment, Incoming, MessageStatus
from bot.core.errors import ImagesRejected
from bot.llm.quirks import ProviderSaid
from bot.llm.refusals import status_error
from tests.fakes.openai.scripted_client import Script, reply
from tests.service.conftest import CHANNEL, Harness

PNG = Attachment("cat.png", "image/png", b"\x89PNG\r\n\x1a\nnot really a picture")


def refusal() -> ImagesRejected:
    return ImagesRejected(
        "the model can't read images",
        status_code=500,
        provider_message="image input is not supported - hint: provide the mmproj",
    )


async def say_with_picture(harness: Harness, text: str) -> tuple[MessageStatus, list[str]]:
    replier = harness.replier()
    incoming = Incoming(CHANNEL, "ann", "Ann", text, attachments=(PNG,))
    outcome = await harness.service.handle(incoming, replier)
    return outcome.status, replier.texts


async def test_a_refused_image_is_dropped_and_the_words_answered(harness: Harness) -> None:
    """The first request carries the image; after the refusal the same words go alone."""
    harness.client.scripts += [Script(deltas=[], error=refusal()), reply("A fine cat.")]
    status, texts = await say_with_picture(harness, "look at my cat")
    first, second = harness.client.requests
    assert [m.media for m in first.messages][-1][0].url.startswith("data:image/png;base64,")
    assert not any(m.media for m in second.messages)
    assert second.messages[-1].content == "look at my cat"
    assert status is MessageStatus.COMPLETE
    assert "A fine cat." in texts[-1]
    assert "can't see images" in texts[-1]


async def test_a_model_that_refused_images_is_not_sent_them_again(harness: Harness) -> None:
    """Once refused, later turns (and the stored picture in history) go without images."""
    harness.client.scripts += [Script(deltas=[], error=refusal()), reply("ok"), reply("again")]
    await say_with_picture(harness, "first picture")
    status, texts = await say_with_picture(harness, "second picture")
    assert len(harness.client.requests) == 3
    assert not any(m.media for m in harness.client.requests[-1].messages)
    assert status is MessageStatus.COMPLETE
    assert "can't see images" in texts[-1]


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (500, "image input is not supported - hint: if this is unexpected, you may need to "
         "provide the mmproj"),
        (400, "Invalid content type. image_url is only supported by certain models."),
        (400, "Qwen/Qwen2-7B is not a multimodal model"),
        (400, "Model does not support images"),
    ],
)  # fmt: skip
def test_servers_refusing_images_are_recognised(status: int, said: str) -> None:
    error = status_error(status, ProviderSaid(said))
    assert isinstance(error, ImagesRejected)
    assert "vision model" in error.hint
