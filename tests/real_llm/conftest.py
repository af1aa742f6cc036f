"""One real model server for the whole package; every test is skipped when it cannot run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.real_llm.llama_server import (
    RealServer,
    ServerFailed,
    missing,
    running_server,
    smollm2_gguf,
)


@pytest.fixture(scope="session")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    gguf = smollm2_gguf()
    assert gguf is not None
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    try:
        with running_server(gguf, log_path) as server:
            yield server
    except ServerFailed as exc:
        pytest.fail(str(exc))
