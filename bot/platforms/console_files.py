"""Files at the console: `file:<path>` and `/attach <path>` stand in for a chat app's
attachments, and exported cards are written to a folder.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from bot.domain import Attachment

ATTACH = "attach"
MAX_FILE_BYTES = 20 * 1024 * 1024
_UNSAFE = re.compile(r"[^\w.\- ]")


class FileProblem(Exception):
    """A path the console could not read; its message is shown as the answer."""


class ConsoleFiles:
    def __init__(self, export_dir: Path) -> None:
        self._export_dir = export_dir
        self._pending: list[Attachment] = []

    def read(self, raw_path: str) -> Attachment:
        path = Path(raw_path.strip().strip('"')).expanduser()
        try:
            with path.open("rb") as file:
                data = file.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise FileProblem(f"Can't read {path}: {exc.strerror or exc}.") from exc
        if len(data) > MAX_FILE_BYTES:
            raise FileProblem(f"{path} is over {MAX_FILE_BYTES // (1024 * 1024)} MB.")
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return Attachment(path.name, kind, data)

    def attach(self, raw_path: str) -> str:
        """Keep a file for the next message, as a chat app sends a picture with a message."""
        if not raw_path.strip():
            return "Usage: /attach <path>: the file goes with your next message."
        try:
            attachment = self.read(raw_path)
        except FileProblem as exc:
            return str(exc)
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
