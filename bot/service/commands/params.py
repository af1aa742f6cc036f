"""Reading /params options into SamplingParams, and showing them back.

Ranges are the widest any common backend accepts, so a typo is caught without
refusing a setting some server honours.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from bot.core.commands import parse_boolean, parse_integer, parse_number
from bot.core.domain import SamplingParams
from bot.core.errors import UsageError

UNSET_WORDS = frozenset({"default", "none", "unset", "off"})
MAX_STOP_STRINGS = 16

_NUMBER_RANGES: Mapping[str, tuple[float, float]] = {
    "temperature": (0.0, 5.0),
    "top_p": (0.0, 1.0),
    "min_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
    "repetition_penalty": (0.0, 5.0),
}
_INTEGER_RANGES: Mapping[str, tuple[int, int]] = {
    "top_k": (0, 100_000),
    "seed": (-(2**63), 2**63 - 1),
    "max_tokens": (1, 1_000_000),
    "context_size": (256, 10_000_000),
}


def apply_params(current: SamplingParams, options: Mapping[str, str]) -> SamplingParams:
    """The channel's parameters after a /params call; UsageError leaves nothing changed.

    `reset:true` starts from nothing; a value of "default" unsets one parameter.
    """
    params = SamplingParams() if parse_boolean("reset", options.get("reset", "no")) else current
    changes: dict[str, object] = {}
    for name, raw in options.items():
        if name == "reset":
            continue
        if raw.strip().lower() in UNSET_WORDS:
            changes[name] = () if name == "stop" else None
        elif name == "stop":
            changes[name] = _stop_strings(raw)
        elif name in _NUMBER_RANGES:
            low, high = _NUMBER_RANGES[name]
            changes[name] = parse_number(name, raw, low=low, high=high)
        else:
            low_i, high_i = _INTEGER_RANGES[name]
            changes[name] = parse_integer(name, raw, low=low_i, high=high_i)
    return dataclasses.replace(params, **changes)  # type: ignore[arg-type]


def _stop_strings(raw: str) -> tuple[str, ...]:
    r"""`|`-separated; `\n` stands for a line break, as people write stop strings."""
    parts = [part.replace("\\n", "\n") for part in raw.split("|")]
    stops = tuple(dict.fromkeys(part for part in parts if part))
    if len(stops) > MAX_STOP_STRINGS:
        raise UsageError(f"At most {MAX_STOP_STRINGS} stop strings, please.")
    return stops


def describe_params(params: SamplingParams) -> str:
    """One line per set parameter; the endpoint's defaults apply to the rest."""
    lines = []
    for field in dataclasses.fields(params):
        value = getattr(params, field.name)
        if value is None or value == ():
            continue
        if isinstance(value, tuple):
            value = " | ".join(repr(stop) for stop in value)
        lines.append(f"{field.name}: {value}")
    return "\n".join(lines) if lines else "none set (the endpoint's defaults apply)"
