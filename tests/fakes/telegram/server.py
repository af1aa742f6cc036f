"""A fake Telegram Bot API server on 127.0.0.1: real HTTP, served by aiohttp (from discord.py).

python-telegram-bot reaches it with `base_url=fake.api_url` and `base_file_url=fake.file_url`.
Tests inject updates and read back what the bot sent; knows nothing of the bot under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.telegram.limits import FloodLimits, RateLimitEvent
from tests.fakes.telegram.methods import BotApi
from tests.fakes.telegram.state import TelegramState, put
from tests.fakes.telegram.updates import JsonDict, auto_entities, user_dict
from tests.fakes.telegram.webhooks import WEBHOOK_ACTIVE, Courier, Delivery, Webhook
from tests.fakes.telegram.wire import ApiError, read_params
from tests.fakes.threaded import serving_in_thread
from tests.fakes.waiting import ChangeSignal, WaitsForChange

_log = logging.getLogger(__name__)

# Built at run time, so no token-shaped string sits in the repository.
DEFAULT_TOKEN = f"123456789:AA{secrets.token_hex(16)}"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024 + 64 * 1024  # Telegram's 50 MB, plus the multipart framing


@dataclass(frozen=True, slots=True)
class Call:
    """One request as the fake answered it; `at` is its arrival on the fake's clock."""

    method: str  # as the client spelled it; "download" for a file download
    params: JsonDict  # decoded: ints, bools and objects parsed, uploads as Upload
    at: float
    status: int
    chat_id: int | None


class FakeTelegram(WaitsForChange):
    """The Bot API on loopback: `async with FakeTelegram() as fake:`, or `FakeTelegram.in_thread()`.

    What it remembers is in `state` (TelegramState), the method handlers in `api` (BotApi),
    the flood limits in `limits`, on the injected `clock`, which stamps `calls` too; long
    polls wait in real time. Every recorded call and injected update wakes `wait_for` (in
    the fake's loop) and `wait_for_sync` (in another thread), so tests never sleep.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        port: int = 0,
        username: str = "parlor_test_bot",
        first_name: str = "Parlor",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.port = port
        self.clock = clock
        self.limits = FloodLimits(clock)
        bot = user_dict(int(token.split(":", maxsplit=1)[0]), first_name=first_name, is_bot=True)
        bot |= {"username": username, "can_join_groups": True}
        bot |= {"can_read_all_group_messages": False, "supports_inline_queries": False}
        self.state = TelegramState(bot)
        self.api = BotApi(self.state, limits=self.limits)
        self.calls: list[Call] = []
        self.server_errors: list[Exception] = []
        # Long polls holding a getUpdates open now; one whose client hung up (PTB cancels its
        # poll on stop) counts until its timeout or the fake's exit.
        self.waiting_polls = 0
        self._failures: dict[str, deque[ApiError]] = {}
        # What a wrong token is told (Telegram says 401 to a well-formed one, 404 to junk);
        # `_revoked` answers every call, `_conflict` every getUpdates, once set.
        self.wrong_token = ApiError(401, "Unauthorized")
        self._revoked: ApiError | None = None
        self._conflict: ApiError | None = None
        self._signal = ChangeSignal()
        self._lock = self._signal.lock  # every change to the state is made under it
        self._runner: web.AppRunner | None = None
        self._closing = False
        self._courier = Courier(self._signal, self.state)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """PTB's base_url: PTB appends the token, then "/<method>"."""
        return f"{self.base_url}/bot"

    @property
    def file_url(self) -> str:
        """PTB's base_file_url: PTB appends the token, then "/<file_path>"."""
        return f"{self.base_url}/file/bot"

    @property
    def bot(self) -> JsonDict:
        """getMe's answer; edit it to change what the bot learns about itself."""
        return self.state.bot

    @property
    def rate_limited(self) -> list[RateLimitEvent]:
        return self.api.rate_limited

    async def __aenter__(self) -> FakeTelegram:
        self._signal.attach()
        self._closing = False
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
        app.router.add_route("*", "/bot{token}/{method}", self._serve_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._serve_file)
        # No access log: its lines would carry the token.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = self._runner.addresses[0][1]
        await self._courier.__aenter__()
        return self

    async def __aexit__(self, *_: object) -> None:
        self._closing = True  # long polls answer at once instead of holding shutdown up
        self._signal.notify()
        await self._courier.__aexit__()
        if self._runner is not None:
            await self._runner.cleanup()
        self._signal.detach()

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, **kwargs: Any) -> Iterator[FakeTelegram]:
        """The fake in its own loop in a daemon thread, for a bot running as a subprocess."""
        with serving_in_thread(cls(**kwargs)) as fake:
            yield fake

    # What the bot did.
    def calls_to(self, *methods: str) -> list[Call]:
        wanted = {method.lower() for method in methods}
        with self._lock:
            return [call for call in self.calls if call.method.lower() in wanted]

    def messages(self, chat_id: int, *, include_users: bool = False) -> list[JsonDict]:
        """The bot's messages in a chat as they stand now (edits applied, deletions gone)."""
        with self._lock:
            return self.state.messages(chat_id, include_users=include_users)

    def message(self, chat_id: int, message_id: int) -> JsonDict | None:
        with self._lock:
            return self.state.message(chat_id, message_id)

    def drafts(self, chat_id: int) -> dict[int, JsonDict]:
        """The latest text of each draft_id the bot streamed to a private chat."""
        with self._lock:
            return copy.deepcopy(self.state.drafts.get(chat_id, {}))

    def commands(self, scope: JsonDict | None = None, language_code: str = "") -> list[JsonDict]:
        with self._lock:
            return self.state.commands(scope, language_code)

    def callback_answer(self, query_id: str) -> JsonDict | None:
        with self._lock:
            return copy.deepcopy(self.state.callback_answers.get(query_id))

    def file_bytes(self, file_id: str) -> bytes:
        """What was uploaded (or added) under a file_id."""
        with self._lock:
            return self.state.files[file_id].data

    @property
    def webhook(self) -> Webhook | None:
        """What setWebhook set (a copy), or None."""
        with self._lock:
            return copy.copy(self.state.webhook)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every POST of an update to a webhook listener, in order, with its answer."""
        with self._lock:
            return list(self._courier.deliveries)

    # What the test does.
    def balance_to(self, *urls: str) -> None:
        """A load balancer in front of the webhook: updates for its URL go to these
        listener URLs in turn (a refused delivery is retried at the next one)."""
        with self._lock:
            self._courier.targets = list(urls)
        self._signal.notify()

    def lose_answers(self, count: int = 1) -> None:
        """The next `count` answers of the listener are lost on the way to Telegram, which
        delivers each of those updates again (behind `balance_to`, to the next listener)."""
        with self._lock:
            self._courier.answers_to_lose += count
        self._signal.notify()

    def webhook_set_elsewhere(
        self, url: str, *, secret: str | None = None, allowed_updates: list[str] | None = None
    ) -> None:
        """Another process (or deployment) calls setWebhook on this token."""
        params: JsonDict = {"url": url, "secret_token": secret}
        if allowed_updates is not None:
            params["allowed_updates"] = allowed_updates
        with self._lock:
            self.api.handle("setWebhook", {k: v for k, v in params.items() if v is not None})
        self._signal.notify()  # a held long poll answers at once, refused

    def send_secret(self, header: str | None) -> None:
        """The secret header deliveries carry from now on: "" none at all, None the one
        setWebhook set (as Telegram does)."""
        with self._lock:
            self._courier.header = header
        self._signal.notify()

    def fail_next(
        self, method: str, status: int, description: str, *, retry_after: int | None = None
    ) -> None:
        """The next call to `method` gets this error instead of its answer (queued, one each)."""
        with self._lock:
            failure = ApiError(status, description, retry_after=retry_after)
            self._failures.setdefault(method.lower(), deque()).append(failure)

    def revoke_token(self, status: int = 401, description: str = "Unauthorized") -> None:
        """The owner revokes the token in @BotFather: every later call is refused."""
        with self._lock:
            self._revoked = ApiError(status, description)
        self._signal.notify()  # a held long poll answers at once, refused

    def poll_elsewhere(self) -> None:
        """A second process polls with the same token: every later getUpdates gets 409."""
        description = (
            "Conflict: terminated by other getUpdates request; make sure that only one bot "
            "instance is running"
        )
        with self._lock:
            self._conflict = ApiError(409, description)
        self._signal.notify()

    def add_chat(
        self, chat_id: int, chat_type: str | None = None, *, title: str | None = None
    ) -> JsonDict:
        """Make a chat known, so the bot may write to it without a user's message first."""
        with self._lock:
            return copy.deepcopy(self.state.chat(chat_id, chat_type, None, title))

    def add_file(self, data: bytes, file_name: str, mime_type: str | None = None) -> str:
        """A file the bot can getFile and download; the file_id to put in a message."""
        with self._lock:
            return self.state.add_file(data, file_name, mime_type).file_id

    def set_member(
        self, chat_id: int, user_id: int, status: str, *, can_change_info: bool = False
    ) -> None:
        """What getChatMember answers: "creator", "administrator", "member" (default), "left"."""
        with self._lock:
            self.state.set_member(chat_id, user_id, status, can_change_info=can_change_info)

    def stop_generation(self, chat_id: int, draft_id: int) -> JsonDict:
        """The user taps Stop on a draft sent with can_stop (Bot API 10.3): Telegram sends a
        "stopped_message_generation" update. Refused for a draft without the button."""
        with self._lock:
            draft = self.state.drafts.get(chat_id, {}).get(draft_id)
            chat = self.state.chats.get(chat_id)
        if draft is None or chat is None or not draft.get("can_stop"):
            raise KeyError(f"no draft {draft_id} with a Stop button in chat {chat_id}")
        payload: JsonDict = {"chat": chat, "draft_id": draft_id}
        if draft.get("message_thread_id") is not None:
            payload["message_thread_id"] = draft["message_thread_id"]
        return self.push_update("stopped_message_generation", payload)

    def push_update(self, kind: str, payload: JsonDict) -> JsonDict:
        """Queue any update as given: {"update_id": …, kind: payload}."""
        with self._lock:
            update = self.state.updates.push(kind, copy.deepcopy(payload))
        self._signal.notify()
        return copy.deepcopy(update)

    def _queue(self, kind: str, payload: JsonDict) -> JsonDict:
        """Queue an update; its payload as the bot will see it."""
        queued: JsonDict = self.push_update(kind, payload)[kind]
        return queued

    def user_message(
        self,
        chat_id: int,
        text: str = "",
        *,
        from_user: JsonDict | int | None = None,
        chat_type: str | None = None,
        title: str | None = None,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        entities: list[JsonDict] | None = None,
        document: str | None = None,
        photo: str | None = None,
    ) -> JsonDict:
        """A user writes: stored and queued as a "message" update, which is returned.

        Chat type defaults to private for chat_id > 0, else supergroup; the sender to the
        private chat's user, else Alice (id 1001). Without `entities`, a leading /command and
        @mentions of the bot get theirs; with a document or photo file_id the text is a caption.
        """
        with self._lock:
            sender = self.state.user(from_user, chat_id)
            chat = self.state.chat(chat_id, chat_type, sender, title)
            reply_to = self.state.existing(chat_id, reply_to_message_id)
            media = self.state.media(document, photo)
            found = auto_entities(text, self.bot["username"]) if entities is None else entities
            message = self.state.post(
                chat, sender, text=text, entities=found, reply_to=reply_to,
                thread_id=message_thread_id, media=media,
            )  # fmt: skip
        return self._queue("message", message)

    def edit_user_message(
        self, chat_id: int, message_id: int, text: str, *, entities: list[JsonDict] | None = None
    ) -> JsonDict:
        """A user edits a message: stored and queued as an "edited_message" update."""
        with self._lock:
            message = self.state.live(chat_id, message_id)
            if message is None:
                raise KeyError(f"no message {message_id} in chat {chat_id}")
            caption = bool({"caption", "document", "photo"} & message.keys())
            message["caption" if caption else "text"] = text
            found = auto_entities(text, self.bot["username"]) if entities is None else entities
            put(message, "caption_entities" if caption else "entities", found)
            message["edit_date"] = int(time.time())
        return self._queue("edited_message", message)

    def press_button(
        self, chat_id: int, message_id: int, data: str, *, from_user: JsonDict | int | None = None
    ) -> JsonDict:
        """A user presses an inline button: a "callback_query" update the bot should answer."""
        with self._lock:
            message = self.state.existing(chat_id, message_id)
            sender = self.state.user(from_user, chat_id)
            query = self.state.new_callback_query(message, sender, data)
        return self._queue("callback_query", query)

    def _recent_calls(self) -> list[str]:
        return [f"{c.method}:{c.status}" for c in self.calls[-8:]]

    # HTTP.
    async def _serve_api(self, request: web.Request) -> web.Response:
        at, method = self.clock(), request.match_info["method"]
        params = await read_params(request)
        status, body = await self._outcome(method, params, request.match_info["token"])
        return self._answer(Call(method, params, at, status, _chat_id(params)), body)

    async def _outcome(self, method: str, params: JsonDict, token: str) -> tuple[int, JsonDict]:
        """Status and body: the result, a Bot API error, or a bug in the fake as a 500."""
        try:
            if token != self.token:
                raise self.wrong_token
            with self._lock:
                self._refuse(method)
                failures = self._failures.get(method.lower())
                if failures:
                    raise failures.popleft()
            if method.lower() == "getupdates":
                result: Any = await self._get_updates(params)
            else:
                with self._lock:
                    result = self.api.handle(method, params)
        except ApiError as exc:
            return exc.status, exc.payload()
        except Exception as exc:  # kept for the test to see, answered like a broken server
            _log.exception("the fake Telegram server failed on %s", method)
            self.server_errors.append(exc)
            return 500, ApiError(500, f"Internal Server Error: {exc!r}").payload()
        return 200, {"ok": True, "result": result}

    def _refuse(self, method: str) -> None:
        """A revoked token, or another poller, as Telegram answers them."""
        if self._revoked is not None:
            raise self._revoked
        if self._conflict is not None and method.lower() == "getupdates":
            raise self._conflict
        if self.state.webhook is not None and method.lower() == "getupdates":
            raise ApiError(409, WEBHOOK_ACTIVE)

    def _answer(self, call: Call, body: JsonDict) -> web.Response:
        """Record, then answer: a caller that got its answer always finds its call recorded."""
        self._record(call)
        return web.json_response(body, status=call.status)

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
        self._signal.notify()

    async def _get_updates(self, params: JsonDict) -> list[JsonDict]:
        """Long poll: answer as soon as an update is queued, or with [] after `timeout` s."""
        with self._lock:
            self.state.updates.confirm(params.get("offset"))
            if "allowed_updates" in params:
                self.state.updates.set_allowed(params["allowed_updates"])
        timeout = params.get("timeout")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (float(timeout) if isinstance(timeout, int | float) else 0.0)
        waiting = False
        try:
            while True:
                changed = self._signal.generation()
                with self._lock:
                    self._refuse("getUpdates")  # revoked while this poll was held
                    batch = copy.deepcopy(self.state.updates.batch(params.get("limit")))
                left = deadline - loop.time()
                if batch or self._closing or left <= 0:
                    return batch
                if not waiting:  # announce it, then look again under the new generation
                    waiting, self.waiting_polls = True, self.waiting_polls + 1
                    self._signal.notify()
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(left):
                        await changed.wait()
        finally:
            if waiting:
                self.waiting_polls -= 1

    async def _serve_file(self, request: web.Request) -> web.Response:
        at, path = self.clock(), request.match_info["path"]
        with self._lock:
            found = next((f for f in self.state.files.values() if f.file_path == path), None)
        if request.match_info["token"] != self.token:
            found = None
        call = Call("download", {"file_path": path}, at, 200 if found else 404, None)
        if found is None:
            return self._answer(call, ApiError(404, "Not Found").payload())
        self._record(call)
        return web.Response(body=found.data, content_type=found.mime_type)


def _chat_id(params: JsonDict) -> int | None:
    chat_id = params.get("chat_id")
    return chat_id if isinstance(chat_id, int) else None
