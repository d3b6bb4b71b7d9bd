"""FUSE core: read, write-at-close, random writes, mkdir/rmdir, rename, symlinks, stat, xattrs, statfs."""
from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from fuse_support import Mount, cleanup, large_writes_and_fallbacks, with_engine


@pytest.fixture(scope="module")
def m(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mount]:
    base = tmp_path_factory.mktemp("fusecore")
    mnt = Mount(base, "bkt", "--create-bucket")
    try:
        yield mnt.start()
    finally:
        mnt.stop()
        cleanup(base)


@pytest.fixture
def d(m: Mount, request: pytest.FixtureRequest) -> Path:
    """A fresh directory in the shared mount for one test."""
    p = m.path(request.node.name)
    p.mkdir()
    return p


def run(*cmd: str, cwd: Path | None = None) -> str:
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True, timeout=60).stdout


def test_write_close_read_and_ls(d: Path) -> None:
    (d / "a.txt").write_bytes(b"hello\n")
    (d / "sub").mkdir()
    (d / "sub" / "b.bin").write_bytes(os.urandom(3000))
    assert (d / "a.txt").read_bytes() == b"hello\n"
    assert sorted(os.listdir(d)) == ["a.txt", "sub"]
    out = run("ls", "-la", str(d))
    assert "a.txt" in out and "sub" in out
    st = os.stat(d / "a.txt")
    assert stat.S_ISREG(st.st_mode) and st.st_size == 6 and stat.S_IMODE(st.st_mode) == 0o644
    assert stat.S_ISDIR(os.stat(d / "sub").st_mode)
    assert os.stat(d / "sub" / "b.bin").st_size == 3000


def test_empty_file_and_touch(d: Path) -> None:
    run("touch", str(d / "empty"))
    assert os.stat(d / "empty").st_size == 0
    (d / "e2").write_bytes(b"")
    assert os.listdir(d) == ["e2", "empty"] or sorted(os.listdir(d)) == ["e2", "empty"]


def test_reads_at_any_offset(d: Path) -> None:
    data = os.urandom(5 * 1024 * 1024 + 123)
    (d / "big").write_bytes(data)
    with open(d / "big", "rb") as f:
        for off, n in [(0, 10), (4096, 1), (1 << 20, 70000), (len(data) - 5, 100), (len(data) + 10, 5)]:
            f.seek(off)
            assert f.read(n) == data[off:off + n]
    assert (d / "big").read_bytes() == data


def test_readers_of_a_file_being_written_write_only_see_every_write(d: Path) -> None:
    """A file first opened write-only is written past the kernel's page cache (direct_io); a reader or a
    read-write handle opened meanwhile never sees a stale page, and the result is the writes in order."""
    w = os.open(d / "f", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(w, b"a" * 8192)
        r = os.open(d / "f", os.O_RDONLY)
        rw = os.open(d / "f", os.O_RDWR)
        try:
            assert os.pread(r, 8192, 0) == b"a" * 8192
            os.pwrite(w, b"b" * 100, 4000)
            assert os.pread(r, 8192, 0) == b"a" * 4000 + b"b" * 100 + b"a" * 4092
            os.pwrite(rw, b"c", 0)
            os.write(w, b"d" * 10)   # appends: the write-only handle's position is 8192
            assert os.pread(r, 9000, 0) == b"c" + b"a" * 3999 + b"b" * 100 + b"a" * 4092 + b"d" * 10
            assert os.pread(rw, 1, 8201) == b"d"
        finally:
            os.close(rw)
            os.close(r)
    finally:
        os.close(w)
    assert (d / "f").read_bytes() == b"c" + b"a" * 3999 + b"b" * 100 + b"a" * 4092 + b"d" * 10
    assert (d / "f").stat().st_size == 8202


def test_random_write_truncate_append(d: Path) -> None:
    p = d / "f"
    with open(p, "wb") as f:
        f.write(b"0123456789")
        f.seek(2)
        f.write(b"ab")
        f.seek(20)
        f.write(b"Z")
    assert p.read_bytes() == b"01ab456789" + b"\0" * 10 + b"Z"
    with open(p, "r+b") as f:
        f.seek(4)
        f.write(b"XY")
        f.seek(0)
        assert f.read(6) == b"01abXY"
    os.truncate(p, 3)
    assert p.read_bytes() == b"01a"
    with open(p, "ab") as f:
        f.write(b"++")
    assert p.read_bytes() == b"01a++"
    os.truncate(p, 6)
    assert p.read_bytes() == b"01a++\0"
    with open(p, "wb") as f:  # O_TRUNC overwrite
        f.write(b"new")
    assert p.read_bytes() == b"new"


def test_handle_keeps_its_version(d: Path) -> None:
    p = d / "v"
    p.write_bytes(b"A" * 100_000)
    with open(p, "rb") as f:
        assert f.read(10) == b"A" * 10
        p.write_bytes(b"B" * 50_000)
        f.seek(90_000)
        assert f.read(10) == b"A" * 10
    assert p.read_bytes() == b"B" * 50_000


def test_fsync_makes_it_visible(d: Path) -> None:
    p = d / "synced"
    fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        os.write(fd, b"durable")
        os.fsync(fd)
        assert p.read_bytes() == b"durable"
        assert os.getxattr(p, "user.ais.size") == b"7"
    finally:
        os.close(fd)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600


def test_mkdir_rmdir(d: Path) -> None:
    (d / "e").mkdir()
    assert os.listdir(d / "e") == []
    with pytest.raises(FileExistsError):
        (d / "e").mkdir()
    (d / "full").mkdir()
    (d / "full" / "x").write_bytes(b"1")
    with pytest.raises(OSError) as ei:
        os.rmdir(d / "full")
    assert ei.value.errno == errno.ENOTEMPTY
    os.rmdir(d / "e")
    assert not (d / "e").exists()
    with pytest.raises(NotADirectoryError):
        os.rmdir(d / "full" / "x")
    run("rm", "-r", str(d / "full"))
    assert os.listdir(d) == []
    os.makedirs(d / "p" / "q" / "r")
    assert (d / "p" / "q" / "r").is_dir()


def test_unlink(d: Path) -> None:
    (d / "x").write_bytes(b"1")
    os.unlink(d / "x")
    assert not (d / "x").exists()
    with pytest.raises(FileNotFoundError):
        os.unlink(d / "x")
    (d / "dd").mkdir()
    with pytest.raises(IsADirectoryError):
        os.unlink(d / "dd")


def test_rename_files_and_dirs(d: Path) -> None:
    (d / "a").write_bytes(b"A")
    (d / "b").write_bytes(b"B")
    ino = os.stat(d / "a").st_ino
    os.rename(d / "a", d / "b")  # replaces the target
    assert (d / "b").read_bytes() == b"A" and not (d / "a").exists()
    assert os.stat(d / "b").st_ino == ino
    (d / "dir1" / "sub").mkdir(parents=True)
    (d / "dir1" / "sub" / "f").write_bytes(b"F")
    (d / "dir1" / "g").write_bytes(b"G")
    run("mv", str(d / "dir1"), str(d / "dir2"))
    assert not (d / "dir1").exists()
    assert (d / "dir2" / "sub" / "f").read_bytes() == b"F" and (d / "dir2" / "g").read_bytes() == b"G"
    (d / "empty").mkdir()
    os.rename(d / "dir2", d / "empty")  # an empty directory may be replaced
    assert (d / "empty" / "g").read_bytes() == b"G"
    (d / "busy").mkdir()
    (d / "busy" / "z").write_bytes(b"z")
    with pytest.raises(OSError) as ei:
        os.rename(d / "empty", d / "busy")
    assert ei.value.errno == errno.ENOTEMPTY
    with pytest.raises(OSError) as ei:
        os.rename(d / "empty", d / "empty" / "sub" / "inside")
    assert ei.value.errno == errno.EINVAL
    with pytest.raises(IsADirectoryError):
        os.rename(d / "b", d / "busy")
    run("mv", str(d / "b"), str(d / "busy" / "moved"))
    assert (d / "busy" / "moved").read_bytes() == b"A"


def test_symlinks_and_hardlinks(d: Path) -> None:
    (d / "target").write_bytes(b"T")
    os.symlink("target", d / "ln")
    assert os.readlink(d / "ln") == "target"
    assert (d / "ln").read_bytes() == b"T"
    assert stat.S_ISLNK(os.lstat(d / "ln").st_mode)
    os.symlink("/nonexistent/abs", d / "dangling")
    assert os.readlink(d / "dangling") == "/nonexistent/abs"
    with pytest.raises(OSError) as ei:
        os.link(d / "target", d / "hard")
    assert ei.value.errno in (errno.EPERM, errno.ENOTSUP)
    # Linux keeps user.* xattrs off symlinks, so none are listed (rsync -X and getfattr -h would fail on them)
    assert os.listxattr(d / "ln", follow_symlinks=False) == []


def test_mknod_makes_regular_files_only(d: Path) -> None:
    """`tar --xattrs` makes each file with mknod(2) before it sets the xattrs and writes the data."""
    os.mknod(d / "node", 0o640 | stat.S_IFREG)
    st = os.stat(d / "node")
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640 and st.st_size == 0
    with open(d / "node", "r+b") as f:
        f.write(b"filled")
    assert (d / "node").read_bytes() == b"filled"
    with pytest.raises(FileExistsError):
        os.mknod(d / "node", 0o600 | stat.S_IFREG)
    for kind in (stat.S_IFIFO, stat.S_IFSOCK):
        with pytest.raises(PermissionError):
            os.mknod(d / "special", 0o600 | kind)
    assert not (d / "special").exists()


def test_stat_times_modes_and_inodes(d: Path) -> None:
    p = d / "f"
    p.write_bytes(b"x")
    st1 = os.stat(p)
    assert os.stat(p).st_ino == st1.st_ino != os.stat(d).st_ino
    os.chmod(p, 0o600)
    os.utime(p, ns=(1_000_000_000_000_000_000, 1_500_000_000_123_456_789))
    st = os.stat(p)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_mtime_ns == 1_500_000_000_123_456_789
    assert st.st_atime_ns == 1_000_000_000_000_000_000
    os.chown(p, 1234, 5678)
    st = os.stat(p)
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    (d / "dd").mkdir()
    os.chmod(d / "dd", 0o700)
    os.utime(d / "dd", ns=(1_400_000_000_000_000_000, 1_400_000_000_000_000_000))
    st = os.stat(d / "dd")
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_mtime_ns == 1_400_000_000_000_000_000


def test_xattrs(d: Path) -> None:
    p = d / "f"
    p.write_bytes(b"data")
    names = os.listxattr(p)
    for n in ("user.ais.checksum", "user.ais.version", "user.ais.atime", "user.ais.etag", "user.ais.size"):
        assert n in names
    cks = os.getxattr(p, "user.ais.checksum").decode()
    assert cks.startswith("xxhash:") and len(cks) > 8
    assert os.getxattr(p, "user.ais.size") == b"4"
    assert os.getxattr(p, "user.ais.atime").decode().endswith("Z")
    os.setxattr(p, "user.meta.color", b"blue")
    assert os.getxattr(p, "user.meta.color") == b"blue"
    assert "user.meta.color" in os.listxattr(p)
    out = run("getfattr", "-d", "-m", "-", str(p))
    assert 'user.meta.color="blue"' in out and "user.ais.checksum=" in out
    with pytest.raises(OSError) as ei:
        os.getxattr(p, "user.meta.nope")
    assert ei.value.errno == errno.ENODATA
    with pytest.raises(OSError) as ei:
        os.setxattr(p, "user.ais.version", b"999")
    assert ei.value.errno == errno.EPERM
    os.setxattr(p, "user.ais.checksum", cks.encode())  # identical value: accepted (cp -a, rsync -X)
    os.removexattr(p, "user.ais.checksum")  # what rsync -X does to names its source lacks: accepted, nothing changes
    assert os.getxattr(p, "user.ais.checksum").decode() == cks
    with pytest.raises(OSError) as ei:
        os.removexattr(p, "user.ais.nosuchname")
    assert ei.value.errno == errno.EPERM
    with pytest.raises(OSError) as ei:
        os.getxattr(p, "security.capability")
    assert ei.value.errno == errno.ENODATA
    os.removexattr(p, "user.meta.color")
    assert "user.meta.color" not in os.listxattr(p)
    with pytest.raises(OSError) as ei:
        os.removexattr(p, "user.meta.color")
    assert ei.value.errno == errno.ENODATA
    (d / "dir").mkdir()
    os.setxattr(d / "dir", "user.meta.k", b"v")
    assert os.getxattr(d / "dir", "user.meta.k") == b"v"


def test_statfs(m: Mount) -> None:
    st = os.statvfs(m.mnt)
    assert st.f_blocks > 0 and 0 < st.f_bavail <= st.f_blocks and st.f_namemax == 255
    assert run("df", "-T", str(m.mnt)).splitlines()[1].split()[:2] == ["ais://bkt", "fuse.aisfs"]


def test_find_dd_and_cp(d: Path, tmp_path: Path) -> None:
    run("dd", "if=/dev/urandom", f"of={d / 'dd.bin'}", "bs=1M", "count=3", "status=none")
    (d / "small").write_bytes(b"s" * 100)
    assert run("find", str(d), "-size", "+2M").split() == [str(d / "dd.bin")]
    assert run("find", str(d), "-type", "f", "-size", "-2k").split() == [str(d / "small")]
    run("dd", f"if={d / 'dd.bin'}", f"of={tmp_path / 'copy'}", "bs=1M", "status=none")
    assert (tmp_path / "copy").read_bytes() == (d / "dd.bin").read_bytes()
    src = tmp_path / "tree"
    (src / "x" / "y").mkdir(parents=True)
    (src / "x" / "y" / "z.txt").write_text("zz")
    (src / "top.txt").write_text("tt")
    run("cp", "-r", str(src), str(d / "tree"))
    run("diff", "-r", str(src), str(d / "tree"))
    run("cp", "-r", str(d / "tree"), str(tmp_path / "back"))
    run("diff", "-r", str(src), str(tmp_path / "back"))


def test_remount_shows_same_tree(tmp_path: Path) -> None:
    m = Mount(tmp_path, "bkt", "--create-bucket")
    try:
        m.start()
        (m.path("dir", "empty")).mkdir(parents=True)
        m.path("dir", "f").write_bytes(b"abc")
        os.chmod(m.path("dir", "f"), 0o640)
        os.utime(m.path("dir", "f"), ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
        os.symlink("dir/f", m.path("ln"))
        os.setxattr(m.path("dir", "f"), "user.meta.k", b"v")
        before = run("ls", "-laR", "--time-style=full-iso", str(m.mnt))
        m.restart()
        after = run("ls", "-laR", "--time-style=full-iso", str(m.mnt))
        assert before == after
        assert os.readlink(m.path("ln")) == "dir/f"
        assert m.path("ln").read_bytes() == b"abc"
        assert os.getxattr(m.path("dir", "f"), "user.meta.k") == b"v"
        assert m.path("dir", "empty").is_dir()
    finally:
        m.stop()
        cleanup(tmp_path)


def test_closed_file_matches_engine(tmp_path: Path) -> None:
    m = Mount(tmp_path, "bkt", "--create-bucket")
    try:
        m.start()
        data = os.urandom(200_000)
        m.path("obj").write_bytes(data)
        cks = os.getxattr(m.path("obj"), "user.ais.checksum").decode()
        ver = os.getxattr(m.path("obj"), "user.ais.version").decode()
        m.stop()

        async def check(engine):  # type: ignore[no-untyped-def]
            meta = await engine.head_object("bkt", "obj")
            return str(meta.cksum), meta.version, await engine.get_bytes("bkt", "obj")

        assert with_engine(m.data_dir, check) == (cks, ver, data)
    finally:
        m.stop()
        cleanup(tmp_path)


def test_streamed_large_writes_and_fallbacks(d: Path) -> None:
    """Large sequential writes, then every way out of a sequential write (embedded: the staged file)."""
    large_writes_and_fallbacks(d)


def test_name_limits(d: Path) -> None:
    deep = d
    for i in range(4):  # 4 x 255 bytes + the test dir: past S3's 1024-byte key limit
        deep = deep / (chr(ord("a") + i) * 255)
        if i < 3:
            deep.mkdir()
    with pytest.raises(OSError) as ei:
        deep.write_bytes(b"x")
    assert ei.value.errno == errno.ENAMETOOLONG
    with pytest.raises(OSError) as ei:
        (d / ("n" * 256)).write_bytes(b"x")  # the kernel's per-component limit
    assert ei.value.errno == errno.ENAMETOOLONG


def test_unlinked_open_file_and_new_file_at_same_name(d: Path) -> None:
    p = d / "f"
    p.write_bytes(b"old content")
    with open(p, "rb") as old:
        old_ino = os.fstat(old.fileno()).st_ino
        os.unlink(p)
        assert os.fstat(old.fileno()).st_size == len(b"old content")
        p.write_bytes(b"new")
        assert os.stat(p).st_ino != old_ino
        assert old.read() == b"old content"
    assert p.read_bytes() == b"new"
    with open(d / "w", "wb", buffering=0) as w:
        w.write(b"abc")
        os.unlink(d / "w")
        w.write(b"def")
        assert os.fstat(w.fileno()).st_size == 6
    assert not (d / "w").exists()


RENAME_OVER_A_CLOSING_FILE = r"""
import os, sys, time
d = sys.argv[1]
with open(f"{d}/src", "wb") as f:
    f.write(b"new content")
fd = os.open(f"{d}/dst", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
block = os.urandom(1 << 20)
for _ in range(256):
    os.write(fd, block)
pid = os.fork()
if pid == 0:        # another process closes the file: its upload (~70 ms here) is in flight ...
    os.close(fd)
    os._exit(0)
time.sleep(0.01)
os.rename(f"{d}/src", f"{d}/dst")   # ... while this one replaces it
os.waitpid(pid, 0)
os.close(fd)
"""


def test_rename_over_a_file_another_process_is_closing(d: Path) -> None:
    """The replaced file's upload, still in flight, lands first and never after: the new content stays."""
    r = subprocess.run([sys.executable, "-c", RENAME_OVER_A_CLOSING_FILE, str(d)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert (d / "dst").read_bytes() == b"new content"
    assert not (d / "src").exists()
    time.sleep(1.2)   # past the metadata TTL: what the store holds, not the kernel's cache
    assert (d / "dst").read_bytes() == b"new content" and sorted(os.listdir(d)) == ["dst"]


TRUNCATE_A_CLOSING_FILE = r"""
import os, sys, time
d = sys.argv[1]
fd = os.open(f"{d}/f", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
block = os.urandom(1 << 20)
os.pwrite(fd, block, 255 << 20)   # written out of order: the close uploads the staged copy
for i in range(255):
    os.pwrite(fd, block, i << 20)
pid = os.fork()
if pid == 0:        # another process closes the file: its upload is in flight ...
    try:
        os.close(fd)
    except OSError as e:
        os._exit(e.errno)
    os._exit(0)
time.sleep(0.01)
os.truncate(f"{d}/f", 5)   # ... while this one truncates it
_, status = os.waitpid(pid, 0)
os.close(fd)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_truncate_while_another_process_is_closing(d: Path) -> None:
    """Both succeed, in either order: the close does not fail, and the file ends truncated."""
    r = subprocess.run([sys.executable, "-c", TRUNCATE_A_CLOSING_FILE, str(d)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, f"the other process's close failed: errno {r.returncode} {r.stderr}"
    assert (d / "f").stat().st_size == 5
    time.sleep(1.2)   # past the metadata TTL: what the store holds
    assert (d / "f").stat().st_size == 5
