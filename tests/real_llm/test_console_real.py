"""The console bot against a real llama-cpp-python server running SmolLM2-135M-Instruct.

A real model is not deterministic even at temperature 0, so these tests check the
shape of what happens (statuses, events, which endpoint was used), never the words.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.fakes.console_process import ConsoleProcess, bot_env
from tests.real_llm.llama_server import MODEL_ALIAS, RealServer

pytestmark = [pytest.mark.real_llm, pytest.mark.slow]

LOG_POLLS = 100  # x LOG_POLL_SECONDS
LOG_POLL_SECONDS = 0.1


@pytest.fixture
def bot(tmp_path: Path, real_server: RealServer) -> Iterator[ConsoleProcess]:
    env = bot_env(tmp_path, ENCRYPTION_KEYS=Fernet.generate_key().decode())
    console = ConsoleProcess(tmp_path, env)
    yield console
    if console.process.poll() is None:  # a test that failed half-way
        console.kill()


def connect(bot: ConsoleProcess, server: RealServer, api_key: str | None = None) -> str:
    """`/connect` with the URL as people paste it: no /v1."""
    bot.send(f"/connect base_url:{server.root_url} api_key:{api_key or server.api_key}")
    return str(bot.command("connect")["text"])


def command(bot: ConsoleProcess, line: str) -> str:
    bot.send(line)
    return str(bot.command(line.split(maxsplit=1)[0].removeprefix("/"))["text"])


def server_log_since(server: RealServer, mark: int, needle: str) -> str:
    """The server's log after `mark` once it contains `needle` (the log is written async)."""
    for _ in range(LOG_POLLS):
        text = server.log()[mark:]
        if needle in text:
            return text
        time.sleep(LOG_POLL_SECONDS)  # the poll's interval
    raise AssertionError(f"the server never logged {needle!r}:\n{server.log()[mark:]}")


def test_connect_finds_v1_lists_models_and_tests(
    bot: ConsoleProcess, real_server: RealServer
) -> None:
    """A URL without /v1 is repaired and said so; /models lists the model; /test reports."""
    connected = connect(bot, real_server)
    assert f"Connected this channel to {real_server.root_url}/v1." in connected
    assert "added /v1" in connected
    assert MODEL_ALIAS in connected

    models = command(bot, "/models")
    assert f"• {MODEL_ALIAS}" in models.splitlines()

    tested = command(bot, "/test")
    assert tested.startswith("✅"), tested
    assert re.search(r"answered in \d+\.\d\d s\.", tested), tested
    assert re.search(r"^Model: \S", tested, re.MULTILINE), tested
    reply = re.search(r"^Reply: (.*)$", tested, re.MULTILINE)
    assert reply is not None, tested
    assert reply.group(1).strip() not in ("", "(no text)"), tested
    assert bot.close() == 0


def test_chat_reply_streams(bot: ConsoleProcess, real_server: RealServer) -> None:
    """A message is answered as a send and edits, ending complete with text."""
    connect(bot, real_server)
    command(bot, "/params max_tokens:60")
    mark = len(real_server.log())
    bot.send("Write a short paragraph about the sea.")
    done = bot.done()
    assert done["status"] == "complete", done
    assert done["text"].strip()
    writes = [e for e in bot.events if e["type"] in ("send", "edit")]
    assert writes[0]["type"] == "send"
    assert any(e["type"] == "edit" for e in writes), writes
    assert writes[-1]["text"] == done["text"]
    server_log_since(real_server, mark, "POST /v1/chat/completions")
    assert bot.close() == 0


def test_text_completion_mode(bot: ConsoleProcess, real_server: RealServer) -> None:
    """`/api type:text template:chatml` sends a ChatML prompt to /v1/completions."""
    connect(bot, real_server)
    command(bot, "/params max_tokens:60")
    command(bot, "/api type:text template:chatml")
    mark = len(real_server.log())
    bot.send("What is the capital of France?")
    done = bot.done()
    assert done["status"] == "complete", done
    assert done["text"].strip()
    assert "<|im_" not in done["text"]  # the template's stop strings ended the turn
    log = server_log_since(real_server, mark, "POST /v1/completions")
    assert "POST /v1/chat/completions" not in log
    assert bot.close() == 0


def test_wrong_key_is_named(bot: ConsoleProcess, real_server: RealServer) -> None:
    """The server refuses a wrong key with 401; /test and a turn both say it is the key."""
    connected = connect(bot, real_server, api_key="sk-wrong-key-0000")
    assert f"Connected this channel to {real_server.root_url}/v1." in connected
    assert "key" in connected.lower()  # /models was refused, which the answer mentions

    # No model chosen: the one-model lookup (/v1/models) is what the server refuses.
    tested = command(bot, "/test")
    assert not tested.startswith("✅"), tested
    assert "rejected the api key" in tested.lower(), tested

    # A chosen model: the test message itself (/v1/chat/completions) is refused.
    command(bot, f"/model {MODEL_ALIAS}")
    tested = command(bot, "/test")
    assert tested.startswith("❌"), tested
    assert "rejected the api key" in tested.lower(), tested

    bot.send("hello")
    done = bot.done()
    assert done["status"] == "error", done
    assert "key" in done["text"].lower(), done
    assert bot.close() == 0


def test_stop_closes_the_stream_and_the_server_answers_again(
    bot: ConsoleProcess, real_server: RealServer
) -> None:
    """/stop mid-reply ends the turn as stopped and hangs up, so the next turn is served.

    The server runs with --interrupt_requests False: a stream the client left open
    would keep the model busy for all 800 tokens before the next request got a turn.
    """
    connect(bot, real_server)
    command(bot, "/params max_tokens:800")
    # min_tokens (a llama-cpp-python extra) keeps the story going until /stop arrives.
    command(bot, '/extras body:{"min_tokens":700}')
    mark = len(real_server.log())
    bot.send("Tell me a very long story about a dragon and a knight, in many chapters.")
    bot.wait_for(lambda e: e["type"] == "edit" and bool(e["text"].strip()))
    bot.send("/stop")
    assert bot.command("stop")["text"] == "Stopped."
    stopped = bot.done()
    assert stopped["status"] == "stopped", stopped
    assert stopped["text"].strip()
    server_log_since(real_server, mark, "Disconnected from client")

    command(bot, "/extras body:{}")
    command(bot, "/params max_tokens:20")
    bot.send("Say hello.")
    after = bot.done()
    assert after["status"] == "complete", after
    assert after["text"].strip()
    assert bot.close() == 0
