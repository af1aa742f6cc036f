"""Reads commands typed as text: `/name option:value option:"quoted value"`.

The console and Telegram share it (Telegram has no typed options). A value runs
until the next option of that command, so a prompt may contain colons ("Note: be
kind") without being cut. Knows nothing of terminals or chat apps.
"""

from __future__ import annotations

import re
import shlex

from bot.core.commands import CommandSpec, find_command

_GENERIC_OPTION = re.compile(r"(?:^|\s)([a-z_][a-z0-9_]*):")


def is_command(line: str) -> bool:
    return line.startswith("/") and len(line) > 1 and not line.startswith("//")


def parse_command(line: str) -> tuple[str, dict[str, str]]:
    """Split a command line into its name and options.

    Text before the first option goes to the command's first option, so
    `/model gpt-4o` means `/model name:gpt-4o`. The name may end the line, as in
    "/system" followed by a prompt on the next lines, and may carry the bot's
    username, as Telegram writes commands in groups (`/model@parlor_bot`).
    """
    head, rest = _split_head(line[1:])
    name = head.partition("@")[0].strip().lower()
    spec = find_command(name)
    names = [o.name for o in spec.options] if spec else []
    pattern = (
        re.compile(r"(?:^|\s)(" + "|".join(map(re.escape, names)) + r"):")
        if names
        else _GENERIC_OPTION
    )
    options: dict[str, str] = {}
    matches = list(pattern.finditer(rest))
    leading = rest[: matches[0].start()] if matches else rest
    if leading.strip() and spec is not None:
        options.update(_leading_values(spec, leading))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(rest)
        options[match.group(1)] = _unquote(rest[match.end() : end])
    return name, options


def _leading_values(spec: CommandSpec, leading: str) -> dict[str, str]:
    """Text before any `option:` fills the first option; when that option is a choice
    (`/character use Alice`), a choice word fills it and the rest the second option."""
    if not spec.options:
        return {}
    first, second = spec.options[0], spec.options[1] if len(spec.options) > 1 else None
    word, _, remainder = leading.strip().partition(" ")
    if second and first.choices and word.lower() in first.choices and remainder.strip():
        return {first.name: word, second.name: _unquote(remainder)}
    return {first.name: _unquote(leading)}


def _split_head(text: str) -> tuple[str, str]:
    parts = text.split(maxsplit=1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def _unquote(value: str) -> str:
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            parts = shlex.split(text)
        except ValueError:
            return text[1:-1]
        if len(parts) == 1:
            return parts[0]
    return text
