"""A CompletionClient that plays a script: deltas, then an optional error, with test-held gates.

A real implementation of our port for service tests, where the exact order of
tokens, stops and failures must be under the test's control.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field

from bot.core.domain import Completion, CompletionRequest, Connection, Delta


@dataclass
class Script:
    """One reply: `deltas` in order; `hold_after` pauses there until `release` is set."""

    deltas: Sequence[Delta]
    error: Exception | None = None
    hold_after: int | None = None
    release: asyncio.Event = field(default_factory=asyncio.Event)
    reached_hold: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)


def reply(*tokens: str, finish: str = "stop") -> Script:
    deltas = [Delta(content=token) for token in tokens]
    return Script(deltas=[*deltas, Delta(finish_reason=finish)])


class ScriptedClient:
    def __init__(self, scripts: Sequence[Script] = (), *, models: Sequence[str] = ()) -> None:
        self.scripts = list(scripts)
        self.requests: list[CompletionRequest] = []
        self.models_list = list(models)
        self.models_asked: list[Connection] = []
        # Per base URL: the ids /models answers with, or the error it raises.
        self.models_at: dict[str, list[str] | Exception] = {}
        self.completion: Completion | Exception = Completion(Delta(content="Hello!"), "fake")

    async def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]:
        self.requests.append(request)
        script = self.scripts.pop(0)
        try:
            for index, delta in enumerate(script.deltas):
                if script.hold_after == index:
                    script.reached_hold.set()
                    await script.release.wait()
                yield delta
            if script.hold_after == len(script.deltas):
                script.reached_hold.set()
                await script.release.wait()
            if script.error is not None:
                raise script.error
        finally:
            script.closed.set()

    async def models(self, connection: Connection) -> list[str]:
        self.models_asked.append(connection)
        answer = self.models_at.get(connection.base_url, self.models_list)
        if isinstance(answer, Exception):
            raise answer
        return list(answer)

    async def complete(self, request: CompletionRequest) -> Completion:
        self.requests.append(request)
        if isinstance(self.completion, Exception):
            raise self.completion
        return self.completion
