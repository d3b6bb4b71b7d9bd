"""Mountpaths: the data directories (disks) that hold object data files.

Data files are named by opaque ids and fanned out under `%ob/xx/yy/`; work files live in
`%wk/` until they are complete and checksummed, then are renamed into `%ob`.
"""
from __future__ import annotations

import fcntl
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import xxhash

from .errors import DataDirInUse, MountpathUnavailable

OBJ_DIR = "%ob"
WORK_DIR = "%wk"
LOCK_FILE = ".aisfs.lock"
LEAF_FILES = 4096   # new data files per `%ob/xx/yy` directory before the next one (ext4 indexes large directories)


def lock_dir(path: Path, what: str) -> int:
    """Take an exclusive lock on `path` for this process's lifetime; a second owner gets DataDirInUse."""
    lock = path / LOCK_FILE
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            holder = os.pread(fd, 64, 0).decode().strip() or "unknown"
        finally:
            os.close(fd)
        raise DataDirInUse(f"{what} {path} is already in use by another aisfs process (pid {holder})") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


@dataclass
class Capacity:
    path: str
    total: int
    used: int
    avail: int

    @property
    def pct_used(self) -> float:
        return 100.0 * self.used / self.total if self.total else 0.0

    def to_json(self) -> dict[str, object]:
        return {"mountpath": self.path, "total": self.total, "used": self.used, "avail": self.avail,
                "pct_used": round(self.pct_used, 2)}


class Mountpath:
    """One data directory; `id` is the short stable number the index refers to it by."""

    def __init__(self, mp_id: int, path: Path) -> None:
        self.id = mp_id
        self.path = path
        self.digest = xxhash.xxh64_intdigest(str(path).encode())
        self._lock_fd = -1
        self._fanout: set[str] = set()   # %ob/xx/yy directories known to exist
        self._leaf, self._leaf_left = "", 0   # the %ob/xx/yy new data files go to, and for how many more

    def open(self) -> None:
        for sub in (OBJ_DIR, WORK_DIR):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        self._lock_fd = lock_dir(self.path, "mountpath")

    def close(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def clean_work(self) -> int:
        """Remove work files left by a crash: they were never acknowledged, so nothing is lost."""
        work = self.path / WORK_DIR
        n = 0
        for entry in os.scandir(work):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
            n += 1
        return n

    def fs_time_ns(self) -> int:
        """Now, by this filesystem's clock (the ctime it gives a new inode): every file renamed in later
        has a ctime at least this."""
        try:
            fd = os.open(self.path / WORK_DIR, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        except OSError:   # a filesystem without unnamed files (O_TMPFILE): a named one, gone at once
            name = self.work_path(f"clock-{secrets.token_hex(6)}")
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            os.unlink(name)
        try:
            return os.fstat(fd).st_ctime_ns
        finally:
            os.close(fd)

    def new_fid(self) -> str:
        """96 bits, unique; the first 16 (the `%ob/xx/yy` directory) stay the same for LEAF_FILES new files.
        Fully random ids put nearly every new file of a young store in a directory of its own, so each
        write also made one or two directories (a write + sync loop ran at half the rate)."""
        if self._leaf_left <= 0:
            self._leaf, self._leaf_left = secrets.token_hex(2), LEAF_FILES
        self._leaf_left -= 1
        return self._leaf + secrets.token_hex(10)

    def data_path(self, fid: str) -> str:
        return f"{self.path}/{OBJ_DIR}/{fid[:2]}/{fid[2:4]}/{fid}"

    def work_path(self, fid: str) -> str:
        return f"{self.path}/{WORK_DIR}/{fid}"

    def ensure_fanout(self, fid: str) -> None:
        sub = fid[:4]
        if sub not in self._fanout:
            os.makedirs(f"{self.path}/{OBJ_DIR}/{fid[:2]}/{fid[2:4]}", exist_ok=True)
            self._fanout.add(sub)

    def capacity(self) -> Capacity:
        st = os.statvfs(self.path)
        total = st.f_blocks * st.f_frsize
        avail = st.f_bavail * st.f_frsize
        used = total - st.f_bfree * st.f_frsize
        return Capacity(str(self.path), total, used, avail)


class Mountpaths:
    """The set of attached mountpaths and HRW placement over them."""

    def __init__(self, paths: list[tuple[int, Path]]) -> None:
        self.by_id: dict[int, Mountpath] = {i: Mountpath(i, p) for i, p in paths}

    def open(self) -> None:
        opened: list[Mountpath] = []
        try:
            for mp in self.by_id.values():
                mp.open()
                opened.append(mp)
        except BaseException:
            for mp in opened:
                mp.close()
            raise

    def close(self) -> None:
        for mp in self.by_id.values():
            mp.close()

    def get(self, mp_id: int) -> Mountpath:
        try:
            return self.by_id[mp_id]
        except KeyError:
            raise MountpathUnavailable(f"the object's mountpath (#{mp_id}) is not attached") from None

    def place(self, bucket_id: str, key: str) -> Mountpath:
        """Highest-random-weight choice, so placement is stable as long as the set is."""
        h = _key_hash(bucket_id, key)
        return max(self.by_id.values(), key=lambda mp: _weight(h, mp))

    def ranked(self, bucket_id: str, key: str) -> list[Mountpath]:
        """Every mountpath in HRW order for a key: the first is `place`, the next ones hold its mirror copies."""
        h = _key_hash(bucket_id, key)
        return sorted(self.by_id.values(), key=lambda mp: _weight(h, mp), reverse=True)

    def capacities(self) -> list[Capacity]:
        return [mp.capacity() for mp in self.by_id.values()]

    def max_pct_used(self) -> float:
        return max((c.pct_used for c in self.capacities()), default=0.0)


def _key_hash(bucket_id: str, key: str) -> int:
    return xxhash.xxh64_intdigest(f"{bucket_id}/{key}".encode("utf-8", "surrogatepass"))


def _weight(h: int, mp: Mountpath) -> int:
    return xxhash.xxh64_intdigest((h ^ mp.digest).to_bytes(8, "little"))
