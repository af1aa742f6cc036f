"""/limits: what quotas apply to the caller here and what is left; a server's admins set
their server's own limits, never above the operator's.

The rules are bot/service/quotas.py's; this family words them and checks what admins type.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from bot.core.commands import parse_boolean, parse_integer
from bot.core.domain import CommandCall, CommandResult, Permission
from bot.core.errors import PermissionDenied, UsageError
from bot.core.ports import QuotaBook, Store
from bot.core.quotas import Limit, Limits
from bot.core.windows import reset_words
from bot.service.commands.registry import answers
from bot.service.quotas import Quotas, Standing, place_word
from bot.service.turns.endpoint_choice import EndpointChoice

MAX_LIMIT = 2_000_000_000
"""The largest limit the database column holds."""

_WORDS = {
    Limit.USER_MESSAGES_PER_MINUTE: "messages per minute",
    Limit.SERVER_MESSAGES_PER_MINUTE: "messages per minute",
    Limit.USER_TOKENS_PER_DAY: "tokens today",
    Limit.USER_TOKENS_PER_MONTH: "tokens this month",
    Limit.SERVER_TOKENS_PER_DAY: "tokens today",
    Limit.SERVER_TOKENS_PER_MONTH: "tokens this month",
}


class LimitsCommands:
    """/limits alone: the caller's standing here; with values: the server's own limits."""

    def __init__(
        self,
        *,
        quotas: Quotas | None,
        book: QuotaBook | None,
        store: Store,
        endpoints: EndpointChoice,
        wall_clock: Callable[[], datetime],
    ) -> None:
        """`quotas` and `book` are None where nothing is counted: no limits apply then."""
        self._quotas = quotas
        self._book = book
        self._store = store
        self._endpoints = endpoints
        self._wall_clock = wall_clock

    @answers("limits")
    async def _answer(self, call: CommandCall) -> CommandResult:
        changes = _changes(call)
        reset = parse_boolean("reset", call.options["reset"]) if _given(call, "reset") else False
        if changes or reset:
            return CommandResult(await self._set(call, changes, reset=reset))
        return CommandResult(await self._show(call))

    async def _show(self, call: CommandCall) -> str:
        if self._quotas is None:
            return "No limits apply here."
        state = await self._store.load_channel(call.channel)
        connection = self._endpoints.connection_for(state)
        operator_endpoint = connection is None or connection.trusted
        standings = await self._quotas.standings(
            call.channel.platform,
            call.actor.user_id,
            call.server,
            operator_endpoint=operator_endpoint,
        )
        place = place_word(call.channel.platform)
        lines = [self._line(standing, place) for standing in standings]
        if not operator_endpoint:
            lines.append(
                "This channel talks to its own endpoint, so only the per-minute limits apply here."
            )
        if not standings:
            return "\n".join(["No limits apply to you here.", *lines[:1]])
        return "\n".join(["Your limits here (days and months in UTC):", *lines])

    def _line(self, standing: Standing, place: str) -> str:
        rule = standing.rule
        if not rule.limit.per_user:
            whose = f"This {place}'s"
        elif rule.in_server:
            whose = f"Yours in this {place}"
        else:
            whose = "Your"
        words = _WORDS[rule.limit]
        text = (
            f"• {whose} {words}: {standing.used:,} of {rule.allowed:,} used, {standing.left:,} left"
        )
        if rule.by_admins:
            text += f" (set by this {place}'s admins)"
        if rule.limit.counts_tokens:
            now = self._wall_clock().astimezone(UTC)
            wait = (standing.resets_at - now).total_seconds()
            monthly = rule.limit.period == "month"
            text += (
                f"; resets {reset_words(standing.resets_at, monthly=monthly, wait_seconds=wait)}"
            )
        return text

    async def _set(
        self, call: CommandCall, changes: dict[Limit, int | None], *, reset: bool
    ) -> str:
        place = place_word(call.channel.platform)
        if call.server is None:
            raise UsageError(
                f"Limits are set in a {place}, by its admins; here only the operator's apply. "
                "/limits alone shows them."
            )
        if call.actor.permission < Permission.SERVER_ADMIN:
            raise PermissionDenied(f"Setting /limits needs the right to manage the {place}.")
        if self._quotas is None or self._book is None:
            raise UsageError("This bot keeps no limits, so there are none to set.")
        for limit, value in changes.items():
            cap = self._quotas.defaults.get(limit)
            if value is not None and cap is not None and value > cap:
                raise UsageError(
                    f"{limit.value} can be at most {cap:,} here: that is the operator's limit. "
                    f"A {place}'s own limits can only be lower."
                )
        platform = call.channel.platform
        if reset:
            await self._book.clear_overrides(platform, call.server)
        own = (
            await self._book.set_overrides(platform, call.server, changes) if changes else Limits()
        )
        return _summary(own, place, reset=reset)


def _given(call: CommandCall, name: str) -> bool:
    return bool(call.options.get(name, "").strip())


def _changes(call: CommandCall) -> dict[Limit, int | None]:
    """The limits the call names; 0 clears one (the operator's applies again)."""
    changes: dict[Limit, int | None] = {}
    for limit in Limit:
        if _given(call, limit.value):
            value = parse_integer(limit.value, call.options[limit.value], low=0, high=MAX_LIMIT)
            changes[limit] = value or None
    return changes


def _summary(own: Limits, place: str, *, reset: bool) -> str:
    set_ = [f"{limit.value} {own.get(limit):,}" for limit in Limit if own.get(limit) is not None]
    start = f"This {place}'s own limits are cleared. " if reset else ""
    if not set_:
        return f"{start}The operator's limits apply here; /limits shows them.".strip()
    return (
        f"{start}This {place}'s own limits: {', '.join(set_)}; the operator's apply besides. "
        "/limits shows what is left."
    )
