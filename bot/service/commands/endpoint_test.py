"""Handler of /test: one short message sent the way this channel sends them, and what came back.

It takes the same retries as a chat turn (service/turns/retries.py) and remembers what they
learn, so that /test and chat never disagree; a failure is explained with its likely cause.
Knows the ports only.
"""

from __future__ import annotations

import dataclasses

from bot.core.domain import (
    ApiType,
    ChannelKey,
    ChannelState,
    ChatMessage,
    CommandCall,
    CommandResult,
    Completion,
    CompletionRequest,
    Connection,
    Role,
)
from bot.core.errors import EndpointError, EndpointNotAllowed, EndpointRejected, user_message
from bot.core.ports import Clock, CompletionClient, Store
from bot.service.commands.registry import answers
from bot.service.turns.endpoint_choice import EndpointChoice
from bot.service.turns.models import ModelCatalog, unlisted_note
from bot.service.turns.requests import build_request
from bot.service.turns.retries import Retries

TEST_MESSAGE = "Hi"
TEST_MAX_TOKENS = 32
TEST_PREVIEW_CHARS = 120
TEXT_ONLY = (
    "❌ The test failed: this server has no chat completions at this address, but it answers "
    "text completion (/completions). /api type:text switches this channel to it."
)


class EndpointTest:
    """/test: one real message to the endpoint, and what its answer or refusal means."""

    def __init__(
        self,
        *,
        store: Store,
        client: CompletionClient,
        endpoints: EndpointChoice,
        catalog: ModelCatalog,
        clock: Clock,
    ) -> None:
        self._store = store
        self._client = client
        self._endpoints = endpoints
        self._catalog = catalog
        self._clock = clock

    @answers("test")
    async def _test(self, call: CommandCall) -> CommandResult:
        """One short message the way this channel sends them (chat or text completion)."""
        state = await self._store.load_channel(call.channel)
        started = self._clock.now()
        model = ""
        try:
            connection, model = await self._endpoints.resolve(state)
            request = _test_request(state, connection, model, user=call.actor.display_name)
            started = self._clock.now()
            completion, learned = await self._complete(call.channel, request)
        except (EndpointError, EndpointNotAllowed) as exc:
            return CommandResult(
                await self._failed(exc, state, model, user=call.actor.display_name)
            )
        seconds = self._clock.now() - started
        words = completion.reply.content.strip() or "(no text)"
        if len(words) > TEST_PREVIEW_CHARS:
            words = words[:TEST_PREVIEW_CHARS] + "…"
        answered = completion.model or model
        lines = [f"✅ The endpoint answered in {seconds:.2f} s.", f"Model: {answered}"]
        lines.append(f"Reply: {words}")
        if learned:
            lines.append(learned)
        return CommandResult("\n".join(lines))

    async def _complete(
        self, channel: ChannelKey, request: CompletionRequest
    ) -> tuple[Completion, str]:
        """The answer, through the same retries as a turn's; and what was learned, in words."""

        async def remember(connection: Connection) -> None:
            await self._endpoints.learned(channel, connection)

        retries = Retries(on_options_learned=remember)
        sent = request
        while True:
            try:
                completion = await self._client.complete(sent)
                break
            except EndpointRejected as exc:
                sent = await retries.after(sent, exc)
        field = sent.connection.options.max_tokens_field
        if field != request.connection.options.max_tokens_field:
            return completion, f"(It wants {field} for the reply length; chat uses that now.)"
        return completion, ""

    async def _failed(
        self, exc: EndpointError | EndpointNotAllowed, state: ChannelState, model: str, *, user: str
    ) -> str:
        """The failure and what it most likely means: a text-only server, an unlisted model."""
        failed = f"❌ The test failed. {user_message(exc)}"
        if not model or not isinstance(exc, EndpointRejected):
            return failed
        chat_missing = exc.status_code == 404 and state.api_type is ApiType.CHAT
        if chat_missing and await self._answers_text(state, model, user=user):
            return TEXT_ONLY
        return failed + await self._close_matches(exc, state, model)

    async def _answers_text(self, state: ChannelState, model: str, *, user: str) -> bool:
        """Whether the endpoint that has no chat completions answers the test as text."""
        connection = self._endpoints.connection_for(state)
        if connection is None:
            return False
        as_text = dataclasses.replace(state, api_type=ApiType.TEXT, instruct_template=None)
        try:
            await self._client.complete(_test_request(as_text, connection, model, user=user))
        except (EndpointError, EndpointNotAllowed):
            return False
        return True

    async def _close_matches(self, exc: EndpointRejected, state: ChannelState, model: str) -> str:
        """For a refused model (404, or a 400 that names the model): ids that look like it."""
        named = exc.status_code == 400 and "model" in f"{exc} {exc.provider_message}".lower()
        if exc.status_code != 404 and not named:
            return ""
        connection = self._endpoints.connection_for(state)
        try:
            models = await self._catalog.models(connection) if connection else []
        except (EndpointError, EndpointNotAllowed):
            return ""
        if not models or model in models:
            return ""
        return f" {unlisted_note(model, models, used=False)}"


def _test_request(
    state: ChannelState, connection: Connection, model: str, *, user: str
) -> CompletionRequest:
    """The test message, with a reply length capped small, shaped as the channel's turns are."""
    params = dataclasses.replace(
        state.params, max_tokens=min(state.params.max_tokens or TEST_MAX_TOKENS, TEST_MAX_TOKENS)
    )
    return build_request(
        dataclasses.replace(state, params=params),
        connection,
        model,
        (ChatMessage(Role.USER, TEST_MESSAGE),),
        user_name=user,
    )
