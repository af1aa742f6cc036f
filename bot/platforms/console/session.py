"""The console platform: chat and commands on stdin/stdout, interactive or as JSON lines.

Operators use it to try a connection from inside the container; scripts and
tests use `--jsonl`. It talks to the service only through the ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.core.commands import streams, takes_file
from bot.core.domain import (
    Actor,
    ChannelKey,
    CommandCall,
    Incoming,
    MessageStatus,
    Permission,
    TurnOutcome,
)
from bot.core.ports import Conversations
from bot.core.untrusted import safe_to_show
from bot.platforms.common.command_syntax import is_command, parse_command
from bot.platforms.common.streamed_turns import StreamedTurns
from bot.platforms.console.files import ATTACH, ATTACH_HELP, ConsoleFiles, FileProblem
from bot.platforms.console.output import CONSOLE_LIMITS, ConsoleOutput, ConsoleReplier

_log = logging.getLogger(__name__)

__all__ = ["CONSOLE_LIMITS", "ConsoleIdentity", "ConsoleOutput", "ConsoleSession"]

PLATFORM = "console"
_EOF = None
WELCOME = "Parlor console: type a message to chat, /help for commands, Ctrl-D to quit.\n"


@dataclass(frozen=True, slots=True)
class ConsoleIdentity:
    chat_id: str
    user_name: str
    export_dir: Path = Path("exports")  # where exported cards are written


class ConsoleSession:
    """Runs lines in order, except `/stop`, which stops the reply being written now.

    A `/stop` read while a message still waits for its turn stops that message's
    reply as soon as it starts. At end of input every line already read is still
    answered, then the session ends; after `end_input` (a shutdown) only the line
    being answered is finished.
    """

    def __init__(
        self,
        service: Conversations,
        output: ConsoleOutput,
        identity: ConsoleIdentity,
    ) -> None:
        self._service = service
        self._turns = StreamedTurns(service)
        self._output = output
        self._channel = ChannelKey(PLATFORM, identity.chat_id)
        # The operator at the console may run every command; a URL they set is
        # still untrusted (it is stored like any chat's connection).
        self._actor = Actor(identity.user_name, identity.user_name, Permission.OPERATOR)
        self._refs = itertools.count(1)
        self._chats_ahead = 0  # messages read whose turn has not ended yet
        self._turn_begun = asyncio.Event()  # the current message's turn has sent something
        self._stops: set[asyncio.Task[None]] = set()
        self._files = ConsoleFiles(identity.export_dir)
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._ending = False

    def end_input(self) -> None:
        """End the session as a shutdown does: no more lines are read (the reader thread,
        blocked on its read, is left behind), and lines read but not yet begun are dropped.
        The line being answered runs on; the service stops its reply."""
        self._ending = True
        self._lines.put_nowait(_EOF)

    async def run(self, stdin: TextIO) -> None:
        lines = self._lines
        work: asyncio.Queue[str | None] = asyncio.Queue()
        _start_reader(stdin, lines, asyncio.get_running_loop())
        worker = asyncio.create_task(self._work(work))
        try:
            while (line := await lines.get()) is not _EOF and not self._ending:
                text = line.strip()
                if is_command(text) and parse_command(text)[0] == "stop":
                    await self._stop(text)
                else:
                    if text and (not is_command(text) or _rewrites(text)):
                        self._chats_ahead += 1
                    work.put_nowait(line)
            work.put_nowait(_EOF)
            await worker
            for stop in list(self._stops):  # stops for turns that never started sending
                stop.cancel()
            await asyncio.gather(*self._stops, return_exceptions=True)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def _stop(self, line: str) -> None:
        if self._chats_ahead == 0 or self._turn_begun.is_set():
            await self._command(line)
            return

        async def when_begun() -> None:
            await self._turn_begun.wait()
            await self._command(line)

        task = asyncio.create_task(when_begun())
        self._stops.add(task)
        task.add_done_callback(self._stops.discard)

    async def _work(self, work: asyncio.Queue[str | None]) -> None:
        if not self._output.jsonl:
            self._output.write(WELCOME)
        self._prompt()
        while (line := await work.get()) is not _EOF:
            text = line.strip()
            if not text or self._ending:
                continue
            try:
                if _rewrites(text):
                    await self._rewrite(text)
                elif is_command(text):
                    await self._command(text)
                else:
                    await self._chat(text)
            except Exception:  # noqa: BLE001 - the per-event boundary: one bad line must not end the session
                _log.exception("the console could not handle a line")
                self._report_failure()
            self._prompt()

    async def _command(self, line: str) -> None:
        name, options = parse_command(line)
        if name == ATTACH:
            self._answer(name, self._files.attach(line.partition(" ")[2]))
            return
        try:
            call = self._call(name, options)
        except FileProblem as exc:
            self._answer(name, str(exc))
            return
        result = await self._service.run_command(call)
        text = result.text
        if name == "help":  # the console's own command, beside the service's
            text = f"{text}\n{ATTACH_HELP}"
        saved = self._files.save(result.file) if result.file else None
        if saved:
            text = f"{text}\n{saved}"
        if result.confirmation is not None:  # no buttons here: the line that presses it
            text = f"{text}\nTo confirm, type: {result.confirmation.typed}"
        speaker = _printable(result.speaker)
        fields = {"speaker": speaker} if speaker else {}
        self._answer(name, text, **fields)

    def _answer(self, name: str, text: str, **fields: str) -> None:
        if self._output.jsonl:
            self._output.event(type="command", name=name, text=text, **fields)
        else:
            speaker = f"{fields['speaker']}: " if "speaker" in fields else ""
            self._output.write(f"\n{speaker}{text}\n")

    def _call(self, name: str, options: dict[str, str]) -> CommandCall:
        """The console's form of an attachment is `file:<path>`: read here, sent as a file."""
        path = options.pop("file", None) if takes_file(name) else None
        attachments = (self._files.read(path),) if path else ()
        return CommandCall(
            name=name,
            options=options,
            channel=self._channel,
            actor=self._actor,
            attachments=attachments,
        )

    async def _rewrite(self, line: str) -> None:
        name, options = parse_command(line)
        call = self._call(name, options)
        await self._reply(lambda replier: self._turns.rewrite(call, replier))

    async def _chat(self, text: str) -> None:
        incoming = Incoming(
            channel=self._channel,
            author_id=self._actor.user_id,
            author_name=self._actor.display_name,
            text=text,
            attachments=self._files.take_pending(),
        )
        await self._reply(lambda replier: self._turns.reply(incoming, replier))

    async def _reply(self, turn: Callable[[ConsoleReplier], Awaitable[TurnOutcome]]) -> None:
        speaker = await self._service.character_name(self._channel)
        replier = ConsoleReplier(
            self._output, self._refs, on_send=self._turn_begun, speaker=_printable(speaker)
        )
        try:
            outcome = await turn(replier)
        finally:  # the replier is settled by then: its text written where it was not live
            self._chats_ahead -= 1
            self._turn_begun.clear()
        if self._output.jsonl:
            self._output.event(type="done", status=_done_status(outcome), text=_done_text(outcome))
        else:
            self._output.write("\n")

    def _report_failure(self) -> None:
        text = "Something went wrong on our side; the details are in the bot's log."
        if self._output.jsonl:
            self._output.event(type="done", status="error", text=text)
        else:
            self._output.write(f"\n{text}\n")

    def _prompt(self) -> None:
        if not self._output.jsonl:
            self._output.write("\nyou> ")


def _printable(name: str | None) -> str | None:
    """A character's name as a line's lead: no escape codes or bidi overrides."""
    shown = safe_to_show(name or "").strip()
    return shown or None


def _rewrites(text: str) -> bool:
    return is_command(text) and streams(parse_command(text)[0])


def _done_status(outcome: TurnOutcome) -> str:
    if outcome.status is MessageStatus.COMPLETE:
        return "complete"
    if outcome.status is MessageStatus.STOPPED:
        return "stopped"
    return "error"


def _done_text(outcome: TurnOutcome) -> str:
    if outcome.status is MessageStatus.ERROR and outcome.error_text:
        return outcome.error_text
    return outcome.content


def _start_reader(
    stdin: TextIO, lines: asyncio.Queue[str | None], loop: asyncio.AbstractEventLoop
) -> None:
    """Read stdin on a daemon thread: works for terminals, pipes and redirected files alike."""

    def read() -> None:
        try:
            for line in stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
        except (OSError, ValueError):
            _log.warning("stopped reading the console input")
        except RuntimeError:  # the session ended on a signal and its loop has closed
            return
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                loop.call_soon_threadsafe(lines.put_nowait, _EOF)

    threading.Thread(target=read, name="console-stdin", daemon=True).start()
