"""Token budgeting: the reference's worked example, the edges of fitting, and properties."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.domain import ChatMessage, Role
from bot.core.errors import UsageError, user_message
from bot.prompt.budget import (
    REPLY_PRIMING_TOKENS,
    Counted,
    FittedPrompt,
    PromptParts,
    PromptTooLarge,
    estimate_tokens,
    fit,
    message_cost,
)


def c(content: str, tokens: int, role: Role = Role.SYSTEM) -> Counted:
    return Counted(ChatMessage(role, content), tokens)


def u(content: str, tokens: int) -> Counted:
    return c(content, tokens, Role.USER)


EXAMPLE_HEADER = c("[Example Chat]", 8)
CHAT_HEADER = c("[Start a new Chat]", 9)


def parts(
    history: Sequence[Counted],
    *,
    before: Sequence[Counted] = (),
    after: Sequence[Counted] = (),
    blocks: Sequence[Sequence[Counted]] = (),
    chat_header: Counted | None = CHAT_HEADER,
    names: Sequence[str] = (),
) -> PromptParts:
    return PromptParts(
        before=before,
        example_header=EXAMPLE_HEADER,
        example_blocks=blocks,
        chat_header=chat_header,
        history=history,
        after=after,
        fixed_names=names,
    )


def contents(fitted: FittedPrompt) -> list[str]:
    return [message.content for message in fitted.messages]


# The reference's worked example (SillyTavern's trimming): context 4096, response 300.
MAIN, DESC, PERS, SCEN = c("main", 25), c("desc", 120), c("pers", 10), c("scen", 15)
PHI = c("PHI", 12)
BLOCK_A = [c("exA1", 20), c("exA2", 25)]
BLOCK_B = [c("exB1", 1092)]  # 1100 with its header
HISTORY = [
    u("m1", 30),
    u("m2", 40),
    u("m3", 1500),
    u("m4", 1200),
    u("m5", 900),
    u("m6", 400),
]
WORKED = parts(HISTORY, before=[MAIN, DESC, PERS, SCEN], after=[PHI], blocks=[BLOCK_A, BLOCK_B])


def test_worked_example_final_order() -> None:
    """m3 stops the history, block B stops the examples, in the reference's final order."""
    fitted = fit(WORKED, context_size=4096, max_tokens=300)
    assert contents(fitted) == [
        "main",
        "desc",
        "pers",
        "scen",
        "[Example Chat]",
        "exA1",
        "exA2",
        "[Start a new Chat]",
        "m4",
        "m5",
        "m6",
        "PHI",
    ]


def test_worked_example_counts() -> None:
    """Three history messages and one block kept, 1049 tokens of budget left."""
    fitted = fit(WORKED, context_size=4096, max_tokens=300)
    assert (fitted.history_kept, fitted.examples_kept) == (3, 1)
    assert fitted.room_left == 1049
    assert fitted.tokens == 4096 - 300 - REPLY_PRIMING_TOKENS - 1049 == 2744


def test_exact_fit_is_kept() -> None:
    """A message that uses the last token of the budget is kept (`budget - cost >= 0`)."""
    history = [u("old", 47), u("new", 17)]
    fitted = fit(parts(history, before=[c("sys", 20)]), context_size=106, max_tokens=10)
    assert contents(fitted) == ["sys", "[Start a new Chat]", "old", "new"]
    assert fitted.room_left == 0


def test_one_token_over_drops_the_message() -> None:
    """The same message one token larger no longer fits."""
    history = [u("old", 48), u("new", 17)]
    fitted = fit(parts(history, before=[c("sys", 20)]), context_size=106, max_tokens=10)
    assert contents(fitted) == ["sys", "[Start a new Chat]", "new"]
    assert fitted.room_left == 47


def test_mandatory_parts_may_fill_the_budget_exactly() -> None:
    """Fixed parts plus the new message exactly at the budget are accepted."""
    fitted = fit(parts([u("new", 71)], before=[c("sys", 20)]), context_size=106, max_tokens=3)
    assert fitted.room_left == 0
    assert fitted.history_kept == 1


def test_nothing_but_the_new_message_fits() -> None:
    """When no older message or example fits, the prompt is the fixed parts and the message."""
    history = [u("old", 100), u("new", 10)]
    fitted = fit(
        parts(history, before=[MAIN], after=[PHI], blocks=[BLOCK_A]),
        context_size=100,
        max_tokens=40,
    )
    assert contents(fitted) == ["main", "[Start a new Chat]", "new", "PHI"]
    assert (fitted.history_kept, fitted.examples_kept) == (1, 0)


def test_no_examples() -> None:
    """Without example blocks no `[Example Chat]` header appears, and their room stays free."""
    worked_without_examples = parts(HISTORY, before=[MAIN, DESC, PERS, SCEN], after=[PHI])
    fitted = fit(worked_without_examples, context_size=4096, max_tokens=300)
    assert "[Example Chat]" not in contents(fitted)
    assert fitted.examples_kept == 0
    assert fitted.room_left == 1102


def test_huge_old_message_drops_everything_older() -> None:
    """History stops at the first message that does not fit, even if older ones would."""
    history = [u("tiny1", 1), u("tiny2", 1), u("huge", 10_000), u("recent", 5), u("new", 5)]
    fitted = fit(parts(history), context_size=1000, max_tokens=100)
    assert contents(fitted) == ["[Start a new Chat]", "recent", "new"]
    assert fitted.history_kept == 2


def test_only_the_new_message_in_history() -> None:
    """A history of just the new message is kept whole."""
    fitted = fit(parts([u("new", 5)], before=[MAIN]), context_size=1000, max_tokens=100)
    assert contents(fitted) == ["main", "[Start a new Chat]", "new"]
    assert fitted.history_kept == 1


def test_no_chat_header() -> None:
    """Without a chat header the history follows the examples directly, and nothing is reserved."""
    fitted = fit(
        parts([u("new", 5)], blocks=[BLOCK_A], chat_header=None), context_size=64, max_tokens=3
    )
    assert contents(fitted) == ["[Example Chat]", "exA1", "exA2", "new"]
    assert fitted.room_left == 64 - 3 - 3 - 5 - 53


def test_examples_stop_at_the_first_block_that_does_not_fit() -> None:
    """A small block after one that does not fit is not used: blocks keep their order."""
    small = [c("small", 1)]
    fitted = fit(parts([u("new", 1)], blocks=[BLOCK_B, small]), context_size=500, max_tokens=10)
    assert fitted.examples_kept == 0
    assert "small" not in contents(fitted)


def test_each_kept_block_gets_its_own_header() -> None:
    """Every kept block is preceded by the example header."""
    blocks = [[c("a", 1)], [c("b", 1)]]
    fitted = fit(parts([u("new", 1)], blocks=blocks), context_size=500, max_tokens=10)
    assert contents(fitted)[:4] == ["[Example Chat]", "a", "[Example Chat]", "b"]


def test_empty_example_block_adds_no_header() -> None:
    """An empty block costs nothing and shows nothing, but counts among the kept."""
    fitted = fit(parts([u("new", 1)], blocks=[[], BLOCK_A]), context_size=500, max_tokens=10)
    assert contents(fitted)[:3] == ["[Example Chat]", "exA1", "exA2"]
    assert fitted.examples_kept == 2


@pytest.mark.parametrize("max_tokens", [4096, 5000, 4094])
def test_max_tokens_leaving_no_room_is_a_clear_error(max_tokens: int) -> None:
    """A reply reservation that eats the whole context says which settings to change."""
    with pytest.raises(PromptTooLarge, match="max_tokens") as caught:
        fit(parts([u("new", 1)]), context_size=4096, max_tokens=max_tokens)
    assert "context_size" in str(caught.value)
    assert caught.value.room == 4096


def test_fixed_parts_too_large() -> None:
    """Fixed parts over the budget fail, saying what they need and what there is."""
    with pytest.raises(PromptTooLarge) as caught:
        fit(
            parts([u("new", 1)], before=[c("sys", 90)], names=["the system prompt"]),
            context_size=100,
            max_tokens=5,
        )
    error = caught.value
    assert (error.needed, error.room) == (99, 92)
    assert str(error).startswith("The system prompt needs 99 tokens, but only 92 are free")
    assert "Shorten the system prompt, or make room" in str(error)


def test_new_message_too_large() -> None:
    """A new message that does not fit beside the fixed parts fails, naming the message."""
    with pytest.raises(PromptTooLarge) as caught:
        fit(
            parts([u("new", 50)], before=[c("sys", 40)], names=["the system prompt"]),
            context_size=100,
            max_tokens=5,
        )
    error = caught.value
    assert (error.needed, error.room) == (50, 43)
    assert str(error).startswith(
        "The message needs 50 tokens, but only 43 are left beside the system prompt."
    )
    assert "Shorten the message or the system prompt, or make room" in str(error)


NAMES = ["the system prompt", "your persona", "the character"]


@pytest.mark.parametrize(
    ("names", "listed", "either"),
    [
        ([], "", ""),
        (["the character"], "the character", "the character"),
        (["the system prompt", "the character"], "the system prompt and the character",
         "the system prompt or the character"),
        (NAMES, "the system prompt, your persona and the character",
         "the system prompt, your persona or the character"),
    ],
)  # fmt: skip
def test_refusals_name_only_the_parts_there_are(names: list[str], listed: str, either: str) -> None:
    """Each refusal names exactly the parts it was told the prompt has, and no others."""
    fixed = parts([u("new", 1)], before=[c("big", 200)], names=names)
    message = parts([u("new", 500)], before=[c("sys", 10)], names=names)
    for one in (fixed, message):
        with pytest.raises(PromptTooLarge) as caught:
            fit(one, context_size=100, max_tokens=5)
        text = str(caught.value)
        for name in NAMES:
            assert (name in text) == (name in names), (name, text)
        assert text.endswith("or a lower /params max_tokens.")
    with pytest.raises(PromptTooLarge) as caught:
        fit(fixed, context_size=100, max_tokens=5)
    if names:
        assert str(caught.value).startswith(listed[0].upper() + listed[1:])
        assert f"Shorten {either}, or make room" in str(caught.value)
    else:
        assert str(caught.value).startswith("The prompt's own instructions need 209 tokens")
        assert "Make room with /params context_size" in str(caught.value)
    with pytest.raises(PromptTooLarge) as caught:
        fit(message, context_size=100, max_tokens=5)
    beside = f"beside {listed}" if names else "for the prompt"
    assert f"but only 73 are left {beside}." in str(caught.value)


def test_prompt_too_large_reaches_the_user_as_written() -> None:
    """It is a UsageError, so the user sees its own sentences."""
    with pytest.raises(UsageError) as caught:
        fit(parts([u("new", 500)]), context_size=100, max_tokens=5)
    assert user_message(caught.value) == str(caught.value)


def test_empty_history_is_a_programming_error() -> None:
    """There is always a message being answered; its absence is a bug, not a user's mistake."""
    with pytest.raises(ValueError, match="history"):
        fit(parts([]), context_size=100, max_tokens=5)


def test_negative_token_count_is_refused() -> None:
    """A negative cost would make room out of nothing."""
    with pytest.raises(ValueError, match="-1"):
        c("x", -1)


@pytest.mark.parametrize(
    ("role", "content", "name", "expected"), [(1, 10, None, 14), (1, 10, 2, 17), (1, 0, 0, 5)]
)
def test_message_cost(role: int, content: int, name: int | None, expected: int) -> None:
    """Role + content + 3, plus name + 1 when the message has a name."""
    assert message_cost(role, content, name) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 0), ("a", 1), ("abc", 1), ("abcd", 2), ("a" * 67, 20), ("a" * 68, 21), ("😀", 2)],
)
def test_estimate_tokens(text: str, expected: int) -> None:
    """ceil(utf-8 bytes / 3.35), computed exactly (67 bytes are 20 tokens, not 21)."""
    assert estimate_tokens(text) == expected


# Properties. Every generated message has unique content, so a message tells where it came from.

sizes = st.lists(st.integers(0, 300), max_size=5)


@st.composite
def prompt_parts(draw: st.DrawFn) -> PromptParts:
    def labelled(prefix: str, costs: list[int], role: Role = Role.SYSTEM) -> list[Counted]:
        return [c(f"{prefix}{i}", cost, role) for i, cost in enumerate(costs)]

    blocks = [labelled(f"ex{b}.", costs) for b, costs in enumerate(draw(st.lists(sizes)))]
    header = draw(st.one_of(st.none(), st.integers(0, 20)))
    return PromptParts(
        before=labelled("before", draw(sizes)),
        example_header=c("[Example Chat]", draw(st.integers(0, 20))),
        example_blocks=blocks,
        chat_header=None if header is None else c("[Start a new Chat]", header),
        history=labelled("h", draw(st.lists(st.integers(0, 600), min_size=1)), Role.USER),
        after=labelled("after", draw(sizes)),
    )


FIT_LIMITS = {"context_size": st.integers(0, 4000), "max_tokens": st.integers(0, 1000)}


def budget_of(context_size: int, max_tokens: int) -> int:
    return context_size - max_tokens - REPLY_PRIMING_TOKENS


def mandatory(p: PromptParts) -> int:
    header = 0 if p.chat_header is None else p.chat_header.tokens
    return sum(x.tokens for x in [*p.before, *p.after]) + header + p.history[-1].tokens


class Fitting(NamedTuple):
    parts: PromptParts
    fitted: FittedPrompt
    budget: int


@st.composite
def fitting(draw: st.DrawFn) -> Fitting:
    """Parts and limits whose mandatory parts fit: built to fit rather than filtered for it.

    Filtering random limits for the ones that fit rejects most draws, which trips
    Hypothesis's filter_too_much health check on a loaded machine.
    """
    p = draw(prompt_parts())
    max_tokens = draw(FIT_LIMITS["max_tokens"])
    smallest = max(mandatory(p), 1) + max_tokens + REPLY_PRIMING_TOKENS
    context_size = draw(st.integers(smallest, smallest + 4000))
    fitted = fit(p, context_size=context_size, max_tokens=max_tokens)
    return Fitting(p, fitted, budget_of(context_size, max_tokens))


def fitted_or_none(p: PromptParts, context_size: int, max_tokens: int) -> FittedPrompt | None:
    try:
        return fit(p, context_size=context_size, max_tokens=max_tokens)
    except PromptTooLarge:
        return None


def kept_history(p: PromptParts, fitted: FittedPrompt) -> tuple[ChatMessage, ...]:
    end = len(fitted.messages) - len(p.after)
    return fitted.messages[end - fitted.history_kept : end]


def example_tokens(p: PromptParts, fitted: FittedPrompt) -> int:
    kept = p.example_blocks[: fitted.examples_kept]
    return sum(p.example_header.tokens + sum(x.tokens for x in b) for b in kept if b)


@given(p=prompt_parts(), **FIT_LIMITS)
def test_fit_fails_exactly_when_the_mandatory_parts_do_not_fit(
    p: PromptParts, context_size: int, max_tokens: int
) -> None:
    """PromptTooLarge is raised if and only if the mandatory parts exceed a positive budget."""
    budget = budget_of(context_size, max_tokens)
    fails = fitted_or_none(p, context_size, max_tokens) is None
    assert fails == (budget <= 0 or mandatory(p) > budget)


@given(case=fitting())
def test_kept_history_is_a_contiguous_suffix_ending_with_the_new_message(case: Fitting) -> None:
    """The history kept is the newest `history_kept` messages, in order, right before `after`."""
    p, fitted, _ = case
    assert fitted.history_kept >= 1
    newest = tuple(x.message for x in p.history[len(p.history) - fitted.history_kept :])
    assert kept_history(p, fitted) == newest
    assert sum(m.role is Role.USER for m in fitted.messages) == fitted.history_kept


@given(case=fitting())
def test_total_tokens_never_exceed_the_budget(case: Fitting) -> None:
    """What is kept costs `tokens`, which plus `room_left` is the budget, never more."""
    p, fitted, _ = case
    cost = {x.message.content: x.tokens for x in _all(p)}
    assert sum(cost[m.content] for m in fitted.messages) == fitted.tokens
    assert fitted.room_left >= 0
    assert fitted.tokens + fitted.room_left == case.budget


@given(case=fitting())
def test_before_and_after_are_always_present_in_order(case: Fitting) -> None:
    """`before` opens the prompt and `after` closes it, whole and in order."""
    p, fitted, _ = case
    before = tuple(x.message for x in p.before)
    after = tuple(x.message for x in p.after)
    assert fitted.messages[: len(before)] == before
    assert fitted.messages[len(fitted.messages) - len(after) :] == after


@given(case=fitting())
def test_history_stops_only_at_a_message_that_does_not_fit(case: Fitting) -> None:
    """An older message is dropped only if it exceeded the room left when history was filled."""
    p, fitted, _ = case
    if fitted.history_kept < len(p.history):
        first_dropped = p.history[len(p.history) - fitted.history_kept - 1]
        assert first_dropped.tokens > fitted.room_left + example_tokens(p, fitted)


@given(case=fitting())
def test_examples_stop_only_at_a_block_that_does_not_fit(case: Fitting) -> None:
    """Kept example blocks are a prefix, and the first one left out did not fit."""
    p, fitted, _ = case
    if fitted.examples_kept < len(p.example_blocks):
        block = p.example_blocks[fitted.examples_kept]
        assert p.example_header.tokens + sum(x.tokens for x in block) > fitted.room_left
    shown = [m.content for m in fitted.messages if m.content.startswith("ex")]
    expected = [x.message.content for b in p.example_blocks[: fitted.examples_kept] for x in b]
    assert shown == expected


def _all(p: PromptParts) -> list[Counted]:
    header = [] if p.chat_header is None else [p.chat_header]
    blocks = [x for b in p.example_blocks for x in b]
    return [*p.before, p.example_header, *blocks, *header, *p.history, *p.after]
