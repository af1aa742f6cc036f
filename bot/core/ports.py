"""The seams between the core and the world: platforms, the model endpoint, storage, time.

The core depends only on these Protocols; adapters implement them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from bot.characters.card import CharacterCard
from bot.characters.stored import StoredCharacter
from bot.core.domain import (
    ChannelChanges,
    ChannelKey,
    ChannelState,
    ChatId,
    CommandCall,
    CommandResult,
    Completion,
    CompletionRequest,
    Connection,
    Delta,
    EndpointOptions,
    Incoming,
    MessageId,
    MessageRef,
    MessageStatus,
    NewUserMessage,
    Persona,
    PlatformLimits,
    ProfileSummary,
    Secret,
    StoredMessage,
    TokenCounts,
    TurnIds,
    TurnOutcome,
    TurnReport,
    UsageEntry,
    UsageGroup,
)
from bot.core.errors import StorageError
from bot.core.kept_chats import ChatListing, ChatSummary, KeptMessage
from bot.core.quotas import (
    Admission,
    Limit,
    Limits,
    QuotaTurn,
    RateCheck,
    RateRefusal,
    Scope,
    Spent,
)
from bot.core.server_access import NO_RULES, RuleKind, ServerRules


class Replier(Protocol):
    """Sends and edits the bot's messages in one channel.

    `send` and `edit` raise `DeliveryError`, with `retry_after` set when the
    platform asked for a pause.
    """

    @property
    def limits(self) -> PlatformLimits: ...

    async def send(self, text: str) -> MessageRef: ...

    async def edit(self, ref: MessageRef, text: str) -> None: ...

    async def delete(self, ref: MessageRef) -> None: ...

    def typing(self) -> AbstractAsyncContextManager[None]: ...


class CompletionClient(Protocol):
    """Transports a finished request to an OpenAI-compatible endpoint.

    `stream` raises the `EndpointError` family; cancelling its consumer closes the
    HTTP stream at once.
    """

    def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]: ...

    async def complete(self, request: CompletionRequest) -> Completion:
        """One non-streamed reply (the connection test); same errors as `stream`."""
        ...

    async def models(self, connection: Connection) -> list[str]: ...


class TokenCounter(Protocol):
    """Counts tokens the way the endpoint's model will, or as close as it can.

    Never raises for an endpoint that cannot count: it falls back to an estimate
    and says so in `TokenCounts.tokenizer`.
    """

    async def count(
        self, connection: Connection, model: str, texts: Sequence[str]
    ) -> TokenCounts: ...


class Fetcher(Protocol):
    """Downloads a file a user pointed at (a character card by URL).

    Follows the endpoint guard's rules; raises `UsageError` (or `EndpointNotAllowed`)
    with a message that says what went wrong, and never reads more than `max_bytes`.
    """

    async def fetch(self, url: str, *, max_bytes: int) -> bytes: ...


class EndpointGuard(Protocol):
    """Judges a chat-set endpoint's host as the connection-time guard will, without
    connecting: for an endpoint stored without a probe (/connect bypass_check:true)."""

    async def check(self, host: str, port: int) -> None:
        """Raise EndpointNotAllowed when the guard refuses the host; else return."""
        ...


class Clock(Protocol):
    """Monotonic time, injected so that pacing can be tested without sleeping."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SharedBudget(Protocol):
    """A platform's bot-wide write budget, shared by every process of the bot (REDIS_URL).

    It never waits itself: it answers how long to wait, and the caller sleeps on its Clock.
    A budget that cannot reach what it shares paces this process alone meanwhile, and
    never raises: replies go on.
    """

    async def claim(self, now: float) -> float:
        """0.0 when one write was taken from the budget; else the seconds to wait before
        asking again, nothing taken. `now` is the caller's clock, for the stand-in."""
        ...


class ShownTextKeeper(Protocol):
    """Keeps a streaming reply's text in the store before the chat is shown it, so that a
    crash never loses text people saw. Paced by itself: `ReplyStream` asks when it may keep."""

    def seconds_until_next_keep(self, now: float) -> float:
        """How long until the next keep is due; 0 when it may be done now."""
        ...

    def keep(self) -> Awaitable[None]:
        """Take the reply as it stands at this call, and store it; awaiting ends when it is
        stored (or the store refused it, which is logged: delivery never waits on a fault)."""
        ...


class DeliveryObserver(Protocol):
    """Hears about platform writes that did not go through at once. Called on the hot path
    of delivery: implementations count and return, never wait or raise."""

    def rate_limited(self, platform: str) -> None:
        """The platform refused a write with retry_after (HTTP 429)."""
        ...

    def write_retried(self, platform: str) -> None:
        """A failed write is being tried again (after a 429 or another failure)."""
        ...


class Telemetry(DeliveryObserver, Protocol):
    """What operators' metrics hear from the service: turns, endpoint failures, writes.

    Only bounded values cross it (see `TurnReport`): no text, ids, keys or model names.
    """

    def turn_ended(self, report: TurnReport) -> None:
        """A turn settled, however it ended."""
        ...

    def endpoint_failed(self, cause: str) -> None:
        """The model endpoint failed a turn; `cause` is the error's class and HTTP status."""
        ...


class NoTelemetry:
    """Hears everything and keeps nothing: the default where no metrics are wanted."""

    def turn_ended(self, report: TurnReport) -> None:
        pass

    def endpoint_failed(self, cause: str) -> None:
        pass

    def rate_limited(self, platform: str) -> None:
        pass

    def write_retried(self, platform: str) -> None:
        pass


NO_TELEMETRY = NoTelemetry()


class UsageLedger(Protocol):
    """What each turn cost, kept per person, server and model. Raises StorageError.

    Times are UTC; a window is `since` inclusive to `until` exclusive.
    """

    async def record(self, entry: UsageEntry) -> None:
        """Keep one turn's usage."""
        ...

    async def totals(
        self,
        platform: str,
        *,
        since: datetime,
        until: datetime,
        user_id: str | None = None,
        server: str | None = None,
    ) -> list[UsageGroup]:
        """The window's totals per (user, model), of one user or one server or both."""
        ...


class NoUsage:
    """Keeps nothing and totals nothing: the default where usage is not accounted."""

    async def record(self, entry: UsageEntry) -> None:
        pass

    async def totals(
        self,
        platform: str,
        *,
        since: datetime,
        until: datetime,
        user_id: str | None = None,
        server: str | None = None,
    ) -> list[UsageGroup]:
        return []


NO_USAGE = NoUsage()


class QuotaBook(Protocol):
    """The counters behind quotas and the servers' own limits, shared by every process.
    Raises StorageError. Times are UTC."""

    async def admit(self, admission: Admission, checks: Sequence[RateCheck]) -> RateRefusal | None:
        """Keep `admission` unless a check's window is full: then keep nothing and say which.
        Checking and keeping are one step, so two processes cannot both take the last place."""
        ...

    async def admissions(self, platform: str, scope: Scope, *, since: datetime) -> int:
        """How many turns were admitted in `scope` after `since`."""
        ...

    async def spent(
        self, platform: str, scope: Scope, *, day: tuple[datetime, datetime], month_start: datetime
    ) -> Spent:
        """Tokens (prompt + completion) of the operator's endpoint in `scope`: in `day`
        ([start, end)) and from `month_start` to the day's end."""
        ...

    async def overrides(self, platform: str, server: str) -> Limits:
        """A server's own limits, set by its admins (none set: no limits)."""
        ...

    async def set_overrides(
        self, platform: str, server: str, changes: Mapping[Limit, int | None]
    ) -> Limits:
        """Set (None: clear) some of a server's own limits; returns them all as they now are."""
        ...

    async def clear_overrides(self, platform: str, server: str) -> None:
        """Forget a server's own limits."""
        ...

    async def prune(self, *, before: datetime, batch: int) -> int:
        """Delete up to `batch` admissions older than `before`; how many went."""
        ...


class QuotaGate(Protocol):
    """Lets a turn through to the endpoint, or raises QuotaReached. Asked before anything
    of the turn is sent or stored."""

    async def admit(self, turn: QuotaTurn) -> None: ...


class NoQuotas:
    """Lets every turn through and reads nothing: the default where no quotas are kept."""

    async def admit(self, turn: QuotaTurn) -> None:
        pass


NO_QUOTAS = NoQuotas()


class Store(Protocol):
    """Channels, their settings and their history. Raises `StorageError`.

    Turns are written whole: `begin_turn` stores the user's message and a pending
    assistant row in one transaction, `finish_turn` settles the assistant row.

    A thread's key (one with a `parent_id`) reads and writes its settings on the parent
    channel and keeps its chats and history to itself (see `ChannelKey`).
    """

    async def load_channel(self, key: ChannelKey) -> ChannelState:
        """The channel's state; creates the channel and its first chat on first sight.

        For a thread: its own chat, and its parent's settings as they are now."""
        ...

    async def history(
        self, chat_id: ChatId, *, limit: int, before: MessageId | None = None
    ) -> list[StoredMessage]:
        """The newest `limit` messages of a chat (older than `before`, when given),
        oldest first, whatever their status."""
        ...

    async def save_token_counts(self, tokenizer: str, counts: Mapping[MessageId, int]) -> None:
        """Cache messages' token counts; a later change of a message's text clears its count."""
        ...

    async def alternatives(self, chat_id: ChatId) -> dict[MessageId, list[StoredMessage]]:
        """Every kept version of the chat's replies that have more than one, by message id,
        in swipe order, whatever their status; `swipe_index` is each one's place. `history`
        gives only the version shown; a chat file keeps them all."""
        ...

    async def begin_turn(self, chat_id: ChatId, message: NewUserMessage) -> TurnIds: ...

    async def edit_user_message(
        self, channel: ChannelKey, platform_message_id: str, content: str
    ) -> bool:
        """A user edited a message the bot has stored: its new text (False: not found)."""
        ...

    async def forget_user_message(self, channel: ChannelKey, platform_message_id: str) -> bool:
        """A user deleted a stored message: it leaves the history (False: not found)."""
        ...

    async def finish_turn(
        self,
        message_id: MessageId,
        *,
        content: str,
        reasoning: str,
        status: MessageStatus,
        finish_reason: str | None = None,
    ) -> None:
        """Settle a pending reply; for one with alternatives, the chosen alternative. A failed
        alternative that produced no text is dropped; one that was stopped or failed part-way
        is kept. Either way the one shown before it is chosen again, if that one was whole.
        A reply another process settled meanwhile (taking this one for dead) gets this text
        as one more version: no version is written over."""
        ...

    async def save_partial(self, message_id: MessageId, *, content: str, reasoning: str) -> None:
        """Keep what a pending reply has shown so far (for a continuation: what it added),
        so that a crash keeps it; a reply settled meanwhile is left as it is."""
        ...

    async def save_connection(
        self,
        key: ChannelKey,
        *,
        base_url: str,
        api_key: Secret | None,
    ) -> None:
        """Point the channel at `base_url`.

        The stored key is replaced by `api_key`; when `api_key` is None the key is
        kept only if the base URL did not change, so a key never follows a new host.
        Raises `SecretsUnavailable` when a key is given and no encryption key is set.
        """
        ...

    async def clear_connection(self, key: ChannelKey) -> None:
        """Forget the channel's own connection: it goes back to the operator default."""
        ...

    async def update_channel(self, key: ChannelKey, changes: ChannelChanges) -> None:
        """Write the settings that changed; fields left at KEEP are untouched."""
        ...

    async def set_connection_options(self, key: ChannelKey, options: EndpointOptions) -> None:
        """Store options on the connection the channel uses; StorageError when it uses none."""
        ...

    async def reset_chat(
        self, key: ChannelKey, *, greetings: Sequence[str] = (), chosen: int = 0
    ) -> ChatId:
        """Archive the channel's current chat and open a new one.

        With `greetings`, the new chat opens with the character's reply
        `greetings[chosen]`, the others kept as its swipes.
        """
        ...

    async def begin_regeneration(self, chat_id: ChatId) -> StoredMessage:
        """Open a new, pending alternative of the chat's last reply and return the reply as it
        was. The earlier text stays as a swipe. UsageError when the last message is not a
        finished reply of the bot."""
        ...

    async def begin_continuation(self, chat_id: ChatId) -> StoredMessage:
        """Mark the chat's last reply pending so that it can be extended; returns it as it was.
        UsageError when the last message is not a finished reply of the bot."""
        ...

    async def choose_swipe(self, chat_id: ChatId, step: int) -> StoredMessage:
        """Move the last reply `step` alternatives forward or back and return the chosen one.
        UsageError when there is none in that direction."""
        ...

    async def settle_interrupted(self) -> int:
        """Settle every pending reply, keeping the text it had shown, marked interrupted;
        returns how many. Only where no other process writes replies: processes sharing a
        database settle through their leases (storage/leases.py)."""
        ...

    async def archived_chats(self, key: ChannelKey, *, limit: int) -> ChatListing:
        """The channel's archived chats that hold messages, the one archived last first:
        at most `limit` of them, and how many there are."""
        ...

    async def reopen_chat(self, key: ChannelKey, number: int) -> ChatSummary | None:
        """Make the `number`th archived chat (as `archived_chats` counts) current again, in
        one transaction; the current chat is archived, or dropped when it holds nothing.
        None, with nothing changed, when there is no such chat."""
        ...

    async def import_chat(self, key: ChannelKey, messages: Sequence[KeptMessage]) -> ChatId:
        """Store `messages` as a new current chat of the channel, in one transaction: the
        current chat is archived (dropped when it holds nothing); nothing changes on failure."""
        ...


class Profiles(Protocol):
    """Named connections a server or chat keeps; a channel uses one. Raises StorageError."""

    async def save_profile(
        self,
        scope: str,
        name: str,
        *,
        channel: ChannelKey,
        base_url: str | None,
        api_key: Secret | None,
        model: str | None,
    ) -> None:
        """Create or update; without base_url the channel's current connection is copied."""
        ...

    async def use_profile(self, key: ChannelKey, scope: str, name: str) -> bool: ...

    async def list_profiles(self, scope: str) -> list[ProfileSummary]: ...

    async def delete_profile(self, scope: str, name: str) -> int | None:
        """How many channels were using it, or None when there was no such profile."""
        ...


class Characters(Protocol):
    """The character libraries of servers and chats. Raises StorageError.

    Names are unique per scope, compared case-insensitively so that `/character use
    alice` finds "Alice".
    """

    async def save_character(
        self, scope: str, card: CharacterCard, avatar: bytes | None
    ) -> StoredCharacter:
        """Add the card, or replace the one with the same name (channels keep using it)."""
        ...

    async def list_characters(self, scope: str) -> list[StoredCharacter]: ...

    async def find_character(self, scope: str, name: str) -> StoredCharacter | None: ...

    async def character(self, character_id: int) -> StoredCharacter | None: ...

    async def remove_character(self, scope: str, name: str) -> int | None:
        """How many channels were using it (they go back to no character), or None if absent."""
        ...


class Personas(Protocol):
    """Who each user is in stories, per platform. Raises StorageError."""

    async def personas(self, platform: str, user_ids: Sequence[str]) -> dict[str, Persona]:
        """The personas of those users who set one."""
        ...

    async def set_persona(self, platform: str, user_id: str, persona: Persona | None) -> None:
        """Set, or with None forget, a user's persona."""
        ...


class AccessRules(Protocol):
    """Each server's own /access rules, per platform. Raises StorageError."""

    async def rules(self, platform: str, server: str) -> ServerRules:
        """The server's allowed channels and roles (empty: no narrowing)."""
        ...

    async def allow(self, platform: str, server: str, kind: RuleKind, value: str) -> bool:
        """Add a rule; False when the server had it already."""
        ...

    async def remove(self, platform: str, server: str, kind: RuleKind, value: str) -> bool:
        """Take a rule away; False when the server had no such rule."""
        ...

    async def clear(self, platform: str, server: str) -> int:
        """Take every rule of the server away; how many there were."""
        ...


class NoAccessRules:
    """No server narrows anything: the default where rules are not stored."""

    async def rules(self, platform: str, server: str) -> ServerRules:
        return NO_RULES

    async def allow(self, platform: str, server: str, kind: RuleKind, value: str) -> bool:
        raise StorageError("server access rules are not kept here")

    async def remove(self, platform: str, server: str, kind: RuleKind, value: str) -> bool:
        return False

    async def clear(self, platform: str, server: str) -> int:
        return 0


NO_ACCESS_RULES = NoAccessRules()


class Erasure(Protocol):
    """What /forget erases: one person's rows on a platform, or a channel's history.

    Counts are by kind of row: "messages", "private_chats", "private_messages", "chats",
    and one per table of per-user rows ("personas", "usage", …). Raises StorageError.
    """

    async def user_rows(self, platform: str, user_id: str) -> dict[str, int]:
        """What `erase_user` would change, counted, changing nothing."""
        ...

    async def erase_user(self, platform: str, user_id: str, *, marker: str) -> dict[str, int]:
        """Their private chats and per-user rows deleted; `marker` in place of each message
        they wrote in shared history, with no author id, name, images or platform ids."""
        ...

    async def channel_rows(self, key: ChannelKey) -> dict[str, int]:
        """The channel's "chats" (current and archived) and "messages", counted."""
        ...

    async def erase_channel(self, key: ChannelKey) -> dict[str, int]:
        """Every message and archived chat of the channel deleted; UsageError while a reply
        is being written there."""
        ...


class Retention(Protocol):
    """Deletes what is older than the operator keeps, one batch (one transaction) per call;
    each returns how many rows it deleted, fewer than `limit` when none are left. Raises
    StorageError."""

    async def delete_archived_messages(self, before: datetime, *, limit: int) -> int: ...

    async def delete_archived_chats(self, before: datetime, *, limit: int) -> int: ...

    async def delete_old_messages(self, before: datetime, *, limit: int) -> int:
        """In chats still going on; never a pending reply."""
        ...

    async def delete_old_usage(self, before: datetime, *, limit: int) -> int: ...


ForgetHook = Callable[[str, str], Awaitable[int]]
"""Forgets what an adapter holds about (platform, user id), such as a pending key link;
returns how many things it dropped. Called by /forget target:me once confirmed."""


class Suggester(Protocol):
    """Values to offer while someone types an option: autocomplete and pickers."""

    async def for_option(self, call: CommandCall, option: str, typed: str) -> list[str]: ...

    async def model_ids(self, call: CommandCall) -> list[str]: ...


class Conversations(Protocol):
    """The inbound port: everything a platform adapter asks of the service, and no more.

    Adapters depend on this, not on the service class, so a platform is written against
    a short list of calls, and a fake service can stand in for one in a test.
    """

    @property
    def suggestions(self) -> Suggester:
        """What to offer while an option is typed."""
        ...

    async def handle(self, incoming: Incoming, replier: Replier) -> TurnOutcome:
        """Answer a message with a streamed reply."""
        ...

    async def rewrite(self, call: CommandCall, replier: Replier) -> TurnOutcome:
        """Run a command whose spec streams (`CommandSpec.streams`) into the chat."""
        ...

    async def run_command(self, call: CommandCall) -> CommandResult:
        """Run any other command; errors come back as the result's text."""
        ...

    async def edited(self, channel: ChannelKey, platform_message_id: str, text: str) -> bool:
        """A user edited a message: the history reads what it says now."""
        ...

    async def deleted(self, channel: ChannelKey, platform_message_id: str) -> bool:
        """A user deleted a message: the model no longer reads it."""
        ...

    async def server_rules(self, channel: ChannelKey, server: str | None) -> ServerRules:
        """Where in its server, and to whom, the bot answers (/access); none outside one."""
        ...

    async def answers_all(self, channel: ChannelKey) -> bool:
        """Whether a group channel answers every message, not only those addressed to it."""
        ...

    async def character_name(self, channel: ChannelKey) -> str | None:
        """Who speaks in the channel, or None when the bot speaks as itself."""
        ...

    async def character(self, channel: ChannelKey) -> StoredCharacter | None:
        """The channel's character with its avatar, for platforms that show who speaks."""
        ...

    def when_forgetting(self, hook: ForgetHook) -> None:
        """Call `hook` when someone's data is erased (/forget), so an adapter drops what it
        holds about them too (pending key links, open forms)."""
        ...
