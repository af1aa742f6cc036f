"""The one table from a command's name to the code that runs it, checked against the catalogue.

To add a command, write its `CommandSpec` in bot/core/commands.py and its handler in the
family module of this folder it belongs to, marked `@answers("name")` (it returns a
`CommandResult`) or, for a spec with `streams=True`, `@writes("name")` (it streams a reply
into the chat). A new family is listed once, in bot/service/conversations.py. A name the
catalogue lacks fails at import; a command without a handler fails the agreement test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from bot.core.commands import CATALOGUE, find_command
from bot.core.domain import CommandCall, CommandResult, TurnOutcome
from bot.core.ports import Replier
from bot.service.turns.queue import RunningTurn

Answer = Callable[[CommandCall], Awaitable[CommandResult]]
"""A command answered once: text, a picker, a file."""
Writer = Callable[[CommandCall, Replier, RunningTurn], Awaitable[TurnOutcome]]
"""A command that streams a reply into the chat, run holding the channel's turn."""

_AnswerMethod = TypeVar("_AnswerMethod", bound=Callable[..., Awaitable[CommandResult]])
_WriterMethod = TypeVar("_WriterMethod", bound=Callable[..., Awaitable[TurnOutcome]])
_MARK = "__handles_command__"


def answers(name: str) -> Callable[[_AnswerMethod], _AnswerMethod]:
    """Mark a family's method as the handler of the catalogue's command `name`."""
    _spec_named(name, streams=False)
    return lambda method: _marked(method, name)


def writes(name: str) -> Callable[[_WriterMethod], _WriterMethod]:
    """Mark a family's method as the streamed handler of the catalogue's command `name`."""
    _spec_named(name, streams=True)
    return lambda method: _marked(method, name)


def _spec_named(name: str, *, streams: bool) -> None:
    spec = find_command(name)
    if spec is None or spec.name != name:
        raise LookupError(f"the command catalogue has no /{name}")
    if spec.streams != streams:
        how = "@writes" if spec.streams else "@answers"
        raise TypeError(f"/{name} {'streams' if spec.streams else 'answers once'}: use {how}")


_Method = TypeVar("_Method")


def _marked(method: _Method, name: str) -> _Method:
    setattr(method, _MARK, name)
    return method


@dataclass(frozen=True, slots=True)
class Registry:
    """Every command's handler, bound to its family, each name once."""

    answerers: Mapping[str, Answer]
    writers: Mapping[str, Writer]

    @classmethod
    def of(cls, families: Iterable[object]) -> Registry:
        """The marked methods of `families`; ValueError when two claim one command."""
        answerers: dict[str, Answer] = {}
        writers: dict[str, Writer] = {}
        for family in families:
            for attribute, name in _marks(type(family)):
                if name in answerers or name in writers:
                    raise ValueError(f"/{name} has two handlers")
                spec = find_command(name)
                if spec is not None and spec.streams:
                    writers[name] = getattr(family, attribute)
                else:
                    answerers[name] = getattr(family, attribute)
        return cls(answerers, writers)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.answerers) | frozenset(self.writers)

    def missing(self) -> list[str]:
        """Catalogue commands nobody handles: empty in a well-wired service."""
        return [spec.name for spec in CATALOGUE if spec.name not in self.names]

    def check_complete(self) -> None:
        """LookupError naming the catalogue's commands nobody handles: a spec shipped
        without its handler stops the bot at start, rather than answering users wrongly."""
        if missing := self.missing():
            raise LookupError("no handler for " + ", ".join(f"/{name}" for name in missing))


def _marks(family: type) -> list[tuple[str, str]]:
    """(attribute, command name) for each marked method of the class and its bases."""
    found: dict[str, str] = {}
    for klass in reversed(family.__mro__):
        for attribute, value in vars(klass).items():
            name = getattr(value, _MARK, None)
            if isinstance(name, str):
                found[attribute] = name
    return list(found.items())
