"""Turns a channel's state and history into the chat messages sent to the endpoint.

This is the seam the character and persona work plugs into; it knows no
endpoint, platform or storage.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.domain import (
    ChannelState,
    ChatMessage,
    MessageStatus,
    NewUserMessage,
    Role,
    StoredMessage,
)


class PromptBuilder(Protocol):
    def build(
        self,
        state: ChannelState,
        history: Sequence[StoredMessage],
        message: NewUserMessage,
    ) -> tuple[ChatMessage, ...]: ...


def is_prompt_history(message: StoredMessage) -> bool:
    """Whether a stored message may be shown to the model again.

    A reply that was stopped, failed or cut off by a crash is kept for the
    people in the chat, but the model must never read it as something it
    finished saying.
    """
    if message.role is Role.ASSISTANT:
        return message.status is MessageStatus.COMPLETE and bool(message.content)
    return message.status is MessageStatus.COMPLETE


class BasicPromptBuilder:
    """System prompt, then the finished history, then the new message."""

    def build(
        self,
        state: ChannelState,
        history: Sequence[StoredMessage],
        message: NewUserMessage,
    ) -> tuple[ChatMessage, ...]:
        messages: list[ChatMessage] = []
        if state.system_prompt:
            messages.append(ChatMessage(Role.SYSTEM, state.system_prompt))
        messages.extend(
            ChatMessage(stored.role, stored.content)
            for stored in history
            if is_prompt_history(stored)
        )
        messages.append(ChatMessage(Role.USER, message.content))
        return tuple(messages)
