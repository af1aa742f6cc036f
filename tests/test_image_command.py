"""The image's command as the image runs it, without a Docker engine: the Dockerfile's CMD,
its ENV, as its unprivileged user (uid 10001), in a working directory that user cannot
write, with only the data directory writable and stdin closed.

Each start-up failure an operator meets must end with one line and the right exit code
there, not only in a developer's checkout run as root.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.platforms.telegram.delivery import PTB_TIMEDELTA
from tests.fakes.discord.server import FakeDiscord
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram
from tests.fakes.telegram.wire import ApiError

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
RUN_TIMEOUT_SECONDS = 60.0
REQUIRED = "REQUIRE_UNPRIVILEGED_RUN"
"""Set by .ci/run: there, an unprivileged user that cannot run the interpreter is a
failure of the set-up, not a reason to skip."""


@dataclass(frozen=True, slots=True)
class Image:
    """What the Dockerfile's last stage says about how the bot runs."""

    command: list[str]
    env: dict[str, str]
    uid: int
    data_dir: str
    healthcheck: list[str]


def read_image() -> Image:
    text = (REPO / "Dockerfile").read_text()
    last_stage = text.rsplit("\nFROM ", 1)[1]
    [command] = re.findall(r"^CMD (.+)$", last_stage, re.M)
    env: dict[str, str] = {}
    for block in re.findall(r"^ENV ((?:.*\\\n)*.*)$", last_stage, re.M):
        for name, value in re.findall(r"(\w+)=(\S+)", block.replace("\\\n", " ")):
            env[name] = value
    [uid] = re.findall(r"useradd .*--uid (\d+)", last_stage)
    [volume] = re.findall(r"^VOLUME (.+)$", last_stage, re.M)
    [check] = re.findall(r"^HEALTHCHECK (?:.*\\\n)*.*CMD (\[.*\])$", last_stage, re.M)
    return Image(json.loads(command), env, int(uid), json.loads(volume)[0], json.loads(check))


@dataclass(frozen=True, slots=True)
class Container:
    """A working directory laid out as the image's: /app (not writable) and /app/data."""

    workdir: Path
    image: Image

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    def env(self, **settings: str) -> dict[str, str]:
        """The image's ENV and the settings, nothing of this machine's environment but PATH
        to the interpreter: a container starts with nothing else."""
        env = dict(self.image.env)
        env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"
        env["HOME"] = str(self.workdir)  # not writable, as a home the bot must not need
        env.update(settings)
        return env

    def popen(
        self, env: Mapping[str, str], command: list[str] | None = None
    ) -> subprocess.Popen[str]:
        program, *args = command or self.image.command
        return subprocess.Popen(
            [str(Path(sys.executable).parent / program), *args],
            cwd=self.workdir,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            user=self.image.uid,
            group=self.image.uid,
            extra_groups=[],
        )

    def run(
        self, command: list[str] | None = None, **settings: str
    ) -> subprocess.CompletedProcess[str]:
        with self.popen(self.env(**settings), command) as process:
            try:
                out, err = process.communicate(timeout=RUN_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                out, err = process.communicate()
                pytest.fail(f"the command did not end by itself\n{err}")
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@functools.cache
def _unprivileged_python_works(uid: int) -> str | None:
    """Why the image's user cannot run this interpreter here, or None when it can."""
    if os.geteuid() != 0:
        return "only root can start a process as the image's user"
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import bot.__main__"],
            cwd="/",
            user=uid,
            group=uid,
            extra_groups=[],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        return f"uid {uid} cannot run {sys.executable} ({exc.strerror})"
    if done.returncode:
        return f"uid {uid} cannot run {sys.executable} ({done.stderr.strip()[-200:]})"
    return None


@pytest.fixture
def container() -> Iterator[Container]:
    image = read_image()
    problem = _unprivileged_python_works(image.uid)
    if problem and os.environ.get(REQUIRED):
        pytest.fail(problem)
    if problem:
        pytest.skip(problem)
    # Not pytest's tmp_path: it sits in a directory only root may enter.
    workdir = Path(tempfile.mkdtemp(prefix="parlor-image-"))
    try:
        workdir.chmod(0o755)
        data = workdir / "data"
        data.mkdir()
        os.chown(data, image.uid, image.uid)
        yield Container(workdir, image)
    finally:
        shutil.rmtree(workdir)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The `parlor:` line that ends stderr: the only one, and no traceback anywhere (the
    INFO lines of a start that got as far as migrating may come before it)."""
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    said = [line for line in lines if line.startswith("parlor: ")]
    assert said == lines[-1:], result.stderr
    return said[0]


def test_the_image_data_directory_is_the_default_database_directory(container: Container) -> None:
    """The volume is where the default DATABASE_URL (relative to WORKDIR /app) keeps its file."""
    assert container.image.data_dir == "/app/data"
    assert "WORKDIR /app" in (REPO / "Dockerfile").read_text().rsplit("\nFROM ", 1)[1]
    assert "DATABASE_URL" not in container.image.env


def test_no_token_and_no_terminal_is_one_line_and_exit_2(container: Container) -> None:
    result = container.run()
    assert result.returncode == 2
    assert "set TELEGRAM_TOKEN or DISCORD_TOKEN" in one_line(result)
    assert os.listdir(container.data) == []


def test_a_bad_setting_is_one_line_and_exit_2(container: Container) -> None:
    result = container.run(TELEGRAM_TOKEN="123:abc", LOG_FORMAT="xml")
    assert result.returncode == 2
    assert "LOG_FORMAT" in one_line(result)


def test_a_data_volume_the_user_cannot_write_is_named(container: Container) -> None:
    """A bind mount left owned by root: the bot names the directory and what to do."""
    os.chown(container.data, 0, 0)
    container.data.chmod(0o755)
    result = container.run(TELEGRAM_TOKEN="123:abc")
    assert result.returncode == 1
    line = one_line(result)
    assert "data" in line
    assert "may write to it, or set DATABASE_URL" in line


def test_postgres_down_is_one_line_and_exit_1(container: Container) -> None:
    with socket.socket() as held:  # bound, not listening: refused at once
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        url = f"postgresql+asyncpg://parlor:Pg-s3cret-pw@127.0.0.1:{port}/parlor"
        result = container.run(TELEGRAM_TOKEN="123:abc", DATABASE_URL=url)
    assert result.returncode == 1
    assert f"127.0.0.1:{port} can't be reached" in one_line(result)
    assert "Pg-s3cret-pw" not in result.stderr + result.stdout


def test_a_telegram_token_refused_at_start_is_one_line_and_exit_1(container: Container) -> None:
    with FakeTelegram.in_thread() as telegram:
        telegram.wrong_token = ApiError(401, "Unauthorized")
        junk = f"{telegram.token.split(':')[0]}:AAjunk{'x' * 30}"
        result = container.run(TELEGRAM_TOKEN=junk, TELEGRAM_API_URL=telegram.base_url)
    assert result.returncode == 1
    assert "TELEGRAM_TOKEN" in one_line(result)
    assert junk.split(":")[1] not in result.stderr + result.stdout


def test_a_discord_token_refused_at_start_is_one_line_and_exit_1(container: Container) -> None:
    with FakeDiscord.in_thread() as discord:
        wrong = discord.token[::-1]
        result = container.run(
            DISCORD_TOKEN=wrong,
            DISCORD_API_URL=discord.api_url,
            DISCORD_GATEWAY_URL=discord.gateway_url,
        )
    assert result.returncode == 1
    assert "Discord refused DISCORD_TOKEN" in one_line(result)
    assert wrong not in result.stderr + result.stdout


def test_the_image_serves_passes_its_healthcheck_and_stops_on_sigterm(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The happy path as the image runs it: it migrates into the volume, polls Telegram,
    its own HEALTHCHECK command passes, and `docker stop`'s SIGTERM ends it with 0 well
    within the grace; nothing is written outside the data directory."""
    assert container.image.env["HTTP_PORT"], "the image turns the listener on"
    monkeypatch.setenv(PTB_TIMEDELTA, "true")
    with FakeTelegram.in_thread() as telegram, FakeOpenAI.in_thread() as endpoint:
        settings = {
            "TELEGRAM_TOKEN": telegram.token,
            "TELEGRAM_API_URL": telegram.base_url,
            "DEFAULT_BASE_URL": endpoint.base_url,
            "HTTP_PORT": str(_free_port()),  # the image's 8080, moved for parallel tests
        }
        with container.popen(container.env(**settings)) as process:
            try:
                telegram.wait_for_sync(lambda: telegram.waiting_polls > 0, timeout=60)
                checked = container.run(container.image.healthcheck, **settings)
                started = time.monotonic()
                process.send_signal(signal.SIGTERM)
                code = process.wait(timeout=RUN_TIMEOUT_SECONDS)
                seconds = time.monotonic() - started
            finally:
                if process.poll() is None:
                    process.kill()
                _, err = process.communicate()
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert code == 0, err
    assert seconds < 10.0, err  # docker stop's kill; exit code 0 shows its own 8 s held
    assert "Traceback" not in err
    assert sorted(os.listdir(container.workdir)) == ["data"]
    assert "parlor.db" in os.listdir(container.data)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
