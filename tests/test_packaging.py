"""Parlor as operators install it: a wheel, outside any checkout, with every import declared.

The wheel test builds the package, installs it with pip into a new virtualenv in a
temporary directory, and runs the installed `parlor` command there: migrations and a
console turn against the fake endpoint. The new venv borrows the development venv's
third-party packages through a path file (offline, and seconds instead of a download);
only its own site-packages holds Parlor, and the test checks that is what ran.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.config import Settings
from tests.fakes.console_process import bot_env
from tests.fakes.openai.server import FakeOpenAI

REPO = Path(__file__).resolve().parents[1]
COMMAND_TIMEOUT_SECONDS = 120.0


def declared_distributions() -> set[str]:
    """The distributions pyproject's `dependencies` name, normalised."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(Requirement(spec).name) for spec in project["dependencies"]}


def imported_top_levels() -> set[str]:
    """Every third-party top-level module bot/ imports."""
    found: set[str] = set()
    for source in (REPO / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.partition(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name != "bot"}


def test_every_module_the_bot_imports_is_a_declared_dependency() -> None:
    """An import that only works because another package happens to pull it in breaks the
    day that package stops doing so: each one is named in pyproject."""
    providers = importlib.metadata.packages_distributions()
    declared = declared_distributions()
    undeclared = {
        module: providers.get(module, ["(not installed)"])
        for module in imported_top_levels()
        if not any(canonicalize_name(dist) in declared for dist in providers.get(module, []))
    }
    assert undeclared == {}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv, outside the repository, with the freshly built wheel pip-installed."""
    root = tmp_path_factory.mktemp("installed")
    wheels = root / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--quiet"]
    _run([*build, "--wheel-dir", str(wheels)], cwd=root)
    [wheel] = wheels.glob("parlor-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=root)
    python = venv / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=root,
        ).strip()
    )
    # Third-party packages from the development venv, behind the new venv's own: its
    # path files (the editable install among them) are not read from there.
    (site / "dev_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        cwd=root,
    )
    return venv


def _run(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None, stdin: str = "") -> str:
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"{argv} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def clean_env(workdir: Path, **settings: str) -> dict[str, str]:
    """The bot's environment with nothing that could reach the checkout."""
    env = bot_env(workdir, **settings)
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(name, None)
    return env


@pytest.mark.slow
def test_the_installed_wheel_runs_from_its_own_package(installed: Path, tmp_path: Path) -> None:
    """`bot` comes from the new venv, and the `parlor` script is the one pip wrote there."""
    where = _run(
        [str(installed / "bin" / "python"), "-c", "import bot; print(bot.__file__)"],
        cwd=tmp_path,
        env=clean_env(tmp_path),
    )
    assert Path(where.strip()).is_relative_to(installed), where
    assert not Path(where.strip()).is_relative_to(REPO)
    usage = _run(
        [str(installed / "bin" / "parlor"), "--help"], cwd=tmp_path, env=clean_env(tmp_path)
    )
    assert usage.startswith("usage: parlor"), usage


@pytest.mark.slow
def test_the_installed_parlor_migrates_and_answers_outside_the_repository(
    installed: Path, tmp_path: Path
) -> None:
    """`parlor migrate` then a console turn, from a directory with no checkout in sight."""
    parlor = str(installed / "bin" / "parlor")
    with FakeOpenAI.in_thread() as endpoint:
        env = clean_env(tmp_path, DEFAULT_BASE_URL=endpoint.base_url, DEFAULT_MODEL="parlor-test")
        done = subprocess.run(
            [parlor, "migrate"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "Database is up to date." in done.stderr
        assert (tmp_path / "data" / "parlor.db").stat().st_size > 0
        out = _run([parlor, "console", "--jsonl"], cwd=tmp_path, env=env, stdin="hello there\n")
    events = [json.loads(line) for line in out.splitlines()]
    assert events[-1]["type"] == "done", events
    assert events[-1]["status"] == "complete", events
    assert "hello there" in events[-1]["text"]
    assert endpoint.requests[-1].json["messages"][-1]["content"] == "hello there"
    assert os.listdir(tmp_path / "data")  # the database lives where the operator runs it


def locked_versions() -> dict[str, str]:
    """`name==version` pins of requirements.lock, names normalised."""
    pins = re.findall(r"^([A-Za-z0-9][\w.\-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", _lock_text(), re.M)
    return {canonicalize_name(name): version for name, version in pins}


def _lock_text() -> str:
    return (REPO / "requirements.lock").read_text(encoding="utf-8")


def test_the_lock_file_pins_every_dependency_within_its_range() -> None:
    """`make lock` was run after pyproject's dependencies last changed: each is pinned, at a
    version its range allows, and every pin carries hashes for the image's --require-hashes."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = locked_versions()
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {requirement.name}=={pins[name]}, outside {spec}: "
            "run make lock"
        )
    blocks = re.split(r"\n(?=[A-Za-z0-9])", _lock_text().split("\n", 2)[2])
    assert all("--hash=sha256:" in block for block in blocks if "==" in block)


def test_the_image_installs_the_lock_and_runs_the_tested_command() -> None:
    """The Dockerfile installs the locked versions with their hashes, then Parlor alone, and
    starts the command the tests above run."""
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "pip install --require-hashes -r /tmp/requirements.lock" in dockerfile
    assert re.search(r"^RUN pip install --no-deps /tmp/wheels/\*\.whl", dockerfile, re.M)
    assert re.search(r"^USER parlor$", dockerfile, re.M), "the bot never runs as root"
    assert 'VOLUME ["/app/data"]' in dockerfile
    [command] = re.findall(r"^CMD (.+)$", dockerfile, re.M)
    assert json.loads(command) == ["parlor", "run"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["parlor"] == "bot.__main__:main"


def test_the_build_context_holds_what_the_image_copies_and_no_secrets() -> None:
    """.dockerignore lets in every path the Dockerfile copies, and keeps out .env (tokens),
    data/ (the database) and the venv."""
    rules = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "everything is left out unless let in"
    allowed = {rule.removeprefix("!").rstrip("/") for rule in rules if rule.startswith("!")}
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", (REPO / "Dockerfile").read_text(), re.M)
    sources = {source.rstrip("/") for line in copied for source in line.split()}
    assert sources <= allowed, sources - allowed
    assert not allowed & {".env", "data", ".venv", ".git"}


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((REPO / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_runs_the_image_beside_a_model_server_it_reaches_by_name() -> None:
    """The bot's default endpoint is the model service, by its name and the port the server
    is told to listen on; both restart on their own; the bot waits for the model to load."""
    services = compose()["services"]
    llm, parlor = services["llm"], services["parlor"]
    port = llm["command"][llm["command"].index("--port") + 1]
    alias = llm["command"][llm["command"].index("-a") + 1]
    assert parlor["environment"]["DEFAULT_BASE_URL"] == f"http://llm:{port}/v1"
    assert parlor["environment"]["DEFAULT_MODEL"] == alias
    assert f"localhost:{port}/health" in " ".join(llm["healthcheck"]["test"])
    assert parlor["depends_on"]["llm"]["condition"] == "service_healthy"
    assert {llm["restart"], parlor["restart"]} == {"unless-stopped"}
    assert parlor["build"] == "."
    assert any(volume.endswith(":/app/data") for volume in parlor["volumes"])


def test_the_postgres_profile_is_what_the_example_settings_point_at() -> None:
    """`--profile postgres` starts a database whose user, password and name are the ones
    .env.example's commented DATABASE_URL uses, at the service's name."""
    services = compose()["services"]
    postgres = services["postgres"]
    assert postgres["profiles"] == ["postgres", "scale"]
    assert services["parlor"]["depends_on"]["postgres"]["required"] is False
    example = (REPO / ".env.example").read_text()
    [url] = re.findall(r"^# DATABASE_URL=(postgresql\+asyncpg://\S+)$", example, re.M)
    env = postgres["environment"]
    password = env["POSTGRES_PASSWORD"].split(":-")[-1].rstrip("}")
    assert url == (
        f"postgresql+asyncpg://{env['POSTGRES_USER']}:{password}@postgres:5432/{env['POSTGRES_DB']}"
    )


def scaled() -> dict[str, dict[str, Any]]:
    """The services of the scale profile that run Parlor itself."""
    services = compose()["services"]
    return {
        name: service
        for name, service in services.items()
        if service.get("profiles") == ["scale"] and service.get("image") == "parlor:latest"
    }


def test_the_scale_profile_splits_the_work_between_processes_that_share_their_state() -> None:
    """Two Discord processes own one shard each of the same count, and leave Telegram alone;
    two Telegram webhook workers leave Discord alone; all share one PostgreSQL database and
    one Redis, which the profile starts with them."""
    services = compose()["services"]
    processes = scaled()
    shards = [s["environment"] for n, s in processes.items() if n.startswith("discord-shard")]
    workers = [s["environment"] for n, s in processes.items() if n.startswith("telegram-webhook")]
    assert len(shards) == 2
    assert len(workers) == 2
    assert {env["DISCORD_SHARD_COUNT"] for env in shards} == {"2"}
    assert sorted(env["DISCORD_SHARD_IDS"] for env in shards) == ["0", "1"]
    assert all(env["TELEGRAM_TOKEN"] == "" for env in shards)
    assert all(env["DISCORD_TOKEN"] == "" for env in workers)
    everyone = [*shards, *workers]
    assert len({env["DATABASE_URL"] for env in everyone}) == 1
    assert everyone[0]["DATABASE_URL"].split("@")[1].startswith("postgres:5432/")
    assert {env["REDIS_URL"] for env in everyone} == {"redis://redis:6379/0"}
    assert {"postgres", "redis"} <= set(processes["discord-shard-0"]["depends_on"])
    assert "scale" in services["postgres"]["profiles"]
    assert services["redis"]["profiles"] == ["scale"]


def test_the_webhook_proxy_sends_the_webhook_path_to_every_worker_and_nothing_else() -> None:
    """Telegram's POSTs to the webhook URL's path reach both workers on their HTTP_PORT;
    their health and metrics are not published."""
    workers = {n: s for n, s in scaled().items() if n.startswith("telegram-webhook")}
    caddyfile = compose()["configs"]["caddyfile"]["content"]
    [url] = {service["environment"]["TELEGRAM_WEBHOOK_URL"] for service in workers.values()}
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    assert f"handle {path}*" in caddyfile
    [upstreams] = re.findall(r"reverse_proxy (.+)", caddyfile)
    ports = {service["environment"]["HTTP_PORT"] for service in workers.values()}
    assert set(upstreams.split()) == {f"{name}:{port}" for name in workers for port in ports}
    assert "respond 404" in caddyfile
    assert {service["environment"]["HTTP_HOST"] for service in workers.values()} == {"0.0.0.0"}


def test_every_setting_the_compose_file_gives_parlor_is_one_it_reads() -> None:
    """A misspelt variable would be ignored silently: each name must be a setting."""
    known = {name.upper() for name in Settings.model_fields}
    services = compose()["services"]
    parlors = {"parlor": services["parlor"], **scaled()}
    for name, service in parlors.items():
        unknown = set(service["environment"]) - known
        assert not unknown, f"{name} sets {sorted(unknown)}, which Parlor does not read"
