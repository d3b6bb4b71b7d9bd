"""Shared fixtures: a real server process per test (or per module), cleaned up even on failure."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from s3kit import client, keyed_server
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


@pytest.fixture(scope="module")
def s3_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with the S3 test keys (s3kit), shared by one module's S3 tests."""
    srv = keyed_server(tmp_path_factory.mktemp("s3") / "data")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def s3(s3_srv: Server) -> Any:
    """boto3 with default settings against `s3_srv`, path-style under /s3."""
    return client(f"{s3_srv.url}/s3")
