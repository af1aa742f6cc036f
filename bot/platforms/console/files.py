"""Files at the console: `file:<path>` and `/attach <path>` stand in for a chat app's
attachments, and exported cards are written to a folder.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from bot.core.domain import Attachment
from bot.core.files import refusal, refusal_by_size

ATTACH = "attach"
ATTACH_HELP = (
    "/attach <path> — send a file with your next message: an image for a vision model, "
    "or a text file (.txt, .md, .json, code…) read into it"
)
MAX_FILE_BYTES = 20 * 1024 * 1024
_UNSAFE = re.compile(r"[^\w.\- ]")


class FileProblem(Exception):
    """A path the console could not read; its message is shown as the answer."""


class ConsoleFiles:
    """Reads the files the operator names, holds those attached to the next message, and
    writes exported cards."""

    def __init__(self, export_dir: Path) -> None:
        self._export_dir = export_dir
        self._pending: list[Attachment] = []

    def read(self, raw_path: str, *, attached: bool = False) -> Attachment:
        """The file at `raw_path`, or FileProblem saying why not. An `attached` file (one for
        the model) is judged by its size before it is read, as a chat platform announces it."""
        path = Path(raw_path.strip().strip('"')).expanduser()
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        try:
            problem = refusal_by_size(path.name, kind, path.stat().st_size) if attached else None
            if problem:
                raise FileProblem(problem)
            with path.open("rb") as file:
                data = file.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise FileProblem(f"Can't read {path}: {exc.strerror or exc}.") from exc
        if len(data) > MAX_FILE_BYTES:
            raise FileProblem(f"{path} is over {MAX_FILE_BYTES // (1024 * 1024)} MB.")
        return Attachment(path.name, kind, data)

    def attach(self, raw_path: str) -> str:
        """Keep a file for the next message, as a chat app sends a picture with a message;
        a file the model could not be given is refused now, in one line."""
        if not raw_path.strip():
            return "Usage: /attach <path>: the file goes with your next message."
        try:
            attachment = self.read(raw_path, attached=True)
        except FileProblem as exc:
            return str(exc)
        problem = refusal(attachment)
        if problem:
            return problem
        self._pending.append(attachment)
        return f"Attached {attachment.filename}; it goes with your next message."

    def take_pending(self) -> tuple[Attachment, ...]:
        taken, self._pending = tuple(self._pending), []
        return taken

    def save(self, file: Attachment) -> str:
        """Write an exported file and say where; a name is never a path."""
        name = _UNSAFE.sub("_", file.filename).lstrip(".") or "export"
        try:
            self._export_dir.mkdir(parents=True, exist_ok=True)
            target = self._export_dir / name
            target.write_bytes(file.data)
        except OSError as exc:
            return f"Could not save {name}: {exc.strerror or exc}."
        return f"Saved {target} ({len(file.data):,} bytes)."
