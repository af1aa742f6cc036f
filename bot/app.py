"""The composition root: the one place that reads Settings and wires the parts together.

Everything heavy (engine, HTTP client, migrations) happens here at start, never at import.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Generic, TextIO, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.core.clock import SystemClock
from bot.core.domain import Connection, ModelPrice, Secret
from bot.core.errors import ConfigError, PlatformRefused
from bot.core.ports import (
    NO_ACCESS_RULES,
    NO_TELEMETRY,
    NO_USAGE,
    AccessRules,
    Characters,
    Clock,
    CompletionClient,
    EndpointGuard,
    Erasure,
    Fetcher,
    Personas,
    Profiles,
    QuotaBook,
    SharedBudget,
    Store,
    Telemetry,
    TokenCounter,
    UsageLedger,
)
from bot.core.quotas import NO_LIMITS, Limit, Limits
from bot.core.shared_state import SharedState
from bot.fleet.budgets import bot_identity, check_reachable, connect, shared_budgets, where
from bot.llm.client import OpenAICompatClient, build_http_client
from bot.llm.deadline import StreamTimeouts
from bot.llm.fetch import GuardedFetcher
from bot.llm.guard import AddressGuard, EndpointPolicy, build_guarded_http_client
from bot.llm.tokenize import EndpointTokenizer
from bot.platforms.common.access import AccessPolicy
from bot.platforms.console.session import ConsoleIdentity, ConsoleOutput, ConsoleSession
from bot.platforms.discord.adapter import DiscordAdapter
from bot.platforms.discord.client import Shards, configure_discord_py
from bot.platforms.discord.places import budget_scope as discord_budget_scope
from bot.platforms.telegram.adapter import TelegramAdapter
from bot.platforms.telegram.delivery import use_timedelta_periods
from bot.platforms.telegram.outbox import budget_scope as telegram_budget_scope
from bot.platforms.telegram.webhook import Webhook
from bot.reply.pacing import Pacing
from bot.service.conversations import ConversationService
from bot.service.default_endpoint import check_default_endpoint
from bot.service.retention import RetentionPass, keep_retaining
from bot.service.turns.keeping import KeeperFactory, PartialReplyKeeper
from bot.service.turns.prompting import Budget, PromptFactory
from bot.service.turns.queue import ChannelQueue, QueueLoad
from bot.service.turns.tokens import TokenBook
from bot.storage.access_rules import SqlAccessRules
from bot.storage.characters import SqlCharacters
from bot.storage.db import create_engine, create_sessions, write_lock
from bot.storage.erasure import SqlErasure
from bot.storage.keeping import SqliteKeeping
from bot.storage.leases import ProcessIdentity, SqlLeases
from bot.storage.migrate import upgrade_to_head
from bot.storage.personas import SqlPersonas
from bot.storage.process_lease import ProcessLease
from bot.storage.profiles import SqlProfiles
from bot.storage.quotas import SqlQuotas
from bot.storage.retention import SqlRetention
from bot.storage.secrets import SecretBox
from bot.storage.shared_state import SqlSharedState
from bot.storage.store import SqlStore
from bot.storage.usage import SqlUsage
from bot.web.listener import OpsListener
from bot.web.metrics import Metrics
from bot.web.webhook import WebhookReceiver

_log = logging.getLogger(__name__)

CLOSING_RESERVE_SECONDS = 3.0
"""Of SHUTDOWN_GRACE_SECONDS, what is kept for closing the platforms' connections and the
database and for the interpreter to exit (at most 40% of the grace). Under a second on
an idle machine, but 2.6 s was seen on a loaded 2-core one. The rest is for the stopped
replies to be stored and shown stopped while the platforms are still open to carry those
edits, which wait for each chat's write budget."""

BOT_WIDE_WRITES_PER_SECOND = {"telegram": 30.0, "discord": 50.0}
"""Each platform's global cap: Telegram's "about 30 messages per second", Discord's 50
requests per second."""


def platform_pacing(
    clock: Clock,
    *,
    observer: Telemetry = NO_TELEMETRY,
    shared: Mapping[str, SharedBudget] | None = None,
) -> Pacing:
    """The write budgets every platform's writes go through: the bot-wide caps, and each
    platform's rule for which channels share a budget (a forum's topics, their group's);
    `observer` hears of refused and retried writes; `shared` (REDIS_URL) replaces a
    platform's bot-wide cap with the one every process of the bot draws on."""
    return Pacing(
        clock=clock,
        platform_writes_per_second=BOT_WIDE_WRITES_PER_SECOND,
        budget_scopes={"telegram": telegram_budget_scope, "discord": discord_budget_scope},
        observer=observer,
        shared_budgets=shared,
    )


def operator_secrets(settings: Settings) -> list[str]:
    """Values the log redaction filter must scrub wherever they appear."""
    values = [settings.default_api_key, settings.discord_token, settings.telegram_token]
    values.append(settings.telegram_webhook_secret)
    values += settings.encryption_keys
    return [value.get_secret_value() for value in values if value is not None]


def webhook_receiver(settings: Settings) -> WebhookReceiver | None:
    """Telegram's webhook route on the listener (TELEGRAM_WEBHOOK_URL); None: polling.
    Settings have made sure a secret, a path and HTTP_PORT come with the URL."""
    secret, path = settings.telegram_webhook_secret, settings.telegram_webhook_path
    if settings.telegram_webhook_url is None or secret is None or path is None:
        return None
    if settings.telegram_token is None:
        return None
    return WebhookReceiver(path=path, secret=secret.get_secret_value())


def telegram_webhook(settings: Settings, receiver: WebhookReceiver | None) -> Webhook | None:
    """Webhook mode for the Telegram adapter, when there is a route to receive it on."""
    url, secret = settings.telegram_webhook_url, settings.telegram_webhook_secret
    if receiver is None or url is None or secret is None:
        return None
    return Webhook(url, secret.get_secret_value(), receiver)


def default_connection(settings: Settings) -> Connection | None:
    """The operator's endpoint from the environment: the only trusted one."""
    if not settings.default_base_url:
        return None
    key = settings.default_api_key
    return Connection(
        base_url=settings.default_base_url,
        model=settings.default_model,
        api_key=Secret(key.get_secret_value()) if key else None,
        trusted=True,
    )


def discord_access(settings: Settings) -> AccessPolicy:
    """Who may use the bot on Discord: the operator's server and user lists, and DMs."""
    return AccessPolicy(
        allowed_places=settings.discord_allowed_servers,
        blocked_places=settings.discord_blocked_servers,
        allowed_users=settings.discord_allowed_users,
        blocked_users=settings.discord_blocked_users,
        private_chats=settings.discord_allow_dms,
        operators=settings.discord_operator_ids,
        notice_seconds=settings.access_notice_seconds,
    )


def telegram_access(settings: Settings) -> AccessPolicy:
    """Who may use the bot on Telegram: the operator's chat and user lists, private chats."""
    return AccessPolicy(
        allowed_places=settings.telegram_allowed_chats,
        blocked_places=settings.telegram_blocked_chats,
        allowed_users=settings.telegram_allowed_users,
        blocked_users=settings.telegram_blocked_users,
        private_chats=settings.telegram_allow_private,
        operators=settings.telegram_operator_ids,
        notice_seconds=settings.access_notice_seconds,
    )


def operator_limits(settings: Settings) -> Limits:
    """The operator's quotas (QUOTA_*); 0 or unset is no limit."""
    return Limits.of({limit: getattr(settings, f"quota_{limit.value}") for limit in Limit})


def endpoint_policy(settings: Settings) -> EndpointPolicy:
    """What endpoints set in chats may reach; the operator's own endpoint is not bound by it."""
    return EndpointPolicy(
        allow_private=settings.allow_private_endpoints,
        allowed_hosts=settings.allowed_endpoint_hosts,
    )


_S = TypeVar("_S", bound=Store)


@dataclass(frozen=True, slots=True)
class Stores(Generic[_S]):
    """What the service keeps: channels and chats, connection profiles, characters, personas,
    and what each turn cost (nothing, unless a ledger is given); `erasure` is what /forget
    erases with (None: /forget says it is not available); `shared_state` is what every process
    must see alike (None: this process's memory)."""

    store: _S
    profiles: Profiles
    characters: Characters
    personas: Personas
    usage: UsageLedger = NO_USAGE
    access_rules: AccessRules = NO_ACCESS_RULES
    quotas: QuotaBook | None = None
    erasure: Erasure | None = None
    shared_state: SharedState | None = None


def sql_stores(
    sessions: async_sessionmaker[AsyncSession],
    *,
    secret_box: SecretBox | None,
    keeping: SqliteKeeping | None = None,
    owner: str | None = None,
) -> Stores[SqlStore]:
    """The stores over one database's sessions, sharing its write lock and key box;
    `keeping` gives streaming replies' checkpoints a SQLite connection of their own;
    `owner` (this process's lease id) marks the replies it begins as its own."""
    return Stores(
        SqlStore(sessions, secret_box=secret_box, keeping=keeping, owner=owner),
        SqlProfiles(sessions, secret_box=secret_box),
        SqlCharacters(sessions, secret_box=secret_box),
        SqlPersonas(sessions, secret_box=secret_box),
        SqlUsage(sessions, secret_box=None),  # keeps no keys
        SqlAccessRules(sessions, secret_box=None),
        SqlQuotas(sessions, secret_box=None),
        SqlErasure(sessions, secret_box=None),
        SqlSharedState(sessions),
    )


def build_service(
    stores: Stores[_S],
    *,
    client: CompletionClient,
    fetcher: Fetcher,
    clock: Clock,
    pacing: Pacing,
    token_counter: TokenCounter,
    budget: Budget,
    wall_clock: Callable[[], datetime],
    queue_size: int,
    default_connection: Connection | None,
    guard: EndpointGuard | None = None,
    keeper: KeeperFactory = PartialReplyKeeper,
    telemetry: Telemetry = NO_TELEMETRY,
    prices: Mapping[str, ModelPrice] | None = None,
    limits: Limits = NO_LIMITS,
    shared_lanes: bool = False,
) -> ConversationService:
    """The service from its outside parts: the one wiring, used by `Parlor`, the tests and
    the benchmarks, so that each passes fakes for the parts it does not want real.

    `guard` judges chat-set URLs that are stored without a probe (None: nothing to ask);
    `queue_size` is how many turns may wait for a busy channel before it answers busy;
    `telemetry` hears how turns and platform writes went (the operator's metrics);
    `prices` (MODEL_PRICES) turn /usage's tokens into estimated dollars; `limits` are the
    operator's quotas (QUOTA_*), counted in `stores.quotas`; `shared_lanes`: one turn at a
    time per channel across processes too, for Telegram by webhook (turns/shared_lane.py).
    """
    prompts = PromptFactory(
        store=stores.store,
        characters=stores.characters,
        personas=stores.personas,
        tokens=TokenBook(token_counter, stores.store),
        budget=budget,
        wall_clock=wall_clock,
    )
    return ConversationService(
        store=stores.store,
        profiles=stores.profiles,
        characters=stores.characters,
        personas=stores.personas,
        fetcher=fetcher,
        client=client,
        pacing=pacing,
        clock=clock,
        prompts=prompts,
        queue=ChannelQueue(max_waiting=queue_size),
        default_connection=default_connection,
        guard=guard,
        keeper=keeper,
        telemetry=telemetry,
        usage=stores.usage,
        wall_clock=wall_clock,
        prices=prices,
        access_rules=stores.access_rules,
        quota_book=stores.quotas,
        limits=limits,
        erasure=stores.erasure,
        shared_state=stores.shared_state,
        shared_lanes=shared_lanes,
    )


async def migrate(settings: Settings) -> None:
    await upgrade_to_head(settings.database_url)


async def _warn_about_unreadable_keys(store: SqlStore) -> None:
    """Without ENCRYPTION_KEYS stored keys cannot be read; those channels fail closed."""
    stored = await store.count_encrypted_keys()
    if stored:
        _log.warning(
            "ENCRYPTION_KEYS is not set but %d API keys are stored encrypted: channels using "
            "them will refuse to chat until the keys are set again",
            stored,
        )
    else:
        _log.info("ENCRYPTION_KEYS is not set: API keys typed in chats will be refused")


class Parlor:
    """The running application: open with `async with`, then start a platform."""

    def __init__(self, settings: Settings, *, keeper: KeeperFactory = PartialReplyKeeper) -> None:
        """`keeper` makes each streaming reply's keeper (a benchmark swaps it to measure it)."""
        self._settings = settings
        self._keeper = keeper
        self._resources = AsyncExitStack()
        self.service: ConversationService | None = None
        self.shared_state: SharedState | None = None  # what every process sees alike
        self.pacing = Pacing()
        self.listener: OpsListener | None = None  # with HTTP_PORT: /healthz /readyz /metrics
        self.webhook_receiver = webhook_receiver(settings)  # a route on the listener

    async def __aenter__(self) -> Parlor:
        try:
            await self._open()
        except BaseException:
            # What was opened before the failure (engine, HTTP clients) is closed here:
            # `async with` never calls __aexit__ for an __aenter__ that raised.
            await self._resources.aclose()
            raise
        return self

    async def _open(self) -> None:
        settings = self._settings
        keys = [k.get_secret_value() for k in settings.encryption_keys]
        box = SecretBox.from_keys(keys) if keys else None
        await upgrade_to_head(settings.database_url)
        engine = create_engine(settings.database_url)
        self._resources.push_async_callback(engine.dispose)
        sessions = create_sessions(engine)
        keeping = SqliteKeeping.for_url(settings.database_url, write_lock=write_lock(sessions))
        if keeping is not None:
            self._resources.push_async_callback(keeping.aclose)
        clock = SystemClock()
        lease = await self._resources.enter_async_context(self._lease(sessions, clock))
        stores = sql_stores(sessions, secret_box=box, keeping=keeping, owner=lease.id)
        self.shared_state = stores.shared_state
        store = stores.store
        if lease.settled_at_start:
            _log.warning(
                "%d replies were cut off by a process that stopped; marked interrupted",
                lease.settled_at_start,
            )
        timeouts = StreamTimeouts(
            connect_seconds=settings.llm_connect_timeout_seconds,
            first_token_seconds=settings.llm_first_token_timeout_seconds,
            idle_seconds=settings.llm_idle_timeout_seconds,
            total_seconds=settings.llm_total_timeout_seconds,
        )
        policy = endpoint_policy(settings)
        guarded = build_guarded_http_client(policy, timeouts)
        self._resources.push_async_callback(guarded.aclose)
        trusted = build_http_client(timeouts)
        self._resources.push_async_callback(trusted.aclose)
        metrics = self._metrics() if settings.http_port is not None else None
        telemetry: Telemetry = metrics or NO_TELEMETRY
        shared = await self._shared_budgets()
        self.pacing = platform_pacing(clock, observer=telemetry, shared=shared)
        client = OpenAICompatClient(guarded, timeouts=timeouts, trusted_http=trusted)
        operator_endpoint = default_connection(settings)
        if operator_endpoint is not None:
            operator_endpoint = (await check_default_endpoint(operator_endpoint, client)).connection
        self.service = build_service(
            stores,
            client=client,
            fetcher=GuardedFetcher(guarded),
            clock=clock,
            pacing=self.pacing,
            token_counter=EndpointTokenizer(guarded, trusted_http=trusted),
            budget=Budget(
                context_size=settings.context_size,
                reply_reserve=settings.reply_tokens,
                max_messages=settings.history_messages,
            ),
            wall_clock=lambda: datetime.now().astimezone(),
            queue_size=settings.channel_queue_size,
            default_connection=operator_endpoint,
            guard=AddressGuard(policy),
            keeper=self._keeper,
            telemetry=telemetry,
            prices=settings.model_prices,
            limits=operator_limits(settings),
            shared_lanes=self.webhook_receiver is not None,  # one chat, several workers
        )
        if settings.http_port is not None:
            await self._listen(settings.http_host, settings.http_port, metrics, store)
        if settings.retention_days > 0:
            self._retain(SqlRetention(sessions, secret_box=None), clock)
        if box is None:
            await _warn_about_unreadable_keys(store)

    async def _shared_budgets(self) -> dict[str, SharedBudget]:
        """With REDIS_URL, each configured platform's bot-wide budget in Redis, shared by
        every process of the bot; a Redis that does not answer at start is a ConfigError."""
        settings = self._settings
        if settings.redis_url is None:
            return {}
        tokens = {"telegram": settings.telegram_token, "discord": settings.discord_token}
        bots = {
            name: bot_identity(name, token.get_secret_value())
            for name, token in tokens.items()
            if token is not None
        }
        if not bots:
            return {}  # the console alone writes to no platform
        redis = connect(settings.redis_url)
        self._resources.push_async_callback(redis.aclose)
        await check_reachable(redis, settings.redis_url)
        _log.info(
            "Redis at %s: every process shares the bot-wide budgets", where(settings.redis_url)
        )
        return dict(shared_budgets(redis, bots, BOT_WIDE_WRITES_PER_SECOND))

    def _lease(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> ProcessLease:
        """This process's identity and lease: entered before any turn, it settles only the
        replies of processes whose lease ran out; left after the turns have stopped."""
        return ProcessLease(
            SqlLeases(sessions, secret_box=None),
            identity=ProcessIdentity.new(),
            clock=clock,
            wall_clock=lambda: datetime.now(UTC),
            lease_seconds=self._settings.lease_seconds,
            renew_seconds=self._settings.lease_renew_seconds,
        )

    def _retain(self, retention: SqlRetention, clock: Clock) -> None:
        """Delete what is older than RETENTION_DAYS in the background while the app is open;
        closing the app cancels it (a batch being written is rolled back)."""
        settings = self._settings
        rules = RetentionPass(
            retention,
            days=settings.retention_days,
            wall_clock=lambda: datetime.now(UTC),
            batch_rows=settings.retention_batch_rows,
        )
        interval = settings.retention_interval_seconds
        task = asyncio.create_task(
            keep_retaining(rules, interval_seconds=interval, clock=clock), name="retention"
        )
        _log.info("retention: deleting what is older than %d days", settings.retention_days)

        async def stop() -> None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        self._resources.push_async_callback(stop)

    def _metrics(self) -> Metrics:
        """Metrics whose gauges read the service's queue at each scrape."""

        def load() -> QueueLoad:
            return self.service.load() if self.service is not None else QueueLoad(0, 0)

        return Metrics(queue_depth=lambda: load().waiting, active_streams=lambda: load().running)

    async def _listen(self, host: str, port: int, metrics: Metrics | None, store: SqlStore) -> None:
        """The operator's HTTP listener, ready when the database answers; the platforms add
        their own checks as they start."""
        listener = OpsListener(
            metrics=metrics,
            checks={"database": store.ping},
            host=host,
            port=port,
            routes=[self.webhook_receiver.route()] if self.webhook_receiver else [],
        )
        try:
            self.listener = await self._resources.enter_async_context(listener)
        except OSError as exc:
            raise ConfigError(
                f"Can't listen on {host}:{port} for HTTP_PORT ({exc.strerror or exc}); "
                "choose another HTTP_PORT or HTTP_HOST, or stop what uses that port."
            ) from None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._resources.aclose()

    async def run_console(
        self,
        stdin: TextIO,
        stdout: TextIO,
        *,
        identity: ConsoleIdentity,
        jsonl: bool,
        stop: asyncio.Event | None = None,
    ) -> None:
        """Chat on stdin/stdout until the input ends, or until `stop` is set: then the reply
        being written is stopped (kept, and shown, as stopped) and the session ends without
        waiting for more input."""
        assert self.service is not None, "use Parlor as an async context manager"
        session = ConsoleSession(self.service, ConsoleOutput(stdout, jsonl=jsonl), identity)
        chatting = asyncio.create_task(session.run(stdin), name="console-session")
        try:
            if stop is None or await _first_of(chatting, stop):
                await chatting
                return
            session.end_input()
            deadline = self._shutdown_deadline()
            await self._stop_turns(deadline)
            done, _ = await asyncio.wait({chatting}, timeout=deadline.left())
            if done:
                chatting.result()
            else:
                _log.warning("shutting down: the console's last line was left unfinished")
        finally:
            chatting.cancel()
            await asyncio.gather(chatting, return_exceptions=True)

    async def run_platforms(self, stop: asyncio.Event) -> None:
        """Serve the configured chat platforms until `stop` is set; then stop the replies
        being written (kept, and shown, as stopped) while the platforms are still open,
        and close them, all within SHUTDOWN_GRACE_SECONDS.

        A platform that refuses us for good while running (a revoked token, another
        poller) sets `stop` too: every platform is closed, then its PlatformRefused is
        raised, for the process to end with that one line and a non-zero code."""
        assert self.service is not None, "use Parlor as an async context manager"
        settings = self._settings
        adapters: list[TelegramAdapter | DiscordAdapter] = []
        refusals: list[PlatformRefused] = []  # the first is the one the operator reads

        def on_fatal(error: PlatformRefused) -> None:
            refusals.append(error)
            stop.set()  # a refusal stops every platform, as a signal would

        async with AsyncExitStack() as platforms:
            if settings.telegram_token is not None:
                # PTB 22 offers no parameter for it: an environment switch, set once here.
                use_timedelta_periods()
                telegram = TelegramAdapter(
                    self.service,
                    token=settings.telegram_token.get_secret_value(),
                    api_url=settings.telegram_api_url,
                    pacing=self.pacing,
                    operators=settings.telegram_operator_ids,
                    on_fatal=on_fatal,
                    access=telegram_access(settings),
                    webhook=telegram_webhook(settings, self.webhook_receiver),
                    shared_state=self.shared_state,
                )
                self._ready_when("telegram", telegram.connected)
                adapters.append(await platforms.enter_async_context(telegram))
            if settings.discord_token is not None:
                # discord.py offers its URLs only as class attributes: set once, here.
                configure_discord_py(
                    api_url=settings.discord_api_url, gateway_url=settings.discord_gateway_url
                )
                discord = DiscordAdapter(
                    self.service,
                    token=settings.discord_token.get_secret_value(),
                    pacing=self.pacing,
                    shards=Shards(settings.discord_shard_count, settings.discord_shard_ids),
                    operators=settings.discord_operator_ids,
                    access=discord_access(settings),
                    on_fatal=on_fatal,
                    shared_state=self.shared_state,
                )
                self._ready_when("discord", discord.connected)
                adapters.append(await platforms.enter_async_context(discord))
            await stop.wait()
            deadline = self._shutdown_deadline()
            await self._stop_turns(deadline)
            # The handlers end once their replies are shown stopped and settled (the Stop
            # button taken away), which in a busy group waits for its write budget.
            await asyncio.gather(*(adapter.wind_down(deadline.left()) for adapter in adapters))
        if refusals:
            raise refusals[0]

    def _ready_when(self, platform: str, connected: Callable[[], Awaitable[bool]]) -> None:
        """/readyz waits for the platform from before it starts until it is connected."""
        if self.listener is not None:
            self.listener.add_check(platform, connected)

    def _shutdown_deadline(self) -> _Deadline:
        """When the replies must be settled, for the platforms and the database to close in
        the rest of SHUTDOWN_GRACE_SECONDS (the process's watchdog ends it at the grace)."""
        grace = self._settings.shutdown_grace_seconds
        return _Deadline.after(grace - min(CLOSING_RESERVE_SECONDS, grace * 0.4))

    async def _stop_turns(self, deadline: _Deadline) -> None:
        """Take no more turns and stop the running ones, waiting until `deadline` at most
        for them to be stored and shown stopped."""
        assert self.service is not None
        if self.listener is not None:
            self.listener.shutting_down()  # a balancer stops sending work here first
        if self.webhook_receiver is not None:  # 503: Telegram delivers it to another worker
            self.webhook_receiver.attach(None)
        _log.info("shutting down: no new turns; stopping the replies being written")
        left = await self.service.shut_down(within=deadline.left())
        if left:
            _log.warning("shutting down: %d turns did not end in time; closing anyway", left)


@dataclass(frozen=True, slots=True)
class _Deadline:
    at: float  # on the event loop's clock

    @classmethod
    def after(cls, seconds: float) -> _Deadline:
        return cls(asyncio.get_running_loop().time() + seconds)

    def left(self) -> float:
        return max(0.0, self.at - asyncio.get_running_loop().time())


async def _first_of(task: asyncio.Task[None], stop: asyncio.Event) -> bool:
    """Whether `task` ended before `stop` was set."""
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    return task.done()
