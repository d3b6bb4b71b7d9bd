"""Real tools on a real mount: tar, rsync -a, cp -a keep data, times and modes; concurrent readers and writers."""
from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest

from fuse_support import Mount, cleanup
from support import evict


@pytest.fixture(scope="module")
def m(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mount]:
    base = tmp_path_factory.mktemp("fusetools")
    mnt = Mount(base, "tools", "--create-bucket")
    try:
        yield mnt.start()
    finally:
        mnt.stop()
        cleanup(base)


def run(*cmd: str, cwd: Path | None = None) -> str:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"{cmd}: {r.stderr}"
    return r.stdout


def make_tree(root: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    (root / "emptydir").mkdir()
    (root / "a" / "b" / "data.bin").write_bytes(os.urandom(1_500_000))
    (root / "a" / "small.txt").write_text("small\n")
    (root / "top.txt").write_text("top\n")
    (root / "empty.txt").write_bytes(b"")
    (root / "exec.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "exec.sh", 0o755)
    os.chmod(root / "a" / "small.txt", 0o600)
    os.symlink("a/small.txt", root / "link")
    for i, p in enumerate(sorted(root.rglob("*"))):
        t = 1_600_000_000_000_000_000 + i * 1_000_000_000
        os.utime(p, ns=(t, t), follow_symlinks=False)
    os.utime(root / "a", ns=(1_500_000_000_000_000_000,) * 2)


def snapshot(root: Path, *, dir_times: bool = True) -> dict[str, tuple[object, ...]]:
    """Type, mode, size, mtime (s) and content digest of every entry."""
    out: dict[str, tuple[object, ...]] = {}
    for p in sorted(root.rglob("*")):
        st = os.lstat(p)
        rel = str(p.relative_to(root))
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("l", os.readlink(p))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("d", stat.S_IMODE(st.st_mode)) + ((int(st.st_mtime),) if dir_times else ())
        else:
            out[rel] = ("f", stat.S_IMODE(st.st_mode), st.st_size, int(st.st_mtime), p.read_bytes())
    return out


def test_tar_out_and_in(m: Mount, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_tree(src)
    run("tar", "cf", str(tmp_path / "in.tar"), "-C", str(src), ".")
    dst = m.path("tarx")
    dst.mkdir()
    run("tar", "xf", str(tmp_path / "in.tar"), "-C", str(dst))
    run("diff", "-r", "--no-dereference", str(src), str(dst))
    assert snapshot(dst) == snapshot(src)
    run("tar", "cf", str(tmp_path / "out.tar"), "-C", str(dst), ".")
    back = tmp_path / "back"
    back.mkdir()
    run("tar", "xf", str(tmp_path / "out.tar"), "-C", str(back))
    run("diff", "-r", "--no-dereference", str(src), str(back))
    assert snapshot(back) == snapshot(src)


def test_rsync_round_trip_keeps_times(m: Mount, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_tree(src)
    run("rsync", "-a", f"{src}/", f"{m.path('rs')}/")
    assert snapshot(m.path("rs")) == snapshot(src)
    back = tmp_path / "back"
    run("rsync", "-a", f"{m.path('rs')}/", f"{back}/")
    assert snapshot(back) == snapshot(src)
    out = run("rsync", "-ai", "--dry-run", f"{src}/", f"{m.path('rs')}/")
    assert out.strip() == "", f"rsync sees differences after a round trip:\n{out}"


def xattrs_of(root: Path) -> dict[str, dict[str, bytes]]:
    """The user.meta.* xattrs of every file and directory under root (what a copy should carry along)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_symlink():
            out[str(p.relative_to(root))] = {n: os.getxattr(p, n) for n in os.listxattr(p) if n.startswith("user.meta.")}
    return out


def test_rsync_x_and_tar_xattrs_keep_user_metadata(m: Mount, tmp_path: Path) -> None:
    """Copies that keep xattrs work into the mount, and between mounted trees when told to skip the
    read-only user.ais.* names (which describe each object and cannot be set to another object's values)."""
    src = tmp_path / "xsrc"
    src.mkdir()
    make_tree(src)
    os.setxattr(src / "top.txt", "user.meta.color", b"blue")
    os.setxattr(src / "a" / "b" / "data.bin", "user.meta.label", "cat \u00e9".encode())
    os.setxattr(src / "a", "user.meta.dir", b"yes")
    want = xattrs_of(src)
    run("rsync", "-aX", f"{src}/", f"{m.path('xa-rs')}/")  # also removes names src lacks: the read-only ones
    assert snapshot(m.path("xa-rs")) == snapshot(src) and xattrs_of(m.path("xa-rs")) == want
    run("tar", "--xattrs", "-cf", str(tmp_path / "x.tar"), "-C", str(src), ".")
    m.path("xa-tar").mkdir()
    run("tar", "--xattrs", "-xf", str(tmp_path / "x.tar"), "-C", str(m.path("xa-tar")))  # mknod, then xattrs
    assert snapshot(m.path("xa-tar")) == snapshot(src) and xattrs_of(m.path("xa-tar")) == want
    skip = "--filter=-x user.ais.*"
    run("rsync", "-aX", skip, f"{m.path('xa-rs')}/", f"{m.path('xa-rs2')}/")
    assert xattrs_of(m.path("xa-rs2")) == want
    assert run("rsync", "-aXi", skip, f"{m.path('xa-rs')}/", f"{m.path('xa-rs2')}/").strip() == ""
    run("tar", "--xattrs", "-cf", str(tmp_path / "m.tar"), "-C", str(m.path("xa-tar")), ".")
    m.path("xa-tar2").mkdir()
    run("tar", "--xattrs", "--xattrs-exclude=user.ais.*", "-xf", str(tmp_path / "m.tar"), "-C", str(m.path("xa-tar2")))
    assert snapshot(m.path("xa-tar2")) == snapshot(src) and xattrs_of(m.path("xa-tar2")) == want


def test_cp_a_keeps_times_and_modes(m: Mount, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_tree(src)
    run("cp", "-a", str(src), str(m.path("cpa")))
    assert snapshot(m.path("cpa")) == snapshot(src)


def test_many_threads_read_and_write(m: Mount) -> None:
    base = m.path("conc")
    base.mkdir()
    shared = os.urandom(4 << 20)
    (base / "shared").write_bytes(shared)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            data = os.urandom(100_000 + i)
            for j in range(5):
                (base / f"w{i}-{j}").write_bytes(data)
                assert (base / f"w{i}-{j}").read_bytes() == data
        except BaseException as e:
            errors.append(e)

    def reader() -> None:
        try:
            for _ in range(3):
                assert (base / "shared").read_bytes() == shared
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    threads += [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(os.listdir(base)) == 41
    procs = [subprocess.Popen(["sh", "-c", f"cat {base / 'shared'} | md5sum"], stdout=subprocess.PIPE)
             for _ in range(4)]
    sums = {p.communicate(timeout=60)[0].split()[0] for p in procs}
    assert len(sums) == 1


def test_concurrent_large_reads_each_see_their_own_bytes(m: Mount) -> None:
    """Six threads read six different 6 MiB files at once, in 1 MiB and odd-sized reads, twice, with both
    the mount's page cache and the data files' dropped before each pass: every READ reaches the daemon,
    many wait for the disk at the same time, and each must get its own file's bytes."""
    base = m.path("bigconc")
    base.mkdir()
    bodies = {base / f"f{i}": os.urandom((6 << 20) + 1000 * i) for i in range(6)}
    for p, body in bodies.items():
        p.write_bytes(body)
    errors: list[BaseException] = []

    def read(p: Path, body: bytes) -> None:
        try:
            with open(p, "rb", buffering=0) as f:
                got = bytearray()
                step = (1 << 20) if int(p.name[1:]) % 2 else 777_777
                while chunk := f.read(step):
                    got += chunk
            if got != body:
                first = next((i for i, (a, b) in enumerate(zip(got, body)) if a != b), min(len(got), len(body)))
                raise AssertionError(f"{p.name}: read {len(got)} of {len(body)} bytes, first difference at {first}")
        except BaseException as e:
            errors.append(e)

    for _ in range(2):
        for p in bodies:
            evict(p)
        for f in m.data_dir.rglob("*"):
            if f.is_file():
                evict(f)
        threads = [threading.Thread(target=read, args=item) for item in bodies.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors


def test_git_init_commit_and_clone_into_the_mount(m: Mount, tmp_path: Path) -> None:
    """git's lock files (create O_EXCL, write, rename; on error close and unlink) and its probe files work:
    clones into the mount succeed, leave no stray lock or temp files, and pass fsck."""
    src = tmp_path / "src"
    src.mkdir()
    git = ("git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "init.defaultBranch=main")
    run(*git, "init", "-q", cwd=src)
    make_tree(src / "tree")
    run(*git, "add", "-A", cwd=src)
    run(*git, "commit", "-qm", "first", cwd=src)
    (src / "top.txt").write_text("second\n")
    run(*git, "add", "-A", cwd=src)
    run(*git, "commit", "-qm", "second", cwd=src)
    known = {"HEAD", "branches", "config", "description", "hooks", "index", "info", "logs", "objects",
             "packed-refs", "refs"}
    for i in range(5):
        dst = m.path(f"clone{i}")
        r = subprocess.run(["git", "clone", "-q", str(src), str(dst)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and "error" not in r.stderr, r.stderr
        assert set(os.listdir(dst / ".git")) <= known, sorted(set(os.listdir(dst / ".git")) - known)
        run("git", "fsck", "--no-progress", cwd=dst)
        assert run("git", "status", "--porcelain", cwd=dst) == ""
        assert (dst / "top.txt").read_text() == "second\n"
    # work inside the mount too: commit, then the log shows it
    (m.path("clone0") / "new.txt").write_text("new\n")
    run(*git, "add", "new.txt", cwd=m.path("clone0"))
    run(*git, "commit", "-qm", "in the mount", cwd=m.path("clone0"))
    assert run("git", "log", "--format=%s", cwd=m.path("clone0")).split("\n")[:3] == ["in the mount", "second", "first"]


def test_an_sqlite_database_in_wal_mode_lives_in_the_mount(m: Mount) -> None:
    """SQLite's WAL mode needs a shared writable mmap of its -shm file, byte-range locks and fsync: two
    connections write, the database passes its integrity check and keeps every row when reopened."""
    path = m.path("app.db")
    a, b = sqlite3.connect(path), sqlite3.connect(path)
    try:
        assert a.execute("PRAGMA journal_mode=wal").fetchone()[0] == "wal"
        a.execute("CREATE TABLE t(n INTEGER, body BLOB)")
        a.commit()
        for i in range(200):
            (a if i % 2 else b).execute("INSERT INTO t VALUES(?, ?)", (i, os.urandom(1000)))
            (a if i % 2 else b).commit()
        assert b.execute("SELECT count(*), sum(n) FROM t").fetchone() == (200, sum(range(200)))
    finally:
        a.close()
        b.close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 200
    finally:
        db.close()


def test_preallocation(m: Mount) -> None:
    """fallocate(2) is not offered (pyfuse3 has no handler for it): EOPNOTSUPP, which tools take as "no
    preallocation here"; posix_fallocate(3) then writes the zeros itself, and rsync --preallocate copies."""
    fd = os.open(m.path("pre.bin"), os.O_CREAT | os.O_RDWR, 0o644)
    try:
        os.posix_fallocate(fd, 0, 1 << 20)
        assert os.fstat(fd).st_size == 1 << 20
    finally:
        os.close(fd)
    assert m.path("pre.bin").read_bytes() == bytes(1 << 20)
    r = subprocess.run(["fallocate", "-l", "1M", str(m.path("raw.bin"))], capture_output=True, text=True)
    assert r.returncode != 0 and "not supported" in r.stderr
