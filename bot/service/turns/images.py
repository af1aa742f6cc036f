"""Images that come with a message, turned into what a vision model reads: data URLs.

Only what a model can take goes through; every image left out is named in a note, so a
user never wonders whether the bot saw their picture. Other files are `attachments`'.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.domain import ApiType, Attachment
from bot.core.files import MAX_IMAGE_BYTES, MAX_IMAGES, is_image


@dataclass(frozen=True, slots=True)
class Pictures:
    urls: tuple[str, ...] = ()
    note: str = ""


class PictureTaker:
    """Turns a message's images into data URLs a vision model reads, naming what it leaves out."""

    def take(
        self, attachments: Sequence[Attachment], *, api_type: ApiType, sees_images: bool = True
    ) -> Pictures:
        """The attachments a vision model can read, and a note on the ones it cannot.

        `sees_images` is False once the model has refused images: they are still kept with
        the message (a vision model chosen later will see them), but the user is told.
        """
        images = [a for a in attachments if is_image(a.content_type)]
        notes = []
        if images and api_type is ApiType.TEXT:
            notes.append(
                "This channel uses text completion, which can't take images; "
                "I read only your words."
            )
            images = []
        if images and not sees_images:
            notes.append("This model can't see images, so I read only your words.")
        large = [a.filename for a in images if len(a.data) > MAX_IMAGE_BYTES]
        if large:
            limit = MAX_IMAGE_BYTES // (1024 * 1024)
            notes.append(f"{', '.join(large)} is over {limit} MB, so I left it out.")
        fitting = [a for a in images if len(a.data) <= MAX_IMAGE_BYTES]
        if len(fitting) > MAX_IMAGES:
            notes.append(f"I look at {MAX_IMAGES} images per message; the rest were left out.")
        urls = tuple(_data_url(a) for a in fitting[:MAX_IMAGES])
        return Pictures(urls, " ".join(f"*({note})*" for note in notes))


def _data_url(attachment: Attachment) -> str:
    kind = attachment.content_type.split(";")[0].strip().lower()
    return f"data:{kind};base64,{base64.b64encode(attachment.data).decode('ascii')}"
