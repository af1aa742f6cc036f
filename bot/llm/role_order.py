"""Recognising an endpoint's refusal of the roles or order of the messages, by what it is
about rather than by its exact words: every server and chat template phrases it its own way.

Pure text; what to retry is the service's business.
"""

from __future__ import annotations

import re

from bot.core.errors import EndpointRejected, RoleOrderRejected

# Servers and templates seen refusing (each row is a real phrasing, tested):
#   vLLM, TGI, llama.cpp and TabbyAPI running the Mistral, Llama 2 or Gemma Jinja template
#     "Conversation roles must alternate user/assistant/user/assistant/..." (vllm#6862),
#     "After the optional system message, conversation roles must alternate …",
#     "System role not supported" (Gemma), "No user query found in messages." (Qwen3);
#   llama.cpp itself: "Cannot have 2 or more assistant messages at the end of the list.";
#   Mistral: "Unexpected role 'user' after role 'user'" (type invalid_request_message_order),
#     "Expected last role User or Tool (or Assistant with prefix True) for serving but got
#     assistant";
#   Anthropic (through LiteLLM and other proxies): "messages: first message must use the
#     \"user\" role", "messages: roles must alternate between \"user\" and \"assistant\" …";
#   Gemini's OpenAI layer (and OpenRouter relaying it): "Please ensure that multiturn
#     requests alternate between user and model.";
#   DeepSeek: "deepseek-reasoner does not support successive user or assistant messages …";
#   Perplexity: "After the (optional) system message(s), user and assistant roles should be
#     alternating."
# Each is about a role (a role name, or the word "role") and about order or presence
# (alternation, first, last, after, successive, missing). Both must be there, close together,
# in a sentence about messages; a role named near words about something else (a token
# count, a rate limit, a content filter) is not enough.
_ROLE = r"\b(?:roles?|user|assistant|system|tool|human)\b"
_ORDER = (
    r"\b(?:alternat\w*|interleav\w*|successive|consecutive|in a row|first|last|"
    r"begin\w*|start\w*|ends?\b|ending|after|before|preced\w*|preceed\w*|order\w*|"
    r"sequence|unexpected|follow(?:ed|s|ing)? (?:by|an?|the)\b|"
    r"(?:no|missing|without|at least one)\b(?: \w+)?(?= (?:user|assistant) ))"
)
_NEAR_CHARS = 60
_ROLE_NEAR_ORDER = re.compile(
    rf"{_ROLE}.{{0,{_NEAR_CHARS}}}{_ORDER}|{_ORDER}.{{0,{_NEAR_CHARS}}}{_ROLE}", re.DOTALL
)
# "System role not supported", "only user and assistant roles are supported".
_ROLE_REFUSED = re.compile(
    r"\broles? (?:is |are )?(?:not supported|unsupported|not allowed)|"
    r"\bonly\b[\w\s,/'\"]{0,40}\broles\b"
)
_ABOUT_MESSAGES = re.compile(
    r"\b(?:messages?|roles?|turns?|multiturn|conversation|requests?|query|history|list)\b"
)
_ORDER_CODES = ("invalid_request_message_order",)
# Statuses that mean something else whatever the words (a key, money, a path, a rate limit).
_OTHER_STATUSES = frozenset({401, 402, 403, 404, 405, 408, 413, 429})


def is_role_order_refusal(status: int, message: str, code: str = "") -> bool:
    """Whether a refusal is about the roles or the order of the messages (see above)."""
    if status < 400 or status in _OTHER_STATUSES or status > 500:
        return False
    if code in _ORDER_CODES:
        return True
    text = " ".join(message.lower().split())
    if not _ABOUT_MESSAGES.search(text):
        return False
    return bool(_ROLE_NEAR_ORDER.search(text) or _ROLE_REFUSED.search(text))


def refusal(status: int, message: str, code: str = "") -> EndpointRejected | None:
    """The refusal as a `RoleOrderRejected`, which the service retries stricter; else None."""
    if not is_role_order_refusal(status, message, code):
        return None
    return RoleOrderRejected(
        "the endpoint refused the roles or order of the messages",
        status_code=status,
        provider_message=message or f"HTTP {status}",
        hint="the endpoint wants strictly alternating user/assistant messages, the user's "
        "first: /postprocess mode:strict sends them so, and /reset starts a new conversation",
    )
