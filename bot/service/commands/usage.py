"""/usage: what a person, or (for its admins) a server, has spent in tokens, and at what cost.

Days and months are UTC, and the answer says so: a server's people live in many zones, and
a month must end at the same instant for all of them. Knows the UsageLedger port only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from bot.core.domain import (
    CommandCall,
    CommandResult,
    ModelPrice,
    Permission,
    UsageGroup,
    UsageTotals,
)
from bot.core.errors import PermissionDenied, UsageError
from bot.core.ports import UsageLedger
from bot.core.untrusted import safe_to_show
from bot.core.windows import Windows
from bot.service.commands.registry import answers

MAX_ANSWER_CHARS = 2000
"""Discord's message limit, the smallest of our platforms': the answer always fits it."""
TOP_ROWS = 10
"""The most people and models a server's answer lists; fewer when they would not fit."""
MAX_MODEL_CHARS = 48
"""Model names are typed by chat admins and may be long; longer ones are cut."""
NOT_A_SERVER = (
    "This chat belongs to no server, so there is no server usage here; /usage alone shows your own."
)


class UsageCommands:
    """/usage: the caller's totals today and this month; scope:server, the server's month."""

    def __init__(
        self,
        *,
        usage: UsageLedger,
        wall_clock: Callable[[], datetime],
        prices: Mapping[str, ModelPrice],
    ) -> None:
        """`prices` are the operator's MODEL_PRICES, by model id (matched ignoring case)."""
        self._ledger = usage
        self._wall_clock = wall_clock
        self._prices = {model.lower(): price for model, price in prices.items()}

    @answers("usage")
    async def _answer(self, call: CommandCall) -> CommandResult:
        windows = Windows.around(self._wall_clock())
        if call.options.get("scope", "").strip().lower() == "server":
            return CommandResult(await self._server(call, windows))
        return CommandResult(await self._mine(call, windows))

    async def _mine(self, call: CommandCall, windows: Windows) -> str:
        """The caller's own turns on this platform, wherever they were (servers and DMs)."""
        platform, user = call.channel.platform, call.actor.user_id
        month = await self._ledger.totals(
            platform, since=windows.month_start, until=windows.month_end, user_id=user
        )
        today = await self._ledger.totals(
            platform, since=windows.day_start, until=windows.day_end, user_id=user
        )
        bounds = (
            f"days and months in UTC: today began {windows.day_start:%Y-%m-%d %H:%M}, "
            f"this month {windows.month_start:%Y-%m-%d %H:%M}"
        )
        if not month:
            return f"You have used no tokens this month ({bounds})."
        by_model = _grouped(month, key=lambda group: group.model)

        def answer(top: int) -> list[str]:
            lines = [
                f"Your usage ({bounds}):",
                f"• Today: {self._summary(today)}",
                f"• This month: {self._summary(month)}",
            ]
            if len(by_model) > 1:
                lines += self._ranking("This month by model", by_model, top, name=_model_name)
            return lines + _blank_line_before(_estimated_note(_sum(month), "this month's"))

        return _fitted(answer)

    async def _server(self, call: CommandCall, windows: Windows) -> str:
        if call.server is None:
            raise UsageError(NOT_A_SERVER)
        if call.actor.permission < Permission.SERVER_ADMIN:
            raise PermissionDenied(
                "/usage scope:server needs the right to manage the server or group."
            )
        groups = await self._ledger.totals(
            call.channel.platform,
            since=windows.month_start,
            until=windows.month_end,
            server=call.server,
        )
        head = f"This server's usage this month (since {windows.month_start:%Y-%m-%d %H:%M} UTC)"
        if not groups:
            return f"{head}: no turns yet."
        by_user = _grouped(groups, key=lambda group: group.user_id)
        by_model = _grouped(groups, key=lambda group: group.model)
        return _fitted(
            lambda top: [
                f"{head}: {self._summary(groups)}",
                *self._ranking("Top users", by_user, top, name=lambda user: user),
                *self._ranking("Top models", by_model, top, name=_model_name),
                *_blank_line_before(_estimated_note(_sum(groups), "these")),
            ]
        )

    def _ranking(
        self,
        title: str,
        ranked: list[tuple[str, list[UsageGroup]]],
        top: int,
        *,
        name: Callable[[str], str],
    ) -> list[str]:
        # Bullets, not "1." lists: the platforms render Markdown, which renumbers those.
        lines = ["", f"{title}:"]
        for key, groups in ranked[:top]:
            lines.append(f"• {name(key)} — {self._summary(groups, short=True)}")
        if len(ranked) > top:
            lines.append(f"…and {len(ranked) - top} more")
        return lines

    def _summary(self, groups: Iterable[UsageGroup], *, short: bool = False) -> str:
        """`3 turns, 1,200 prompt + 450 completion tokens ≈ $0.0012`; the cost only when the
        operator priced a model among them."""
        groups = list(groups)
        totals = _sum(groups)
        turns = f"{totals.turns:,} turn{'' if totals.turns == 1 else 's'}"
        if short:
            tokens = f"{totals.prompt_tokens:,} + {totals.completion_tokens:,} tokens"
        else:
            tokens = (
                f"{totals.prompt_tokens:,} prompt + {totals.completion_tokens:,} completion tokens"
            )
        return f"{turns}, {tokens}{self._cost(groups)}"

    def _cost(self, groups: list[UsageGroup]) -> str:
        priced = [(self._prices.get(g.model.lower()), g.totals) for g in groups]
        known = [price.cost(totals) for price, totals in priced if price is not None]
        if not known:
            return ""
        unpriced = any(price is None for price, _ in priced)
        return f" ≈ {_dollars(sum(known))}" + (" (+ unpriced models)" if unpriced else "")


def _fitted(answer: Callable[[int], list[str]]) -> str:
    """The answer with the longest rankings that fit one message: TOP_ROWS, else fewer."""
    for top in range(TOP_ROWS, 0, -1):
        text = "\n".join(answer(top))
        if len(text) <= MAX_ANSWER_CHARS:
            return text
    return text[: MAX_ANSWER_CHARS - 1] + "…"


def _grouped(
    groups: list[UsageGroup], *, key: Callable[[UsageGroup], str]
) -> list[tuple[str, list[UsageGroup]]]:
    """The groups gathered under `key`, the most tokens first (ties: by name)."""
    gathered: dict[str, list[UsageGroup]] = defaultdict(list)
    for group in groups:
        gathered[key(group)].append(group)

    def spent(item: tuple[str, list[UsageGroup]]) -> tuple[int, str]:
        totals = _sum(item[1])
        return -(totals.prompt_tokens + totals.completion_tokens), item[0]

    return sorted(gathered.items(), key=spent)


def _sum(groups: Iterable[UsageGroup]) -> UsageTotals:
    return sum((group.totals for group in groups), UsageTotals())


def _estimated_note(totals: UsageTotals, whose: str) -> list[str]:
    if not totals.estimated_turns:
        return []
    return [
        f"Estimated in part: the endpoint reported no usage for {totals.estimated_turns:,} of "
        f"{whose} {totals.turns:,} turns, so we counted those ourselves."
    ]


def _blank_line_before(lines: list[str]) -> list[str]:
    return ["", *lines] if lines else []


def _model_name(model: str) -> str:
    """As inline code, so that Markdown in a typed name (`_`, `*`) is shown, not applied."""
    shown = safe_to_show(model).replace("`", "'")
    shown = shown if len(shown) <= MAX_MODEL_CHARS else shown[: MAX_MODEL_CHARS - 1] + "…"
    return f"`{shown}`"


def _dollars(amount: float) -> str:
    """Cents for a sum worth them; tiny sums keep four places, so they don't read as $0.00."""
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.4f}"
