"""Token counts for prompt building, cached so a long chat costs no more than a short one.

Fixed texts (prompts, card fields, the new message) are remembered in memory; stored
messages keep their counts in the database, tagged with the tokenizer that made them.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

from bot.core.domain import ChatMessage, Connection, MessageId, StoredMessage, TokenCounts
from bot.core.ports import Store, TokenCounter
from bot.prompt.budget import estimate_tokens, message_cost

ROLE_TOKENS = 1
IMAGE_TOKENS = 765
"""What one image costs in OpenAI's accounting for a 1024x1024 picture at high detail; we do
not decode images to measure them, so every image is charged this much."""

_Key = tuple[str, str, bytes]


class EstimatingCounter:
    """A `TokenCounter` that never asks anyone: `ceil(bytes / 3.35)` per text."""

    async def count(self, connection: Connection, model: str, texts: Sequence[str]) -> TokenCounts:
        return TokenCounts("estimate", tuple(estimate_tokens(text) for text in texts))


class TokenBook:
    """Counts through the endpoint's tokenizer (or the estimate) and remembers the answers."""

    def __init__(self, counter: TokenCounter, store: Store, *, cache_size: int = 4096) -> None:
        self._counter = counter
        self._store = store
        self._cache: OrderedDict[_Key, tuple[str, int]] = OrderedDict()
        self._cache_size = cache_size
        self._tokenizers: dict[tuple[str, str], str] = {}

    async def costs(
        self, connection: Connection, model: str, messages: Sequence[ChatMessage]
    ) -> list[int]:
        """What each message costs in the prompt, its text counted once per process."""
        texts = [message.content for message in messages]
        keys = [(connection.base_url, model, _digest(text)) for text in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if missing:
            wanted = [texts[keys.index(k)] for k in missing]
            counted = await self._counter.count(connection, model, wanted)
            self._tokenizers[(connection.base_url, model)] = counted.tokenizer
            for key, count in zip(missing, counted.counts, strict=True):
                self._remember(key, counted.tokenizer, count)
        for key in keys:
            self._cache.move_to_end(key)
        return [
            _cost(message, self._cache[key][1]) for message, key in zip(messages, keys, strict=True)
        ]

    async def stored_costs(
        self,
        connection: Connection,
        model: str,
        stored: Sequence[StoredMessage],
        sent: Sequence[ChatMessage],
        *,
        fresh: dict[MessageId, int],
    ) -> list[int]:
        """Costs of history messages; counts cached in the store by this tokenizer are reused,
        the others counted now and written back. `fresh` carries the counts made earlier in
        the same prompt build (the messages in hand still show them missing).

        A text this process counted already (the message a turn answered, counted by
        `costs` before it was stored) is not counted again: its count is written back.
        Call `costs` first in a new process: until one count names the tokenizer, no
        stored count can be trusted, and the whole history would be counted again.
        """
        tokenizer = self._tokenizers.get((connection.base_url, model))
        stale = [
            m
            for m in stored
            if m.id not in fresh and (m.token_count is None or m.token_counter != tokenizer)
        ]
        if tokenizer is not None:
            known = self._remembered(connection, model, stale, tokenizer)
            if known:
                await self._store.save_token_counts(tokenizer, known)
                fresh.update(known)
                stale = [m for m in stale if m.id not in known]
        if stale:
            counted = await self._counter.count(connection, model, [m.content for m in stale])
            self._tokenizers[(connection.base_url, model)] = counted.tokenizer
            new = {m.id: n for m, n in zip(stale, counted.counts, strict=True)}
            await self._store.save_token_counts(counted.tokenizer, new)
            fresh.update(new)
        costs = []
        for original, message in zip(stored, sent, strict=True):
            content_tokens = fresh.get(original.id, original.token_count or 0)
            prefix = len(message.content) - len(original.content)  # a speaker's "Name: "
            if prefix > 0:
                content_tokens += estimate_tokens(message.content[:prefix])
            costs.append(_cost(message, content_tokens))
        return costs

    def _remembered(
        self, connection: Connection, model: str, stored: Sequence[StoredMessage], tokenizer: str
    ) -> dict[MessageId, int]:
        """The counts this process already holds for these messages' texts, by `tokenizer`."""
        known = {}
        for message in stored:
            key = (connection.base_url, model, _digest(message.content))
            remembered = self._cache.get(key)
            if remembered is not None and remembered[0] == tokenizer:
                known[message.id] = remembered[1]
        return known

    def _remember(self, key: _Key, tokenizer: str, count: int) -> None:
        self._cache[key] = (tokenizer, count)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _cost(message: ChatMessage, content_tokens: int) -> int:
    name_tokens = None if message.name is None else estimate_tokens(message.name)
    cost = message_cost(ROLE_TOKENS, content_tokens, name_tokens)
    return cost + IMAGE_TOKENS * len(message.media)


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
