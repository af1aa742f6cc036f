"""Reshaping a turn's prompt one post-processing step stricter when an endpoint refuses
its message order, and remembering the mode that worked for the channel.
"""

from __future__ import annotations

import dataclasses
import logging

from bot.core.domain import (
    ApiType,
    ChannelChanges,
    ChannelState,
    ChatMessage,
    CompletionRequest,
)
from bot.core.errors import RoleOrderRejected
from bot.core.ports import Store
from bot.prompt.postprocess import PostProcessMode
from bot.prompt.postprocess import stricter as stricter_mode
from bot.service.turns.requests import build_request

_log = logging.getLogger(__name__)


class PostprocessFallback:
    """Re-shapes a turn's messages one post-processing step stricter when the endpoint
    refuses their order, and keeps the mode that worked for the channel.
    """

    def __init__(
        self,
        store: Store,
        state: ChannelState,
        messages: tuple[ChatMessage, ...],
        *,
        user: str,
        char: str,
    ) -> None:
        self._store = store
        self._state = state
        self._messages = messages
        self._user = user
        self._char = char
        self.switched_to: str | None = None

    async def stricter(
        self, request: CompletionRequest, refusal: RoleOrderRejected
    ) -> CompletionRequest | None:
        """The request one mode stricter, the mode stored for the channel; None for a
        text-completion channel. When no stricter mode is left, the refusal is raised again
        saying that the strictest mode was refused too, and what is left to try.
        """
        if self._state.api_type is not ApiType.CHAT:
            return None
        current = self.switched_to or self._state.postprocess_mode
        following = stricter_mode(current)
        if following is None:
            raise exhausted(refusal, current)
        self.switched_to = following.value
        state = dataclasses.replace(self._state, postprocess_mode=following.value)
        await self._store.update_channel(
            state.key, ChannelChanges(postprocess_mode=following.value)
        )
        _log.info("channel=%s post-processing now %s", state.key, following.value)
        return build_request(
            state,
            request.connection,
            request.model,
            self._messages,
            user_name=self._user,
            char_name=self._char,
        )


def exhausted(refusal: RoleOrderRejected, mode: str) -> RoleOrderRejected:
    """The refusal of the strictest mode this channel can be moved to, in words that say so."""
    if mode == PostProcessMode.SINGLE:
        hint = "check the chat template the server uses; /reset starts a new conversation"
    else:
        hint = (
            "/postprocess mode:single sends the conversation as one user message, which "
            "any endpoint takes; /reset starts a new conversation"
        )
    return RoleOrderRejected(
        "the endpoint refused the roles or order of the messages even with "
        f"/postprocess mode:{mode}",
        status_code=refusal.status_code,
        provider_message=refusal.provider_message,
        hint=hint,
    )
