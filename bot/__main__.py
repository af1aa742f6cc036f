"""`parlor [run|console|migrate]` (or `python -m bot`): parse the command line, read
settings, run.

Problems an operator can fix (a bad setting, an unreachable database) end the
process with one line on stderr, not a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import io
import signal
import sys

from bot.app import Parlor, migrate, operator_secrets
from bot.config import Settings, load_settings
from bot.core.errors import BotError
from bot.logs import RedactionFilter, configure_logging
from bot.platforms.console.session import ConsoleIdentity

EXIT_CONFIG = 2
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
    if args.command == "run" and (settings.telegram_token or settings.discord_token):
        async with Parlor(settings) as app:
            await app.run_platforms(_stop_on_signals())
        return 0
    identity = ConsoleIdentity(
        chat_id=getattr(args, "chat", "console"),
        user_name=getattr(args, "user", None) or _login_name(),
    )
    jsonl = bool(getattr(args, "jsonl", False))
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")  # one bad byte must not end the session
    async with Parlor(settings) as app:
        await app.run_console(sys.stdin, sys.stdout, identity=identity, jsonl=jsonl)
    return 0


def _stop_on_signals() -> asyncio.Event:
    """Set on SIGINT or SIGTERM (a container's stop), so replies and polls end cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


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
