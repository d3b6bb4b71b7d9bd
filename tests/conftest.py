"""Shared fixtures: a real server process per test (or per module), cleaned up even on failure."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from support import Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data").start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a module whose tests do not disturb each other (distinct bucket names)."""
    srv = Server(tmp_path_factory.mktemp("srv") / "data").start()
    try:
        yield srv
    finally:
        srv.stop()
