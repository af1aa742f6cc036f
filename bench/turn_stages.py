"""CPU of a turn's steps, measured from outside the bot: every coroutine method of the stores
and of the turn's parts is wrapped to add the event loop thread's CPU (`time.thread_time()`)
spent while it ran, and to count its calls.

Turns run one after another, so while a step is awaited the loop runs (almost) only that
turn's work: the CPU between a step's start and end is the step's, inclusive of what it
calls. Unlike a sampling profiler this has no sampling noise and no cost per Python call,
sees through SQLAlchemy's greenlets, and gives exact calls per turn; a listener counts the SQL
statements sent (the round trips). Used by `python bench/turn_cpu.py --stages`.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot.llm.tokenize import EndpointTokenizer
from bot.service.turns.prompting import PromptFactory
from bot.service.turns.runner import TurnRunner
from bot.service.turns.streamed_reply import StreamedReply
from bot.service.turns.tokens import TokenBook
from bot.storage.characters import SqlCharacters
from bot.storage.keeping import SqliteKeeping
from bot.storage.personas import SqlPersonas
from bot.storage.profiles import SqlProfiles
from bot.storage.quotas import SqlQuotas
from bot.storage.shared_state import SqlSharedState
from bot.storage.store import SqlStore
from bot.storage.usage import SqlUsage

WATCHED: tuple[type, ...] = (
    TurnRunner, PromptFactory, TokenBook, EndpointTokenizer, StreamedReply,
    SqlStore, SqlCharacters, SqlPersonas, SqlProfiles, SqlQuotas, SqlUsage, SqlSharedState,
    SqliteKeeping,
)  # fmt: skip


class Stages:
    """CPU seconds and calls per `Class.method`, while `watch()` is in force."""

    def __init__(self) -> None:
        self.cpu: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.statements: Counter[str] = Counter()
        self._undo: list[tuple[type, str, Any]] = []

    def _statement(self, *args: Any) -> None:
        """Every SQL statement any engine sends, by its first word (BEGIN counted by kind)."""
        words = args[2].split()
        self.statements[" ".join(words[:2]) if words[0] == "BEGIN" else words[0]] += 1

    def watch(self) -> None:
        event.listen(Engine, "before_cursor_execute", self._statement)
        for cls in WATCHED:
            for name, attr in list(vars(cls).items()):
                if name.startswith("__") or not inspect.iscoroutinefunction(attr):
                    continue
                self._undo.append((cls, name, attr))
                setattr(cls, name, self._timed(f"{cls.__name__}.{name}", attr))

    def unwatch(self) -> None:
        event.remove(Engine, "before_cursor_execute", self._statement)
        for cls, name, attr in reversed(self._undo):
            setattr(cls, name, attr)
        self._undo.clear()

    def clear(self) -> None:
        self.cpu.clear()
        self.calls.clear()
        self.statements.clear()

    def _timed(
        self, key: str, method: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(method)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return await method(*args, **kwargs)
            finally:
                self.cpu[key] += time.thread_time() - started
                self.calls[key] += 1

        return timed

    def table(self, turns: int, turn_cpu: float, top: int = 25) -> str:
        """The steps by CPU per turn (inclusive: a step's callees count in it too)."""
        lines = [
            f"A turn's CPU on the event loop's thread: {turn_cpu / turns * 1e3:.2f} ms "
            "(inclusive: nested steps count in their callers too).",
            "",
            "| step | ms CPU per turn | share of the turn | calls per turn |",
            "|---|---:|---:|---:|",
        ]
        for key, spent in self.cpu.most_common(top):
            lines.append(
                f"| {key} | {spent / turns * 1e3:.2f} | {spent / turn_cpu:.0%} "
                f"| {self.calls[key] / turns:.1f} |"
            )
        sql = ", ".join(f"{n / turns:.1f} {kind}" for kind, n in self.statements.most_common())
        total = sum(self.statements.values()) / turns
        lines += ["", f"SQL statements per turn: {total:.1f} ({sql})."]
        return "\n".join(lines)
