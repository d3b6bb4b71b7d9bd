"""Mount life cycle and options: background mode, umount, SIGTERM, dead daemons, all-buckets root, prefix,
read-only, presets, and engine errors surfacing as errno at close."""
from __future__ import annotations

import errno
import os
import re
import shlex
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from aisfs.fuse.daemon import pid_file
from fuse_support import Mount, cleanup, is_mounted, with_engine
from strace_support import Strace
from support import ROOT, aisfs_cmd


def _pid_of_mount(m: Mount) -> int:
    """The daemon serving m.mnt (background mode: not our child), from the pid file it writes."""
    return int(pid_file(m.mnt.resolve()).read_text())


def test_background_mount_umount_and_remount(tmp_path: Path) -> None:
    m = Mount(tmp_path, "bg", "--create-bucket")
    pid = None
    try:
        r = subprocess.run(m.cmd(), cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert is_mounted(m.mnt)  # the command returned only once the mount works
        assert _source_and_type(m.mnt) == ("ais://bg", "fuse.aisfs")
        m.path("f").write_bytes(b"bg")
        pid = _pid_of_mount(m)
        r = m.umount()
        assert r.returncode == 0, r.stderr
        assert not is_mounted(m.mnt)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.05)
        assert not os.path.exists(f"/proc/{pid}")
        m.start()
        assert m.path("f").read_bytes() == b"bg"
    finally:
        m.stop()
        if pid is not None and os.path.exists(f"/proc/{pid}"):
            os.kill(pid, signal.SIGKILL)
        cleanup(tmp_path)


def test_background_mount_reports_errors(tmp_path: Path) -> None:
    m = Mount(tmp_path, "nosuchbucket")
    try:
        r = subprocess.run(m.cmd(), cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and "does not exist" in r.stderr
        assert not is_mounted(m.mnt)
    finally:
        m.stop()
        cleanup(tmp_path)


def test_sigterm_unmounts_and_keeps_data(tmp_path: Path) -> None:
    m = Mount(tmp_path, "sig", "--create-bucket")
    try:
        m.start()
        m.path("f").write_bytes(b"x" * 1000)
        fd = os.open(m.path("open-at-exit"), os.O_CREAT | os.O_WRONLY)  # still open when the signal comes
        os.write(fd, b"uploaded at shutdown")
        assert m.proc is not None
        m.proc.send_signal(signal.SIGTERM)
        assert m.proc.wait(20) == 0
        assert not is_mounted(m.mnt)
        try:
            os.close(fd)
        except OSError:
            pass  # the daemon is gone: this close has no one to answer it
        m.start()
        assert m.path("f").read_bytes() == b"x" * 1000
        assert m.path("open-at-exit").read_bytes() == b"uploaded at shutdown"
    finally:
        m.stop()
        cleanup(tmp_path)


def test_umount_clears_dead_daemon(tmp_path: Path) -> None:
    m = Mount(tmp_path, "dead", "--create-bucket")
    try:
        m.start()
        assert m.proc is not None
        m.proc.kill()
        m.proc.wait()
        with pytest.raises(OSError) as ei:
            os.listdir(m.mnt)
        assert ei.value.errno == errno.ENOTCONN
        r = m.umount()
        assert r.returncode == 0, r.stderr
        assert not is_mounted(m.mnt)
        m.start()  # the data dir is usable again
        assert os.listdir(m.mnt) == []
    finally:
        m.stop()
        cleanup(tmp_path)


def _source_and_type(mnt: Path) -> tuple[str, str]:
    """What `mount` and `df` show for the mount at `mnt`: its source and filesystem type."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == str(mnt.resolve()):
                fstype, source = line.split(" - ")[1].split()[:2]
                return source, fstype
    raise AssertionError(f"{mnt} is not mounted")


def _fusectl_mounted() -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split(" - ")[1].startswith("fusectl ") for line in f if " - " in line)


def test_umount_force_aborts_a_hung_daemon(tmp_path: Path) -> None:
    """A daemon that stops answering (here: SIGSTOP) leaves processes stuck on the mount: `aisfs umount`
    says so instead of hanging, and `--force` aborts the connection, frees them, and detaches."""
    m = Mount(tmp_path, "hung", "--create-bucket")
    blocked: subprocess.Popen[bytes] | None = None
    fusectl_before = _fusectl_mounted()
    try:
        m.start()
        m.path("f").write_bytes(b"x")
        assert m.proc is not None
        m.proc.send_signal(signal.SIGSTOP)
        blocked = subprocess.Popen(["cat", str(m.path("other"))], stderr=subprocess.PIPE)
        with pytest.raises(subprocess.TimeoutExpired):
            blocked.wait(1)  # waiting for an answer that will not come
        r = m.umount()
        assert r.returncode == 1 and "does not answer" in r.stderr and "--force" in r.stderr
        assert is_mounted(m.mnt) and blocked.poll() is None
        r = subprocess.run(aisfs_cmd("umount", "--force", str(m.mnt)), cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        assert blocked.wait(10) != 0  # freed with an error, not left hanging
        assert not is_mounted(m.mnt)
        assert _fusectl_mounted() == fusectl_before  # mounted only for the abort, if it was not
    finally:
        if blocked is not None and blocked.poll() is None:
            blocked.kill()
            blocked.wait()
        if m.proc is not None:
            m.proc.send_signal(signal.SIGCONT)
        m.stop()
        cleanup(tmp_path)


def test_all_buckets_root(tmp_path: Path) -> None:
    m = Mount(tmp_path, "")
    try:
        m.start()
        assert os.listdir(m.mnt) == []
        assert _source_and_type(m.mnt) == ("ais://", "fuse.aisfs")
        m.path("b1").mkdir()
        m.path("b2").mkdir()
        assert sorted(os.listdir(m.mnt)) == ["b1", "b2"]
        m.path("b1", "f").write_bytes(b"1")
        with pytest.raises(OSError) as ei:
            os.rmdir(m.path("b1"))
        assert ei.value.errno == errno.ENOTEMPTY
        os.rmdir(m.path("b2"))
        assert os.listdir(m.mnt) == ["b1"]
        with pytest.raises(OSError):
            m.path("file-at-top").write_bytes(b"no")
        # a bucket is not renamed in place (EXDEV), so mv copies it into a new bucket and removes the old one
        m.path("b1", "d", "sub").mkdir(parents=True)
        m.path("b1", "d", "sub", "g").write_bytes(b"2")
        with pytest.raises(OSError) as ei:
            os.rename(m.path("b1"), m.path("b3"))
        assert ei.value.errno == errno.EXDEV
        os.rename(m.path("b1"), m.path("b1"))  # onto itself: nothing to do, as anywhere
        subprocess.run(["mv", str(m.path("b1", "d")), str(m.path("b4"))], check=True, timeout=60)  # a dir to the top
        subprocess.run(["mv", str(m.path("b1")), str(m.path("b3"))], check=True, timeout=60)
        assert sorted(os.listdir(m.mnt)) == ["b3", "b4"]
        assert m.path("b4", "sub", "g").read_bytes() == b"2" and os.listdir(m.path("b3")) == ["f"]
        m.restart()
        assert m.path("b3", "f").read_bytes() == b"1" and m.path("b4", "sub", "g").read_bytes() == b"2"
    finally:
        m.stop()
        cleanup(tmp_path)


def test_prefix_root(tmp_path: Path) -> None:
    async def seed(engine: Any) -> None:
        await engine.create_bucket("pb")
        await engine.put_object("pb", "data/train/a", b"A")
        await engine.put_object("pb", "data/val/b", b"B")
        await engine.put_object("pb", "other", b"O")

    with_engine(tmp_path / "data", seed)
    m = Mount(tmp_path, "pb/data")
    try:
        m.start()
        assert sorted(os.listdir(m.mnt)) == ["train", "val"]
        m.path("new").write_bytes(b"N")
        m.stop()
        assert with_engine(m.data_dir, lambda e: e.get_bytes("pb", "data/new")) == b"N"
    finally:
        m.stop()
        cleanup(tmp_path)


def test_read_only_and_ml_preset(tmp_path: Path) -> None:
    async def seed(engine: Any) -> None:
        await engine.create_bucket("ro")
        await engine.put_object("ro", "f", b"data")

    with_engine(tmp_path / "data", seed)
    try:
        for flags in (["--read-only"], ["--preset", "ml"]):
            m = Mount(tmp_path, "ro", *flags)
            try:
                m.start()
                assert m.path("f").read_bytes() == b"data"
                for op in (lambda: m.path("g").write_bytes(b"x"), lambda: m.path("d").mkdir(),
                           lambda: os.unlink(m.path("f")), lambda: os.setxattr(m.path("f"), "user.meta.a", b"b")):
                    with pytest.raises(OSError) as ei:
                        op()
                    assert ei.value.errno == errno.EROFS
            finally:
                m.stop()
    finally:
        cleanup(tmp_path)


FUSE_FLUSH = 25   # the FLUSH opcode (linux/fuse.h)


def test_a_read_only_mount_waits_for_no_flush_at_close(tmp_path: Path) -> None:
    """Closing a file on a read-only mount costs no round trip to the daemon after the first one (which
    tells the kernel that no close needs it); every read and close still succeeds."""
    async def seed(engine: Any) -> None:
        await engine.create_bucket("ro")
        for i in range(5):
            await engine.put_object("ro", f"f{i}", b"data %d" % i)

    with_engine(tmp_path / "data", seed)
    m = Mount(tmp_path, "ro", "--read-only")
    try:
        m.start()
        tracer = Strace(m.proc.pid, tmp_path / "strace.txt", "read", "-xx")  # type: ignore[union-attr]
        try:
            for i in range(5):
                assert m.path(f"f{i}").read_bytes() == b"data %d" % i
        finally:
            lines = tracer.stop()
        dev = "".join(f"\\x{b:02x}" for b in b"/dev/fuse")   # -xx escapes the path too
        rx = re.compile(r"read\(\d+<" + re.escape(dev) + r'>, "((?:\\x[0-9a-f]{2}){8})')
        requests = [bytes.fromhex(mt.group(1).replace("\\x", "")) for ln in lines if (mt := rx.search(ln))]
        opcodes = [int.from_bytes(r[4:8], "little") for r in requests]
        assert opcodes, lines
        assert opcodes.count(FUSE_FLUSH) <= 1, opcodes
    finally:
        m.stop()
        cleanup(tmp_path)


def test_engine_errors_surface_at_close(tmp_path: Path) -> None:
    async def seed(engine: Any) -> None:
        await engine.create_bucket("locked")
        await engine.put_object("locked", "f", b"old")
        await engine.set_bucket_props("locked", {"access": "ro"})
        await engine.create_bucket("full")
        await engine.set_config({"space.cleanupwm": 1, "space.lowwm": 1, "space.highwm": 1,
                                  "space.out_of_space": 1})

    with_engine(tmp_path / "data", seed)
    m = Mount(tmp_path, "")
    try:
        m.start()
        with pytest.raises(OSError) as ei:
            with open(m.path("locked", "f"), "wb") as f:
                f.write(b"new")
        assert ei.value.errno == errno.EACCES
        assert m.path("locked", "f").read_bytes() == b"old"
        for op in (lambda: m.path("locked", "new").write_bytes(b""), lambda: m.path("locked", "d").mkdir(),
                   lambda: os.unlink(m.path("locked", "f"))):
            with pytest.raises(OSError) as ei:
                op()
            assert ei.value.errno == errno.EACCES
        assert os.listdir(m.path("locked")) == ["f"]
        fd = os.open(m.path("full", "g"), os.O_CREAT | os.O_WRONLY)
        os.write(fd, b"data")
        with pytest.raises(OSError) as ei:
            os.fsync(fd)
        assert ei.value.errno == errno.ENOSPC
        with pytest.raises(OSError) as ei:  # the failed upload poisons the file: no later write is taken
            os.write(fd, b"more")
        assert ei.value.errno == errno.ENOSPC
        with pytest.raises(OSError) as ei:
            os.close(fd)
        assert ei.value.errno == errno.ENOSPC
        assert os.listdir(m.path("full")) == [] and not m.path("full", "g").exists()
    finally:
        m.stop()
        cleanup(tmp_path)


def test_umount_refuses_other_mounts_and_double_mount(tmp_path: Path) -> None:
    m = Mount(tmp_path, "twice", "--create-bucket")
    try:
        r = m.umount()  # nothing mounted there
        assert r.returncode != 0 and "not an aisfs mount" in r.stderr
        r = subprocess.run(aisfs_cmd("umount", "/"), cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and "not an aisfs mount" in r.stderr
        m.start()
        r = subprocess.run(m.cmd("--foreground"), cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and "already an aisfs mount" in r.stderr
        assert os.listdir(m.mnt) == []
    finally:
        m.stop()
        cleanup(tmp_path)


def test_allow_other(tmp_path: Path) -> None:
    """Another user is shut out unless --allow-other (then the kernel checks modes: default_permissions)."""
    def as_nobody(*cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, user=65534, group=65534, capture_output=True, text=True, timeout=30)

    base = Path(tempfile.mkdtemp(prefix="aisfs-ao-"))  # pytest's tmp dirs are closed to other users
    os.chmod(base, 0o755)
    try:
        for flags, allowed in (((), False), (("--allow-other",), True)):
            m = Mount(base, "ao", "--create-bucket", *flags)
            try:
                m.start()
                m.path("pub").write_bytes(b"public")
                m.path("priv").write_bytes(b"secret")
                os.chmod(m.path("priv"), 0o600)
                r = as_nobody("cat", str(m.path("pub")))
                assert (r.returncode == 0 and r.stdout == "public") == allowed, r.stderr
                if allowed:
                    assert as_nobody("cat", str(m.path("priv"))).returncode != 0
            finally:
                m.stop()
    finally:
        cleanup(base)


def test_umount_busy_needs_lazy(tmp_path: Path) -> None:
    m = Mount(tmp_path, "busy", "--create-bucket")
    try:
        m.start()
        f = open(m.path("held"), "wb")
        try:
            f.write(b"pending")
            r = m.umount()
            assert r.returncode != 0 and "busy" in r.stderr
            assert is_mounted(m.mnt)
            r = subprocess.run(aisfs_cmd("umount", "--lazy", str(m.mnt)), cwd=ROOT, capture_output=True,
                               text=True, timeout=60)
            assert not is_mounted(m.mnt)
        finally:
            f.close()  # the detached mount still serves it: the upload happens, then the daemon exits
        assert m.proc is not None
        m.proc.wait(20)
        m.start()
        assert m.path("held").read_bytes() == b"pending"
    finally:
        m.stop()
        cleanup(tmp_path)


def test_mount_helper_with_o_options(tmp_path: Path) -> None:
    """The /sbin/mount.fuse.aisfs helper of docs/mount.md: mount(8)'s argument order and -o options."""
    helper = tmp_path / "mount.fuse.aisfs"
    py = " ".join(shlex.quote(c) for c in aisfs_cmd())
    helper.write_text(f'#!/bin/sh\nsrc="$1"; mnt="$2"; shift 2\nexec {py} mount "$mnt" "$src" "$@"\n')
    helper.chmod(0o755)
    m = Mount(tmp_path, "hb")
    try:
        opts = f"defaults,_netdev,data_dir={m.data_dir},create_bucket,metadata_ttl=2,file_mode=0600,log_file={m.log}"
        r = subprocess.run([str(helper), "hb", str(m.mnt), "-o", opts], cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        assert is_mounted(m.mnt)
        m.path("f").write_bytes(b"via helper")
        assert m.path("f").read_bytes() == b"via helper"
        assert m.umount().returncode == 0
        assert not is_mounted(m.mnt)
    finally:
        m.stop()
        cleanup(tmp_path)
