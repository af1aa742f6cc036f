"""Text shaped like a provider's API key, wherever it turns up in a chat.

A key pasted into a chat message (instead of the private form or link) must never
reach a model, the history, or stay on screen; every platform checks with this.
"""

from __future__ import annotations

import re

_KEY_LIKE = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"(?:sk|pk|rk|gsk|xai|ak)[-_][A-Za-z0-9_\-]{16,}"  # OpenAI, Anthropic, Groq, xAI, …
    r"|AIza[0-9A-Za-z_\-]{30,}"  # Google
    r"|hf_[A-Za-z0-9]{20,}"  # Hugging Face
    r")"
)


def looks_like_key(text: str) -> bool:
    """Whether `text` holds something shaped like a provider's API key, anywhere in it."""
    return _KEY_LIKE.search(text) is not None
