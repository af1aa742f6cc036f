"""Starting on Discord: a token Discord refuses ends the process with one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.fakes.console_process import bot_env
from tests.fakes.discord_server import FakeDiscord


def test_a_refused_token_is_named_without_a_traceback(
    tmp_path: Path, discord_fake: FakeDiscord
) -> None:
    wrong = discord_fake.token[::-1]
    env = bot_env(
        tmp_path,
        DISCORD_TOKEN=wrong,
        DISCORD_API_URL=discord_fake.api_url,
        DISCORD_GATEWAY_URL=discord_fake.gateway_url,
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "parlor: Discord refused DISCORD_TOKEN; copy the bot's token again."
    )
    assert "Traceback" not in result.stderr
    assert wrong not in result.stderr + result.stdout
    assert discord_fake.calls_to("GET /users/@me")[0].status == 401
