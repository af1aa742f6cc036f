"""Macro substitution: the macros and order of docs/prompt.md §2, no re-scanning of values,
seeded chance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.prompt.macros import MacroContext, substitute

# A Sunday, early morning, two hours east of UTC.
NOW = datetime(2026, 11, 22, 5, 7, tzinfo=timezone(timedelta(hours=2)))
CTX = MacroContext(char="Alice", user="Bob", now=NOW, model="llama-3")
GROUP = MacroContext(char="Alice", user="Bob", now=NOW, group=("Bob", "Carol"))


def sub(text: str, ctx: MacroContext = CTX, *, original: str | None = None) -> str:
    return substitute(text, ctx, original=original)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{char}} meets {{user}}.", "Alice meets Bob."),
        ("{{CHAR}} meets {{User}}.", "Alice meets Bob."),
        ("<USER> and <BOT>", "Bob and Alice"),
        ("<user> and <char>", "Bob and Alice"),
        ("{{model}}", "llama-3"),
        ("{{charIfNotGroup}} / {{group}}", "Alice / Alice"),
        ("<CHARIFNOTGROUP> / <GROUP>", "Alice / Alice"),
    ],
)
def test_names_are_replaced_case_insensitively(text: str, expected: str) -> None:
    """Names, in `{{}}` and legacy `<>` form, in any case."""
    assert sub(text) == expected


def test_group_is_the_member_list_in_a_group() -> None:
    """In a multi-user channel `{{group}}` and `{{charIfNotGroup}}` list the members."""
    assert sub("{{group}}|{{charIfNotGroup}}|<GROUP>", GROUP) == "Bob, Carol|Bob, Carol|Bob, Carol"


def test_newline_and_noop() -> None:
    """`{{newline}}` is a line break and `{{noop}}` is nothing."""
    assert sub("a{{newline}}b{{NoOp}}c") == "a\nbc"


def test_trim_removes_itself_and_the_newlines_around_it() -> None:
    """`{{trim}}` eats every newline on both sides, and only newlines."""
    assert sub("a \n\n{{trim}}\n\n b") == "a  b"


def test_trim_sees_newlines_made_by_newline() -> None:
    """`{{newline}}` runs first, so a following `{{trim}}` removes its line break."""
    assert sub("a{{newline}}{{trim}}b") == "ab"


def test_carriage_returns_are_stripped() -> None:
    """CRLF card text comes out with LF only, and `{{trim}}` still sees the newline."""
    assert sub("a\r\nb\r\n{{trim}}\r\nc") == "a\nbc"


def test_original_fills_only_the_first_occurrence() -> None:
    """The first `{{original}}` gets the original prompt, later ones nothing."""
    assert sub("{{original}} + {{ORIGINAL}}", original="Be nice.") == "Be nice. + "


def test_original_without_an_original_is_empty() -> None:
    """With no original prompt every `{{original}}` disappears."""
    assert sub("[{{original}}][{{original}}]") == "[][]"


def test_original_is_inserted_as_given() -> None:
    """The original text is not re-scanned: callers substitute it before passing it."""
    assert sub("{{original}}", original="{{char}}") == "{{char}}"


def test_date_and_time_macros_read_the_injected_clock() -> None:
    """Date and time come from ctx.now, in its own time zone, in the reference's formats."""
    text = "{{date}}|{{time}}|{{weekday}}|{{isodate}}|{{isotime}}"
    assert sub(text) == "November 22, 2026|5:07 AM|Sunday|2026-11-22|05:07"


@pytest.mark.parametrize(
    ("hour", "expected"), [(0, "12:07 AM"), (12, "12:07 PM"), (13, "1:07 PM"), (23, "11:07 PM")]
)
def test_time_uses_a_twelve_hour_clock(hour: int, expected: str) -> None:
    """Midnight is 12 AM and noon 12 PM, as moment's `LT` prints them."""
    ctx = MacroContext(char="A", user="B", now=NOW.replace(hour=hour))
    assert sub("{{time}}", ctx) == expected


def test_naive_clock_is_refused() -> None:
    """A naive datetime would print the host's time as the user's, so it is rejected."""
    with pytest.raises(ValueError, match="timezone-aware"):
        MacroContext(char="A", user="B", now=datetime(2026, 1, 1))


def test_comments_disappear() -> None:
    """`{{// …}}` and `{{comment:…}}` are removed, across lines and around other macros."""
    assert sub("a{{// note to self\nabout {{user}} }}b{{Comment: hidden}}c") == "abc"


def test_unknown_macros_are_left_as_written() -> None:
    """A macro we do not know stays visible, so the author can see it was not understood."""
    text = "{{persona}} {{random}} {{roll:abc}} {{unknown:x}} <NOBODY>"
    assert sub(text) == text


@pytest.mark.parametrize("name", ["{{char}}", "<BOT>", "{{random:x,y}}", "{{// gone}}"])
def test_a_substituted_name_is_never_rescanned(name: str) -> None:
    """A user named like a macro keeps that name: values are not scanned again."""
    ctx = MacroContext(char="Alice", user=name, now=NOW, model="{{user}}")
    assert sub("{{user}}/<USER>/{{model}}", ctx) == f"{name}/{name}/{{{{user}}}}"


def test_private_use_characters_survive() -> None:
    """The characters we use to hide values internally pass through untouched, in text or names."""
    odd = "\ue0000\ue001\ue000"
    ctx = MacroContext(char=odd, user="Bob", now=NOW)
    assert sub(f"{odd}{{{{char}}}}{{{{user}}}}", ctx) == f"{odd}{odd}Bob"


def test_random_chooses_among_the_options() -> None:
    """`{{random:a,b,c}}` yields one of its trimmed options."""
    assert sub("{{random: red , green,blue}}") in {"red", "green", "blue"}


def test_random_is_deterministic_per_seed() -> None:
    """The same seed draws the same options; tests and replays rely on it."""
    text = " ".join(["{{random:a,b,c,d,e,f,g,h}}"] * 8)
    assert sub(text) == sub(text)
    others = {sub(text, MacroContext(char="A", user="B", now=NOW, seed=s)) for s in range(5)}
    assert len(others) > 1


def test_random_double_colon_form_keeps_commas() -> None:
    """`{{random::a, b::c}}` splits on `::` only, keeping commas and spaces."""
    assert sub("{{random::a, b::a, b}}") == "a, b"


def test_random_escaped_comma_is_literal() -> None:
    """`\\,` inside a comma list is a comma within one option."""
    assert sub(r"{{random:1\,5,1\,5}}") == "1,5"


def test_random_options_may_hold_macros() -> None:
    """Macros inside the options are the author's text, so they are expanded."""
    assert sub("{{random:{{user}},{{user}}}}") == "Bob"


def test_pick_is_stable_for_a_seed_and_independent_of_other_text() -> None:
    """A pick keeps its choice when the text around it changes, as long as the seed holds."""
    picks = "{{pick:a,b,c,d,e,f,g,h,i,j}}" * 3
    alone = sub(picks)
    assert sub(f"Some intro by {{{{char}}}}. {picks}").endswith(alone)
    assert any(
        sub(picks, MacroContext(char="A", user="B", now=NOW, seed=s)) != alone for s in range(5)
    )


def test_repeated_picks_choose_independently() -> None:
    """Two identical picks in one text are different draws, not one copied."""
    text = "{{pick:" + ",".join(map(str, range(50))) + "}}"
    assert len(set(sub(f"{text} {text} {text} {text}").split())) > 1


@pytest.mark.parametrize("formula", ["20", "d20", " 20", "1d20"])
def test_roll_one_die(formula: str) -> None:
    """`{{roll:N}}` and `{{roll:dN}}` roll one N-sided die."""
    results = {
        int(sub(f"{{{{roll:{formula}}}}}", MacroContext(char="A", user="B", now=NOW, seed=s)))
        for s in range(60)
    }
    assert results <= set(range(1, 21))
    assert len(results) > 5


def test_roll_several_dice_with_a_modifier() -> None:
    """`{{roll:3d1+4}}` is three ones plus four."""
    assert sub("{{roll:3d1+4}} {{ROLL 2d1-5}}") == "7 -3"


@pytest.mark.parametrize("formula", ["0d6", "101d6", "d0", "1" * 5000, "2d6*2"])
def test_unrollable_formula_stays_as_written(formula: str) -> None:
    """Zero dice, too many dice, zero sides or junk are left for the author to see."""
    text = f"{{{{roll:{formula}}}}}"
    assert sub(text) == text


def test_a_name_spelled_like_a_later_macro_stays() -> None:
    """A character named `{{date}}` is not dated: the clock pass never sees the name."""
    ctx = MacroContext(char="{{date}}", user="B", now=NOW.astimezone(UTC))
    assert sub("{{char}} {{date}}", ctx) == "{{date}} November 22, 2026"


@given(st.text(alphabet=st.characters(exclude_characters="{<")), st.text())
def test_text_without_macros_is_unchanged_but_for_carriage_returns(text: str, name: str) -> None:
    """Text that opens no macro comes back as it was, minus `\\r`, private-use characters too."""
    ctx = MacroContext(char=name, user=name, now=NOW)
    assert substitute(text, ctx) == text.replace("\r", "")


@given(st.text())
def test_any_name_comes_back_verbatim(name: str) -> None:
    """Whatever a persona is called, `{{user}}` yields exactly that name (minus `\\r`)."""
    ctx = MacroContext(char="Alice", user=name, now=NOW)
    assert substitute("[{{user}}]", ctx) == f"[{name}]".replace("\r", "")
