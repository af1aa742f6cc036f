"""Text files that come with a message, read into its words (name and content, fenced).

What a file may be is `bot.core.files`' rule; this asks it again before anything is sent,
so no platform can slip a binary file to the endpoint. Images are `images`' business.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.core.domain import Attachment
from bot.core.errors import UsageError
from bot.core.files import MAX_TEXT_CHARS, is_image, refusal, shown_name, text_of, too_many_chars

_BACKTICKS = re.compile(r"`+")


def with_text_files(text: str, files: Sequence[Attachment]) -> str:
    """The message's words followed by each text file, its name above its content in a code
    fence. Raises UsageError (the refusal line) for a file that is neither text nor image,
    or when the files together are over `MAX_TEXT_CHARS`."""
    blocks: list[str] = []
    total = 0
    for file in files:
        if is_image(file.content_type):
            continue
        problem = refusal(file)
        if problem:
            raise UsageError(problem)
        content = text_of(file.data) or ""
        total += len(content)
        if total > MAX_TEXT_CHARS:
            raise UsageError(too_many_chars("Those files have", total))
        blocks.append(_fenced(shown_name(file.filename), content))
    return "\n\n".join(part for part in (text, *blocks) if part)


def _fenced(name: str, content: str) -> str:
    """A fence longer than any run of backticks inside, so the file cannot close it."""
    longest = max((len(run) for run in _BACKTICKS.findall(content)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{name}\n{fence}\n{content.rstrip(chr(10))}\n{fence}"
