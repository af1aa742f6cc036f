"""`parlor [run|console|migrate]` (or `python -m bot`): parse the command line, read
settings, run, and stop like a service.

Problems an operator can fix (a bad setting, an unreachable database) end the
process with one line on stderr, not a traceback. SIGTERM and SIGINT stop it within
SHUTDOWN_GRACE_SECONDS in every mode, the console as PID 1 included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import io
import logging
import os
import signal
import sys
import threading
from types import FrameType

from bot.app import Parlor, migrate, operator_secrets
from bot.config import Settings, load_settings
from bot.core.errors import BotError
from bot.logs import RedactionFilter, configure_logging
from bot.platforms.console.session import ConsoleIdentity

_log = logging.getLogger("bot.main")

EXIT_CONFIG = 2
EXIT_SHUTDOWN_OVERRAN = 1
"""The code when the shutdown did not finish within the grace and was cut short."""
OVERRAN_LINE_SECONDS = 0.5
"""How long the watchdog waits for its line to be written (stderr may be stuck too)."""
NOBODY_TO_CHAT_WITH = (
    "No platform token is set and stdin is not a terminal, so there is nobody to talk to: "
    "set TELEGRAM_TOKEN or DISCORD_TOKEN, or run `parlor console` to chat from a terminal "
    "(it also reads piped input)."
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="parlor",
        description="Parlor: talk to any OpenAI-compatible model from Discord, Telegram "
        "or this console.",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="run the configured platforms (the console when none is)")
    console = commands.add_parser("console", help="chat from this terminal")
    console.add_argument("--chat", default="console", help="conversation id (default: console)")
    console.add_argument("--user", default=None, help="your name in the chat")
    console.add_argument("--jsonl", action="store_true", help="one JSON object per line")
    commands.add_parser("migrate", help="apply database migrations and exit")
    args = parser.parse_args(argv)
    if args.command is None:
        args.command = "run"
    return args


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "migrate":
        await migrate(settings)
        print("Database is up to date.", file=sys.stderr)
        return 0
    stop = StopSignals(settings.shutdown_grace_seconds).install()
    if args.command == "run" and (settings.telegram_token or settings.discord_token):
        async with Parlor(settings) as app:
            await app.run_platforms(stop)
        return 0
    identity = ConsoleIdentity(
        chat_id=getattr(args, "chat", "console"),
        user_name=getattr(args, "user", None) or _login_name(),
    )
    jsonl = bool(getattr(args, "jsonl", False))
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")  # one bad byte must not end the session
    async with Parlor(settings) as app:
        await app.run_console(sys.stdin, sys.stdout, identity=identity, jsonl=jsonl, stop=stop)
    return 0


class StopSignals:
    """SIGINT and SIGTERM (a container's stop) set an event the running mode winds down on.

    The first signal also starts a watchdog thread: if the process has not ended
    `grace` seconds later (a stuck loop, a platform that does not let go), it logs one
    line and exits anyway, before the process manager's SIGKILL. What the chats were
    shown is already in the database by then, and is settled once this process's lease
    runs out. A second signal exits at once. Python-level handlers rather than the loop's,
    so that a loop that is stuck still gets the watchdog started.
    """

    def __init__(self, grace: float) -> None:
        self._grace = grace
        self._signalled: int | None = None
        self._loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()

    def install(self) -> asyncio.Event:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)
        return self.stop

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self._signalled is not None:
            os.write(2, b"parlor: stopped at once on a second signal\n")
            os._exit(128 + signum)
        self._signalled = signum
        watchdog = threading.Timer(self._grace, self._overran)
        watchdog.name = "shutdown-watchdog"
        watchdog.daemon = True
        watchdog.start()
        with contextlib.suppress(RuntimeError):  # the loop has closed: the process is ending
            self._loop.call_soon_threadsafe(self.stop.set)

    def _overran(self) -> None:
        line = threading.Thread(target=self._say_overran, name="shutdown-line", daemon=True)
        line.start()
        line.join(OVERRAN_LINE_SECONDS)
        os._exit(EXIT_SHUTDOWN_OVERRAN)

    def _say_overran(self) -> None:
        _log.warning(
            "shutdown took longer than SHUTDOWN_GRACE_SECONDS=%g; exiting now, and replies "
            "still being written are settled once this process's lease runs out",
            self._grace,
        )
        for handler in logging.getLogger().handlers:
            handler.flush()


def _nobody_to_chat_with(settings: Settings) -> bool:
    """No platform to serve and no terminal for the console: in a container `run` would
    read EOF at once and exit, a silent stop or a silent restart loop."""
    if settings.telegram_token or settings.discord_token:
        return False
    return sys.stdin is None or not sys.stdin.isatty()


def _chatting_in_a_terminal(args: argparse.Namespace) -> bool:
    console = args.command in {"console", "run"}
    return console and not getattr(args, "jsonl", False) and sys.stderr.isatty()


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "you"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings()
    except BotError as exc:
        _say(exc, RedactionFilter())
        return EXIT_CONFIG
    level = settings.log_level
    if _chatting_in_a_terminal(args) and "log_level" not in settings.model_fields_set:
        level = "WARNING"  # INFO lines would land in the middle of the conversation
    configure_logging(
        level, secrets=operator_secrets(settings), json_lines=settings.log_format == "json"
    )
    if args.command == "run" and _nobody_to_chat_with(settings):
        print(f"parlor: {NOBODY_TO_CHAT_WITH}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        return asyncio.run(_run(args, settings))
    except BotError as exc:
        _say(exc, RedactionFilter(operator_secrets(settings)))
        return 1
    except KeyboardInterrupt:
        return 130


def _say(problem: BotError, redaction: RedactionFilter) -> None:
    """One line on stderr for the operator. Our errors never carry a secret, and this
    line is redacted like the log all the same: it is the last thing a crash loop shows."""
    print(f"parlor: {redaction.redact(str(problem))}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
