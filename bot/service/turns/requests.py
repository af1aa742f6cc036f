"""The request for a turn: chat messages as they are, or one instruct-formatted prompt.

Knows the prompt and template modules; nothing of HTTP.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bot.core.domain import ApiType, ChannelState, ChatMessage, CompletionRequest, Connection
from bot.core.errors import UsageError
from bot.prompt.assemble import ASSISTANT_NAME
from bot.prompt.instruct import TEMPLATES, render_prompt
from bot.prompt.postprocess import DEFAULT_PLACEHOLDER, PostProcessMode, postprocess

DEFAULT_TEMPLATE = "chatml"


def build_request(
    state: ChannelState,
    connection: Connection,
    model: str,
    messages: Sequence[ChatMessage],
    *,
    user_name: str,
    char_name: str = ASSISTANT_NAME,
) -> CompletionRequest:
    """A chat request, or for a text-completion channel the rendered prompt and its stops.

    The template's stop strings come after the channel's own, duplicates dropped.
    """
    if model in connection.options.text_only_models:  # it refused images before
        messages = [dataclasses.replace(m, parts=()) if m.media else m for m in messages]
    if state.api_type is ApiType.CHAT:
        mode = _mode(state.postprocess_mode)
        shaped = postprocess(
            messages,
            mode,
            placeholder=state.postprocess_placeholder or DEFAULT_PLACEHOLDER,
            user_name=user_name,
            char_name=char_name,
        )
        return CompletionRequest(connection, model, shaped, state.params)
    template = TEMPLATES.get(state.instruct_template or DEFAULT_TEMPLATE)
    if template is None:
        raise UsageError(
            f"This channel's instruct template {state.instruct_template!r} is unknown; "
            f"choose one with /api type:text template:<{'|'.join(TEMPLATES)}>."
        )
    rendered = render_prompt(template, messages, char_name=char_name, user_name=user_name)
    stop = tuple(dict.fromkeys((*state.params.stop, *rendered.stop)))
    params = dataclasses.replace(state.params, stop=stop)
    return CompletionRequest(connection, model, (), params, prompt=rendered.text)


def _mode(name: str) -> PostProcessMode:
    """A stored mode name; one this version does not know means no post-processing."""
    try:
        return PostProcessMode(name)
    except ValueError:
        return PostProcessMode.NONE
