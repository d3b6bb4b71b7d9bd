"""Acknowledged means durable: under `write_policy.fsync` (the default) a PUT is answered only after the
syscalls that make it survive a power loss, in the order that never lets the index row reach the disk
without its data. A power cut cannot be staged in CI, so the server is watched with strace instead:
the order of those syscalls against the response is what a pulled plug would test."""
from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

from fuse_support import Mount, cleanup, with_engine
from restkit import act, create_bucket
from strace_support import Strace
from support import Server, data_files

TRACED = "fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,sendto,write,sendmsg,pwrite64"
DATA_FSYNC = r"fsync\(\d+<[^>]*/%ob/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{24}>"   # a data file in place
DIR_FSYNC = r"fsync\(\d+<[^>]*/%ob/[0-9a-f]{2}/[0-9a-f]{2}>"                 # the directory holding it
WAL_WRITE = r"pwrite64\(\d+<[^>]*index\.db-wal>"                               # the index's rows, written
WAL_SYNC = r"f(data)?sync\(\d+<[^>]*index\.db-wal>"                            # the index's rows, synced
ANSWER = r'(sendto|write|sendmsg)\(\d+<socket:[^>]*>, "HTTP/1\.1 20[04]'  # the response leaving the server


def first(lines: list[str], pattern: str, after: int = -1) -> int:
    """Index of the line where the first syscall after `after` that matches `pattern` completed (a call
    another thread interrupted completes on its `<... NAME resumed>` line)."""
    rx = re.compile(pattern)
    for i in range(after + 1, len(lines)):
        if rx.search(lines[i]):
            if "unfinished" not in lines[i]:
                return i
            pid, call = lines[i].split()[0], lines[i].split()[1].split("(")[0]
            resumed = re.compile(rf"{pid}\s+<\.\.\. {call} resumed>")   # strace pads short pids
            return next(j for j in range(i + 1, len(lines)) if resumed.match(lines[j]))
    raise AssertionError(f"no {pattern!r} after line {after}:\n" + "\n".join(lines[-60:]))


def traced(server: Server, tmp_path: Path, name: str, request: Callable[[httpx.Client], httpx.Response],
           replaced: Path | None = None) -> list[str]:
    """One request under strace, answered 200 or 204; tracing goes on until the `replaced` data file is
    removed."""
    with server.client() as c:
        tracer = Strace(server.proc.pid, tmp_path / f"strace-{name}.txt", TRACED)  # type: ignore[union-attr]
        try:
            r = request(c)
            assert r.status_code in (200, 204), r.text
            deadline = time.monotonic() + 10
            while replaced is not None and replaced.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            lines = tracer.stop()
    return lines


def put_traced(server: Server, tmp_path: Path, key: str, replaced: Path | None = None,
               path: str = "/v1/objects/b/{key}") -> list[str]:
    return traced(server, tmp_path, key, lambda c: c.put(path.format(key=key), content=b"durable bytes " * 1000),
                  replaced)


def assert_durable_before_answer(lines: list[str]) -> None:
    """Data file renamed into %ob, then it and its directory fsynced (side by side) before the index row
    that refers to it is even written; then the index WAL synced; then the answer."""
    rename = first(lines, r"rename\w*\(.*%wk/.*%ob/")
    data = first(lines, DATA_FSYNC, rename)
    dir_sync = first(lines, DIR_FSYNC, rename)
    row = first(lines, WAL_WRITE, rename)
    assert row > max(data, dir_sync), ("the index row was written before its data file and directory were "
                                       "durable:\n" + "\n".join(lines[rename:row + 1]))
    wal_sync = first(lines, r"fdatasync\(\d+<[^>]*index\.db-wal>\)", row)
    first(lines, ANSWER, wal_sync)


def fsync_read_only(path: Path) -> None:
    """fsync(2) of a file or directory through a read-only descriptor (as `sync FILE` does)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def set_fsync_policy(server: Server, on: bool) -> None:
    with server.client() as c:
        r = c.put("/v1/daemon", json={"action": "set-config", "value": {"write_policy.fsync": on}})
        assert r.status_code == 200, r.text


def test_put_is_answered_only_once_durable(server: Server, tmp_path: Path) -> None:
    """A PUT over /v1 (an S3 PutObject takes the same engine path)."""
    with server.client() as c:
        create_bucket(c, "b")
    assert_durable_before_answer(put_traced(server, tmp_path, "k1"))


def test_an_uploaded_part_is_answered_only_once_durable(server: Server, tmp_path: Path) -> None:
    """An S3 UploadPart: CompleteMultipartUpload must find every part it was told about."""
    with server.client() as c:
        create_bucket(c, "b")
        r = c.post("/b/mp", params={"uploads": ""})
        assert r.status_code == 200, r.text
        upload_id = re.search(r"<UploadId>([^<]+)</UploadId>", r.text).group(1)  # type: ignore[union-attr]
    lines = put_traced(server, tmp_path, "mp", path=f"/b/{{key}}?partNumber=1&uploadId={upload_id}")
    assert_durable_before_answer(lines)


@pytest.mark.parametrize("change", ["rest-delete", "rest-rename", "rest-set-custom", "s3-delete",
                                    "s3-delete-versioned", "s3-delete-objects"])
def test_deletes_renames_and_metadata_changes_are_answered_only_once_durable(
        server: Server, tmp_path: Path, change: str) -> None:
    """They change only index rows, so the WAL that holds those rows is synced before the answer: a
    power loss after an acknowledged delete must not bring the object back, nor undo a rename."""
    requests: dict[str, Callable[[httpx.Client], httpx.Response]] = {
        "rest-delete": lambda c: c.delete("/v1/objects/b/k"),
        "rest-rename": lambda c: act(c, "POST", "/v1/objects/b/k", "rename-obj", name="k2"),
        "rest-set-custom": lambda c: c.patch("/v1/objects/b/k", json={"value": {"color": "blue"}}),
        "s3-delete": lambda c: c.delete("/b/k"),
        "s3-delete-versioned": lambda c: c.delete("/ver/k"),
        "s3-delete-objects": lambda c: c.post("/b", params={"delete": ""},
                                              content=b"<Delete><Object><Key>k</Key></Object></Delete>"),
    }
    with server.client() as c:
        create_bucket(c, "b")
        assert c.put("/v1/objects/b/k", content=b"to change").status_code == 200
        assert c.put("/ver").status_code == 200
        versioning = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
        assert c.put("/ver", params={"versioning": ""}, content=versioning).status_code == 200
        assert c.put("/ver/k", content=b"to change").status_code == 200
    lines = traced(server, tmp_path, change, requests[change])
    row = first(lines, WAL_WRITE)
    answer = first(lines, ANSWER)
    assert row < answer and any(re.search(WAL_SYNC, ln) for ln in lines[row:answer]), (
        "answered before the changed rows were durable:\n" + "\n".join(lines[row:answer + 1]))


def test_without_the_fsync_policy_nothing_waits_for_the_disk(server: Server, tmp_path: Path) -> None:
    """`write_policy.fsync=false` trades durability for speed: no sync at all before the answer."""
    with server.client() as c:
        create_bucket(c, "b")
    set_fsync_policy(server, False)
    lines = put_traced(server, tmp_path, "k2")
    answer = first(lines, ANSWER)
    assert not [ln for ln in lines[:answer] if re.search(r"\b(fsync|fdatasync)\(", ln)]


def test_a_replaced_data_file_goes_only_once_its_replacement_is_durable(server: Server, tmp_path: Path) -> None:
    """Even without the fsync policy, the old version's file is unlinked only after the index WAL that
    no longer refers to it is synced: a power loss must never bring back a row whose file is gone."""
    set_fsync_policy(server, False)
    with server.client() as c:
        create_bucket(c, "b")
        assert c.put("/v1/objects/b/k3", content=b"first version").status_code == 200
    (old,) = data_files(server)
    lines = put_traced(server, tmp_path, "k3", replaced=old)
    assert not old.exists()
    unlink = first(lines, rf"unlink\w*\(.*{old.name}")
    assert any(re.search(r"\bfsync\(\d+<[^>]*index\.db-wal>\) = 0", ln) for ln in lines[:unlink]), lines


@pytest.fixture(autouse=True)
def _needs_strace() -> None:
    subprocess.run(["strace", "-V"], check=True, capture_output=True)


@pytest.mark.parametrize("policy", [True, False])
def test_a_mount_fsync_syncs_what_its_write_did_not(tmp_path: Path, policy: bool) -> None:
    """fsync(2) in a mount is durable either way; under the fsync policy the commit it makes already
    synced the data file and its directory, so only the WAL is left (no second sync of the file)."""
    async def seed(engine: Any) -> None:
        await engine.create_bucket("m")
        await engine.set_config({"write_policy.fsync": policy})

    with_engine(tmp_path / "data", seed)
    m = Mount(tmp_path, "m")
    try:
        m.start()
        tracer = Strace(m.proc.pid, tmp_path / "strace-mount.txt", TRACED)  # type: ignore[union-attr]
        try:
            fd = os.open(m.path("f"), os.O_CREAT | os.O_WRONLY)
            try:
                os.write(fd, b"must survive" * 1000)
                os.fsync(fd)
            finally:
                os.close(fd)
        finally:
            lines = tracer.stop()
        data_syncs = [ln for ln in lines if re.search(DATA_FSYNC, ln)]
        assert len(data_syncs) == 1, lines   # once: at the commit (policy) or by the fsync (no policy)
        assert any(re.search(DIR_FSYNC, ln) for ln in lines), lines
        assert any(re.search(WAL_SYNC, ln) for ln in lines), lines
        assert m.path("f").read_bytes() == b"must survive" * 1000
    finally:
        m.stop()
        cleanup(tmp_path)


def test_a_directory_fsync_makes_renames_durable(tmp_path: Path) -> None:
    """A rename is an index commit; the durable-rename idiom's `fsync` of the directory (and an fsync of
    any handle, read-only too) syncs the index's WAL before it returns. The rename alone waits for no
    disk flush (POSIX leaves that to the fsync, so `mv` of many files is not one flush per file)."""
    m = Mount(tmp_path, "d", "--create-bucket")
    try:
        m.start()
        m.path("f").write_bytes(b"renamed and kept")
        tracer = Strace(m.proc.pid, tmp_path / "strace-rename.txt", TRACED)  # type: ignore[union-attr]
        try:
            os.rename(m.path("f"), m.path("e"))
        finally:
            lines = tracer.stop()
        assert not any(re.search(WAL_SYNC, ln) for ln in lines), lines
        os.rename(m.path("e"), m.path("f"))
        for step in ("dir", "read-only handle"):
            trace = tmp_path / f"strace-{step.replace(' ', '-')}.txt"
            tracer = Strace(m.proc.pid, trace, TRACED)  # type: ignore[union-attr]
            try:
                os.rename(m.path("f"), m.path("g"))
                fsync_read_only(m.mnt if step == "dir" else m.path("g"))
            finally:
                lines = tracer.stop()
            assert any(re.search(WAL_SYNC, ln) for ln in lines), (step, lines)
            os.rename(m.path("g"), m.path("f"))
        assert m.path("f").read_bytes() == b"renamed and kept"
    finally:
        m.stop()
        cleanup(tmp_path)


def test_a_remote_mount_fsync_is_durable_without_the_servers_fsync_policy(server: Server, tmp_path: Path) -> None:
    """A remote mount cannot sync the server's files itself: its fsync asks the server, which with
    `write_policy.fsync` off syncs the filesystem of its mountpaths (syncfs) and then the WAL before it
    answers. By name it could not: the file may have been renamed (as here) or unlinked since. Under the
    policy only the WAL is left to sync."""
    with server.client() as c:
        create_bucket(c, "r")
    set_fsync_policy(server, False)
    m = Mount(tmp_path / "remote", "r", "--endpoint", server.url, data_dir=tmp_path / "staging")
    try:
        m.start()
        for step in ("written", "renamed"):
            trace = tmp_path / f"strace-{step}.txt"
            tracer = Strace(server.proc.pid, trace, TRACED + ",syncfs")  # type: ignore[union-attr]
            try:
                fd = os.open(m.path("f"), os.O_CREAT | os.O_WRONLY)
                try:
                    os.write(fd, b"must survive " * 1000)
                    if step == "renamed":
                        os.rename(m.path("f"), m.path("g"))
                    os.fsync(fd)
                finally:
                    os.close(fd)
            finally:
                lines = tracer.stop()
            put = first(lines, ANSWER)   # the PUT the fsync's commit made, acknowledged without any sync
            assert not any(re.search(DATA_FSYNC + "|" + WAL_SYNC, ln) for ln in lines[:put]), lines[:put]
            synced = first(lines, r"syncfs\(\d+<[^>]*/mpath>", put)
            first(lines, ANSWER, first(lines, WAL_SYNC, synced))
        assert m.path("g").read_bytes() == b"must survive " * 1000
        # under the policy (the default) every acknowledged change is durable already: only the WAL is synced
        set_fsync_policy(server, True)
        tracer = Strace(server.proc.pid, tmp_path / "strace-policy.txt", TRACED + ",syncfs")  # type: ignore[union-attr]
        try:
            fsync_read_only(m.path("g"))
        finally:
            lines = tracer.stop()
        assert any(re.search(WAL_SYNC, ln) for ln in lines), lines
        assert not any("syncfs(" in ln for ln in lines), lines
    finally:
        m.stop()
        cleanup(tmp_path / "remote")
