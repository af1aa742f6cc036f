"""What to send instead when an endpoint refuses a request before answering it.

Shared by chat turns and /test, so both retry the same refusals and remember the same
lessons: the other max-tokens field, a model that takes no images, a stricter
post-processing mode. Knows the ports only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from bot.core.domain import CompletionRequest, Connection, EndpointOptions
from bot.core.errors import (
    EndpointRejected,
    ImagesRejected,
    MaxTokensFieldRejected,
    RoleOrderRejected,
)

OptionsLearned = Callable[[Connection], Awaitable[None]]
Stricter = Callable[[CompletionRequest, RoleOrderRejected], Awaitable[CompletionRequest | None]]
"""The same request post-processed one step stricter, or None when there is no such step; it
may raise a refusal restated for the user instead (the strictest mode was refused too)."""

IMAGES_REFUSED_NOTE = (
    "*(this model can't see images, so I answered from the words alone; /model can pick a "
    "vision model)*"
)


class Retries:
    """The retries of one request; `notice` is what the user should be told afterwards."""

    def __init__(
        self, *, on_options_learned: OptionsLearned, stricter: Stricter | None = None
    ) -> None:
        self._learned = on_options_learned
        self._stricter = stricter
        self._swapped_field = False
        self.notice = ""

    async def after(
        self, request: CompletionRequest, refusal: EndpointRejected
    ) -> CompletionRequest:
        """The request to send instead of the refused one; raises `refusal` when none is left.

        A refused max-tokens field is swapped once, and the field handed to
        `on_options_learned` to be remembered for the connection; a model that refused
        images is remembered as text-only and the images left out; a refused message order
        is retried with stricter post-processing for as long as `stricter` offers one.
        """
        if isinstance(refusal, MaxTokensFieldRejected) and not self._swapped_field:
            self._swapped_field = True
            options = request.connection.options
            return await self._learn(
                request, dataclasses.replace(options, max_tokens_field=refusal.use_field)
            )
        if isinstance(refusal, ImagesRejected) and _has_media(request):
            options = request.connection.options
            text_only = (*options.text_only_models, request.model)
            learned = await self._learn(
                request, dataclasses.replace(options, text_only_models=text_only)
            )
            self.notice = IMAGES_REFUSED_NOTE
            return without_media(learned)
        if isinstance(refusal, RoleOrderRejected) and self._stricter is not None:
            stricter = await self._stricter(request, refusal)
            if stricter is not None:
                return stricter
        raise refusal

    async def _learn(
        self, request: CompletionRequest, options: EndpointOptions
    ) -> CompletionRequest:
        connection = dataclasses.replace(request.connection, options=options)
        await self._learned(connection)
        return dataclasses.replace(request, connection=connection)


def _has_media(request: CompletionRequest) -> bool:
    return any(message.media for message in request.messages)


def without_media(request: CompletionRequest) -> CompletionRequest:
    """The request with every image taken out of its messages, the words kept."""
    messages = tuple(
        dataclasses.replace(message, parts=()) if message.media else message
        for message in request.messages
    )
    return dataclasses.replace(request, messages=messages)
