"""Pictures that come with a message: sent to a vision model as image parts, or named in a
note when they cannot be."""

from __future__ import annotations

import base64

from bot.core.domain import Attachment, Incoming, MediaPart, Role, TurnOutcome
from bot.core.files import MAX_IMAGE_BYTES, MAX_IMAGES
from tests.fakes.openai.scripted_client import reply
from tests.fakes.recording_replier import RecordingReplier
from tests.service.conftest import CHANNEL, Harness

PIXEL = b"\x89PNG\r\n\x1a\nnot really a picture"


def picture(name: str = "cat.png", data: bytes = PIXEL, kind: str = "image/png") -> Attachment:
    return Attachment(name, kind, data)


def data_url(attachment: Attachment) -> str:
    return f"data:{attachment.content_type};base64,{base64.b64encode(attachment.data).decode()}"


async def say_with(
    harness: Harness,
    text: str,
    *files: Attachment,
    replier: RecordingReplier | None = None,
) -> TurnOutcome:
    incoming = Incoming(CHANNEL, "ann", "Ann", text, attachments=files)
    return await harness.service.handle(incoming, replier or harness.replier())


async def test_an_image_becomes_an_image_part(harness: Harness) -> None:
    """A picture with a message reaches the model after the words, as a data URL part."""
    harness.client.scripts.append(reply("A cat."))
    image = picture()
    await say_with(harness, "What is this?", image)
    (message,) = harness.client.requests[-1].messages
    assert message.role is Role.USER
    assert message.content == "What is this?"
    assert message.parts == ("What is this?", MediaPart(data_url(image)))


async def test_an_image_alone_is_sent_without_text(harness: Harness) -> None:
    """A picture sent with no words is a message of one image part."""
    harness.client.scripts.append(reply("A cat."))
    image = picture(kind="image/jpeg; charset=binary")
    await say_with(harness, "", image)
    (message,) = harness.client.requests[-1].messages
    assert message.parts == (
        MediaPart(f"data:image/jpeg;base64,{base64.b64encode(PIXEL).decode()}"),
    )


async def test_the_image_stays_with_its_message_in_later_turns(harness: Harness) -> None:
    """The next turn still shows the model the picture the earlier message had."""
    harness.client.scripts += [reply("A cat."), reply("Grey.")]
    image = picture()
    await say_with(harness, "What is this?", image)
    await say_with(harness, "What colour?")
    first = harness.client.requests[-1].messages[0]
    assert first.media == (MediaPart(data_url(image)),)
    assert harness.client.requests[-1].messages[-1].parts == ()


async def test_an_oversized_image_is_named_in_a_note(harness: Harness) -> None:
    """A picture over the size limit is left out, named, and the others still go."""
    harness.client.scripts.append(reply("One cat."))
    big = picture("huge.png", b"x" * (MAX_IMAGE_BYTES + 1))
    small = picture("small.png")
    replier = harness.replier()
    await say_with(harness, "Look", big, small, replier=replier)
    assert harness.client.requests[-1].messages[-1].media == (MediaPart(data_url(small)),)
    assert "huge.png is over 5 MB, so I left it out." in list(replier.messages.values())[-1]


async def test_too_many_images_are_cut_with_a_note(harness: Harness) -> None:
    """Only the first few pictures of a message go; the reply says the rest were left out."""
    harness.client.scripts.append(reply("Cats."))
    images = [picture(f"{n}.png", PIXEL + bytes([n])) for n in range(MAX_IMAGES + 1)]
    replier = harness.replier()
    await say_with(harness, "Look", *images, replier=replier)
    sent = harness.client.requests[-1].messages[-1].media
    assert sent == tuple(MediaPart(data_url(image)) for image in images[:MAX_IMAGES])
    assert f"I look at {MAX_IMAGES} images per message" in list(replier.messages.values())[-1]


async def test_text_completion_channels_get_a_note_instead(harness: Harness) -> None:
    """A text-completion channel reads only the words, and says so."""
    await harness.command("api", type="text", template="chatml")
    harness.client.scripts.append(reply("Words only."))
    replier = harness.replier()
    await say_with(harness, "What is this?", picture(), replier=replier)
    request = harness.client.requests[-1]
    assert request.prompt is not None
    assert "What is this?" in request.prompt
    assert "base64" not in request.prompt
    assert "text completion, which can't take images" in list(replier.messages.values())[-1]
