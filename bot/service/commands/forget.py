"""/forget: erase what the bot keeps about the caller, or (admins) a channel's history.

Nothing is erased by the command itself: it says what would go and hands out a one-time
confirmation (service/confirmations.py), which the platforms show as a button. Only that
button, pressed by the same person within minutes, erases. Knows the ports only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.core.domain import CommandCall, CommandResult, Confirmation, Permission
from bot.core.errors import BotError, PermissionDenied, UsageError
from bot.core.ports import Erasure, ForgetHook
from bot.service.commands.registry import answers
from bot.service.confirmations import CONFIRM_SECONDS, Confirmations, Outcome, Pending

MARKER = "[removed at the author's request]"
"""What a person's erased message reads as in shared history, so the conversation still
makes sense to the model and to an export."""
LABEL = "Erase"
CHANNEL_RIGHTS = "/forget target:channel needs the right to manage this channel."
SOMEONE_ELSE = "Only the person who ran /forget can confirm it."
EXPIRED = "This confirmation expired; nothing was erased. Run /forget again."
USED = "This confirmation was used already."
UNKNOWN = (
    "I don't know this confirmation (it may be from before I restarted); nothing was "
    "erased. Run /forget again."
)
_REFUSALS = {Outcome.EXPIRED: EXPIRED, Outcome.USED: USED, Outcome.UNKNOWN: UNKNOWN}
UNAVAILABLE = "Erasing is not available in this set-up."


class ForgetHooks:
    """What adapters registered to forget about a person (pending key links)."""

    def __init__(self) -> None:
        self._hooks: list[ForgetHook] = []

    def add(self, hook: ForgetHook) -> None:
        self._hooks.append(hook)

    async def run(self, platform: str, user_id: str) -> int:
        return sum([await hook(platform, user_id) for hook in self._hooks])


class ForgetCommands:
    """/forget target:me and target:channel, each confirmed by a button."""

    def __init__(
        self,
        *,
        erasure: Erasure | None,
        confirmations: Confirmations,
        hooks: ForgetHooks,
    ) -> None:
        """`erasure` None: a set-up without a database part for it, which says so."""
        self._erasure = erasure
        self._confirmations = confirmations
        self._hooks = hooks

    @answers("forget")
    async def _forget(self, call: CommandCall) -> CommandResult:
        erasure = self._erasure
        if erasure is None:
            return CommandResult(UNAVAILABLE)
        code = call.options.get("confirm", "").strip()
        if code:
            return await self._confirmed(erasure, call, code)
        target = call.options.get("target", "").strip().lower() or "me"
        if target == "channel":
            _check_channel_rights(call)
            counts = await erasure.channel_rows(call.channel)
            text = _channel_prompt(counts)
        else:
            counts = await erasure.user_rows(call.channel.platform, call.actor.user_id)
            text = _user_prompt(call.channel.platform, counts)
        minutes = CONFIRM_SECONDS // 60
        code = await self._confirmations.issue(
            user_id=call.actor.user_id, target=target, channel=call.channel
        )
        text += f" It can't be undone. Press {LABEL} within {minutes} minutes to go ahead."
        return CommandResult(text, confirmation=Confirmation(LABEL, "forget", code))

    async def _confirmed(self, erasure: Erasure, call: CommandCall, code: str) -> CommandResult:
        outcome, pending = await self._confirmations.take(
            code, platform=call.channel.platform, user_id=call.actor.user_id
        )
        if outcome is Outcome.SOMEONE_ELSE:
            return CommandResult(SOMEONE_ELSE)
        if pending is None:
            return CommandResult(_REFUSALS[outcome], closes_confirmation=True)
        try:
            text = await self._erase(erasure, call, pending)
        except BotError:
            await self._confirmations.give_back(code, pending)
            raise
        return CommandResult(text, closes_confirmation=True)

    async def _erase(self, erasure: Erasure, call: CommandCall, pending: Pending) -> str:
        if pending.target == "channel":
            _check_channel_rights(call)  # rights may have gone since the prompt
            counts = await erasure.erase_channel(pending.channel)
            return f"Erased this channel's history: {_channel_words(counts)}."
        # The shared state first: the erasure then folds SQLite's log into the file, so
        # no copy of what these deletes removed is left behind.
        await self._confirmations.forget_person(pending.platform, pending.user_id)
        links = await self._hooks.run(pending.platform, pending.user_id)
        counts = await erasure.erase_user(pending.platform, pending.user_id, marker=MARKER)
        parts = _user_words(counts)
        if links:
            parts.append("your pending key link" if links == 1 else f"{links} pending key links")
        return f"Erased {_listed(parts) or 'nothing: I kept nothing about you'}."


def _check_channel_rights(call: CommandCall) -> None:
    if call.actor.permission < Permission.CHANNEL_ADMIN:
        raise PermissionDenied(CHANNEL_RIGHTS)


def _user_prompt(platform: str, counts: Mapping[str, int]) -> str:
    parts = _user_words(counts)
    if counts.get("messages"):
        parts[0] += f' (each replaced by "{MARKER}", so conversations still read)'
    kept = _listed(parts) or "no messages, persona or usage of yours"
    return (
        f"This erases what I keep about you on {platform.title()}, in every chat: {kept}. "
        "Any API key link waiting for you goes too."
    )


def _channel_prompt(counts: Mapping[str, int]) -> str:
    if not counts.get("messages"):
        raise UsageError("This channel has no history to erase.")
    return f"This erases this channel's whole history: {_channel_words(counts)}."


def _channel_words(counts: Mapping[str, int]) -> str:
    chats = counts.get("chats", 0)
    messages = _counted(counts.get("messages", 0), "message")
    return f"{messages} in {_counted(chats, 'chat')}" if chats else messages


_WORDS: Mapping[str, Callable[[int], str]] = {  # in the order they are said
    "messages": lambda n: _counted(n, "message"),
    "private_chats": lambda n: "your private chat with me" if n == 1 else f"{n} private chats",
    "personas": lambda n: "your persona",
    "usage": lambda n: _counted(n, "usage row"),
    "quota_admissions": lambda n: _counted(n, "recent message counted against your limits"),
}
_SAID_WITH = {"private_messages": "private_chats"}
"""Counted, but said as part of another kind."""


def _user_words(counts: Mapping[str, int]) -> list[str]:
    """Each kind of row kept, in words; a table added later reads "N <table> rows"."""
    parts: list[str] = []
    first = [kind for kind in _WORDS if kind in counts]
    for kind in first + [kind for kind in counts if kind not in _WORDS]:
        count = counts[kind]
        if not count or kind in _SAID_WITH:
            continue
        words = _WORDS.get(kind, lambda n, k=kind: _counted(n, k.replace("_", " ") + " row"))
        part = words(count)
        if kind == "private_chats" and counts.get("private_messages"):
            part += f" ({_counted(counts['private_messages'], 'message')})"
        parts.append(part)
    return parts


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count:,} {noun}s"


def _listed(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
