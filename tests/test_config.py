"""Settings come from the environment and fail fast with one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import operator_limits
from bot.config import load_settings
from bot.core.domain import ModelPrice
from bot.core.errors import ConfigError
from bot.core.quotas import Limits


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No .env of the developer's and no stray variables leak into these tests."""
    monkeypatch.chdir(tmp_path)
    for name in (
        "DATABASE_URL",
        "DEFAULT_BASE_URL",
        "ENCRYPTION_KEYS",
        "LOG_LEVEL",
        "DEFAULT_API_KEY",
        "ALLOW_PRIVATE_ENDPOINTS",
        "ALLOWED_ENDPOINT_HOSTS",
        "MODEL_PRICES",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_need_nothing() -> None:
    """With no configuration the bot uses a local SQLite file."""
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///data/parlor.db"
    assert settings.allow_private_endpoints is False
    assert settings.encryption_keys == []


def test_bad_database_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unsupported database scheme is refused with the variable's name."""
    monkeypatch.setenv("DATABASE_URL", "mysql://root@h/db")
    with pytest.raises(ConfigError, match=r"^Invalid setting DATABASE_URL: must start with"):
        load_settings()


def test_bad_base_url_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A default endpoint that is not an http(s) URL stops start-up."""
    monkeypatch.setenv("DEFAULT_BASE_URL", "localhost:8080")
    with pytest.raises(ConfigError, match="DEFAULT_BASE_URL"):
        load_settings()


def test_error_does_not_echo_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """A mistyped value may be a secret, so it is not repeated back."""
    monkeypatch.setenv("ALLOW_PRIVATE_ENDPOINTS", "sk-not-a-boolean-secret")
    with pytest.raises(ConfigError, match="ALLOW_PRIVATE_ENDPOINTS") as caught:
        load_settings()
    assert "sk-not-a-boolean-secret" not in str(caught.value)


def test_encryption_keys_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    """ENCRYPTION_KEYS lists keys newest first, separated by commas."""
    monkeypatch.setenv("ENCRYPTION_KEYS", "new-key, old-key")
    keys = [k.get_secret_value() for k in load_settings().encryption_keys]
    assert keys == ["new-key", "old-key"]


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    """A .env file in the working directory is honoured."""
    (tmp_path / ".env").write_text("DEFAULT_MODEL=qwen\nLOG_LEVEL=debug\n")
    settings = load_settings()
    assert settings.default_model == "qwen"
    assert settings.log_level == "DEBUG"


def test_database_url_with_a_bad_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A PostgreSQL URL that cannot be parsed stops start-up without echoing the password."""
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:hunter2@127.0.0.1:notaport/db")
    with pytest.raises(ConfigError, match="DATABASE_URL: can't be read") as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)


def test_default_base_url_with_a_bad_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-numeric port in DEFAULT_BASE_URL is named at start-up."""
    monkeypatch.setenv("DEFAULT_BASE_URL", "http://llama:abc/v1")
    with pytest.raises(ConfigError, match="DEFAULT_BASE_URL: has a port that is not a number"):
        load_settings()


def test_allowed_endpoint_hosts_need_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """ALLOWED_ENDPOINT_HOSTS entries are host:port; a bare host is named."""
    monkeypatch.setenv("ALLOWED_ENDPOINT_HOSTS", "llama:8080, ollama")
    with pytest.raises(ConfigError, match="ALLOWED_ENDPOINT_HOSTS: 'ollama' must be host:port"):
        load_settings()


def test_telegram_operator_ids_are_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    """TELEGRAM_OPERATOR_IDS lists user ids; a name instead of a number is refused by name."""
    monkeypatch.setenv("TELEGRAM_OPERATOR_IDS", "111, 222")
    assert load_settings().telegram_operator_ids == frozenset({111, 222})
    monkeypatch.setenv("TELEGRAM_OPERATOR_IDS", "alice")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "TELEGRAM_OPERATOR_IDS" in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value", "ids"),
    [
        ("TELEGRAM_ALLOWED_CHATS", "-1001234567890, 42", {-1001234567890, 42}),
        ("TELEGRAM_BLOCKED_USERS", "7 8", {7, 8}),
        ("DISCORD_ALLOWED_SERVERS", "910000000000000001,", {910000000000000001}),
        ("DISCORD_BLOCKED_USERS", "", set()),
    ],
)
def test_access_lists_take_ids_however_they_are_separated(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, ids: set[int]
) -> None:
    """Commas or spaces, a trailing comma, negative group ids; empty means no list."""
    monkeypatch.setenv(variable, value)
    assert getattr(load_settings(), variable.lower()) == frozenset(ids)


@pytest.mark.parametrize(
    ("variable", "says"),
    [
        ("DISCORD_BLOCKED_SERVERS", "must be ids (numbers)"),
        ("TELEGRAM_ALLOWED_USERS", "must be user ids (numbers)"),
    ],
)
def test_an_access_list_with_a_name_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, says: str
) -> None:
    """@names are not ids: the line names the variable and the rule, never the value."""
    monkeypatch.setenv(variable, "123, @some_group")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"Invalid setting {variable}: {says}")
    assert "some_group" not in str(caught.value)


def test_discord_shards_are_checked_against_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """DISCORD_SHARD_IDS lists this process's shards; each must exist under the count."""
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "4")
    monkeypatch.setenv("DISCORD_SHARD_IDS", "2, 0")
    settings = load_settings()
    assert (settings.discord_shard_count, settings.discord_shard_ids) == (4, (0, 2))
    monkeypatch.setenv("DISCORD_SHARD_IDS", "1,4")
    with pytest.raises(ConfigError, match=r"DISCORD_SHARD_IDS must be below .*\(4\)"):
        load_settings()
    monkeypatch.delenv("DISCORD_SHARD_COUNT")
    monkeypatch.setenv("DISCORD_SHARD_IDS", "1")
    with pytest.raises(ConfigError, match="DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT"):
        load_settings()


def test_discord_addresses_must_be_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy address that is not a URL of the right kind is named at start-up."""
    monkeypatch.setenv("DISCORD_API_URL", "nirn:8080")
    with pytest.raises(ConfigError, match="DISCORD_API_URL: must be an http"):
        load_settings()
    monkeypatch.setenv("DISCORD_API_URL", "http://nirn:8080/api/v10/")
    monkeypatch.setenv("DISCORD_GATEWAY_URL", "http://gateway")
    with pytest.raises(ConfigError, match="DISCORD_GATEWAY_URL: must be a ws"):
        load_settings()
    monkeypatch.setenv("DISCORD_GATEWAY_URL", "ws://gateway:7878")
    settings = load_settings()
    assert settings.discord_api_url == "http://nirn:8080/api/v10"
    assert settings.discord_gateway_url == "ws://gateway:7878"


def test_shutdown_grace_defaults_inside_dockers_stop_timeout() -> None:
    """Eight seconds unless set: under the 10 s after which `docker stop` kills."""
    assert load_settings().shutdown_grace_seconds == 8.0


@pytest.mark.parametrize("value", ["0", "-1", "601", "soon"])
def test_shutdown_grace_must_be_a_sensible_number(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """A grace of zero or less, over ten minutes, or not a number is refused by name."""
    monkeypatch.setenv("SHUTDOWN_GRACE_SECONDS", value)
    with pytest.raises(ConfigError, match=r"^Invalid setting SHUTDOWN_GRACE_SECONDS: "):
        load_settings()


def test_shutdown_grace_may_be_a_fraction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seconds need not be whole."""
    monkeypatch.setenv("SHUTDOWN_GRACE_SECONDS", "2.5")
    assert load_settings().shutdown_grace_seconds == 2.5


def test_model_prices_are_per_million_tokens_by_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """MODEL_PRICES reads model=prompt/completion; an id with / and = keeps its last price."""
    monkeypatch.setenv(
        "MODEL_PRICES", "gpt-4o-mini=0.15/0.60, meta-llama/Llama-3=8B=0/0.2,DeepSeek-Chat=0.27/1.1"
    )

    assert load_settings().model_prices == {
        "gpt-4o-mini": ModelPrice(0.15, 0.60),
        "meta-llama/llama-3=8b": ModelPrice(0.0, 0.2),
        "deepseek-chat": ModelPrice(0.27, 1.1),
    }


def test_model_prices_default_to_none() -> None:
    """Without MODEL_PRICES, /usage counts tokens only."""
    assert load_settings().model_prices == {}


@pytest.mark.parametrize(
    "value", ["gpt-4o=0.15", "gpt-4o=cheap/0.6", "=1/2", "gpt-4o=-1/2", "gpt-4o=nan/1", "gpt-4o"]
)
def test_bad_model_prices_are_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """A price that can't be read names MODEL_PRICES and shows the expected form."""
    monkeypatch.setenv("MODEL_PRICES", value)

    with pytest.raises(ConfigError) as caught:
        load_settings()

    message = str(caught.value)
    assert message.startswith("Invalid setting MODEL_PRICES: must be model=prompt/completion")
    assert "\n" not in message


def test_quotas_default_to_none_and_zero_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset or 0, a QUOTA_* setting is no limit; a number is the operator's limit."""
    monkeypatch.setenv("QUOTA_USER_TOKENS_PER_DAY", "50000")
    monkeypatch.setenv("QUOTA_SERVER_MESSAGES_PER_MINUTE", "0")

    limits = operator_limits(load_settings())

    assert limits == Limits(user_tokens_per_day=50_000)


def test_a_negative_quota_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A limit below zero means nothing: start-up stops naming the variable."""
    monkeypatch.setenv("QUOTA_USER_MESSAGES_PER_MINUTE", "-5")

    with pytest.raises(ConfigError, match=r"^Invalid setting QUOTA_USER_MESSAGES_PER_MINUTE"):
        load_settings()


def test_retention_is_off_unless_set() -> None:
    """Nothing is deleted by age unless the operator asks: 0 days, 500 rows, hourly."""
    settings = load_settings()
    assert settings.retention_days == 0
    assert settings.retention_batch_rows == 500
    assert settings.retention_interval_seconds == 3600.0


@pytest.mark.parametrize(
    ("name", "value"),
    [("RETENTION_DAYS", "-1"), ("RETENTION_BATCH_ROWS", "0"), ("RETENTION_INTERVAL_SECONDS", "0")],
)
def test_retention_settings_are_checked_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """A negative age, an empty batch or a zero interval is refused with its variable."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=rf"^Invalid setting {name}: "):
        load_settings()


def webhook_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """A Telegram bot with a webhook URL, and whatever else the test gives."""
    monkeypatch.setenv("TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "https://bot.example.org/tg/updates")
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_a_webhook_without_a_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """One line naming the missing secret and its shape, not a start without one."""
    webhook_env(monkeypatch, HTTP_PORT="8080")
    with pytest.raises(ConfigError, match=r"^Invalid settings: TELEGRAM_WEBHOOK_URL needs "
                       r"TELEGRAM_WEBHOOK_SECRET \(1 to 256 characters"):  # fmt: skip
        load_settings()


def test_a_webhook_without_http_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Updates arrive on the HTTP listener, so a webhook needs one."""
    webhook_env(monkeypatch, TELEGRAM_WEBHOOK_SECRET="abc")
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_URL needs HTTP_PORT"):
        load_settings()


@pytest.mark.parametrize("secret", ["has space", "dots.are.out", "x" * 257, "ünï"])
def test_a_secret_telegram_would_refuse_is_refused(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    """Only A-Z a-z 0-9 _ -, 1 to 256 of them; the value itself is not echoed."""
    webhook_env(monkeypatch, HTTP_PORT="8080", TELEGRAM_WEBHOOK_SECRET=secret)
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET") as caught:
        load_settings()
    assert secret not in str(caught.value)


def test_the_webhook_path_comes_from_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset, the listener's path is the public URL's (a proxy passing the path through)."""
    webhook_env(monkeypatch, HTTP_PORT="8080", TELEGRAM_WEBHOOK_SECRET="a-B_9")
    settings = load_settings()
    assert settings.telegram_webhook_path == "/tg/updates"


def test_the_webhook_path_may_differ_from_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy that rewrites the path: TELEGRAM_WEBHOOK_PATH says where it arrives."""
    webhook_env(
        monkeypatch, HTTP_PORT="8080", TELEGRAM_WEBHOOK_SECRET="s", TELEGRAM_WEBHOOK_PATH="/in"
    )
    assert load_settings().telegram_webhook_path == "/in"


@pytest.mark.parametrize("path", ["/healthz", "telegram", "/a b"])
def test_a_webhook_path_the_listener_cannot_serve_is_refused(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """Not absolute, or one of the listener's own routes."""
    webhook_env(
        monkeypatch, HTTP_PORT="8080", TELEGRAM_WEBHOOK_SECRET="s", TELEGRAM_WEBHOOK_PATH=path
    )
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_PATH"):
        load_settings()


def test_without_a_webhook_url_telegram_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default: no URL, no listener needed, a stray secret ignored."""
    monkeypatch.setenv("TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "unused")
    settings = load_settings()
    assert settings.telegram_webhook_url is None
    assert settings.telegram_webhook_path is None


def test_leases_default_to_thirty_seconds_renewed_every_ten() -> None:
    """A process killed without a word has its replies settled by another within ~40 s."""
    settings = load_settings()
    assert (settings.lease_seconds, settings.lease_renew_seconds) == (30.0, 10.0)


def test_a_lease_renewed_no_more_often_than_it_lasts_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Such a lease would run out under a live process: start-up stops, naming both."""
    monkeypatch.setenv("LEASE_SECONDS", "10")
    monkeypatch.setenv("LEASE_RENEW_SECONDS", "10")
    with pytest.raises(
        ConfigError, match=r"LEASE_RENEW_SECONDS \(10\) must be below LEASE_SECONDS"
    ):
        load_settings()
