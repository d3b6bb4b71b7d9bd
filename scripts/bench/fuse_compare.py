"""FUSE mount benchmarks: aisfs beside s3fs-fuse, rclone mount and the local disk, in one run.

    .venv/bin/python scripts/bench/fuse_compare.py [--quick] [--runs N] [--only W,...] [--timeout S]

Not a test: never run in CI. Needs root (drop_caches, FUSE mounts, the bdi readahead) and Debian's
s3fs, rclone and fio (installed with apt-get when missing). ~15 minutes in full, ~3 with --quick.

One temp dir (under $BENCH_TMP, else $TMPDIR, else /tmp) holds everything: the engine's data dir,
populated in-process before mounting; plain copies of the same files on the same filesystem (the
"local" reference); the four mount points. aisfs mounts bucket `bench` in embedded mode with
`--serve 127.0.0.1:PORT`, and s3fs and rclone mount the same bucket through that S3 endpoint
(anonymous: no keys configured, loopback), so all three read the very same data files.

Workloads (W): seqread, smallread, ls, find, create, seqwrite, memory (smallread runs twice: on the
read-write mounts, then with all three remounted read-only, as a training job mounts its dataset). Each
figure is printed beside its references with their ratio and the target's PASS/FAIL; a markdown table
comes last, and tab-separated lines go to $BENCH_RESULTS when set (run_all.sh's table). Every process is
started by this script and stopped by PID, every mount is unmounted, and the temp dir is removed,
failure included.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
BUCKET = "bench"
GIB = 1 << 30
STACKS = ("aisfs", "s3fs", "rclone", "local")
MOUNTS = ("aisfs", "s3fs", "rclone")


def log(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


@dataclass
class Sizes:
    big: int = GIB            # sequential read / write
    stream: int = 4 * GIB     # memory while streaming
    small: int = 10_000       # 128 KiB files read with 4 threads
    flat: int = 100_000       # entries of one directory (ls -f)
    tree_dirs: int = 100      # find over tree_dirs x tree_per_dir files
    tree_per_dir: int = 1_000
    creates: int = 1_000      # create + write 64 KiB + close

    @classmethod
    def quick(cls) -> "Sizes":
        return cls(big=256 << 20, stream=GIB, small=2_000, flat=10_000, tree_dirs=10, tree_per_dir=1_000, creates=200)


@dataclass
class Row:
    name: str
    figures: dict[str, float | None]   # stack -> value (None: did not finish)
    unit: str
    target: str
    verdict: str
    notes: list[str] = field(default_factory=list)


# keys ---------------------------------------------------------------------------------------------------
def small_key(i: int) -> str:
    return f"small/d{i // 1000:02d}/f{i:05d}.bin"


def flat_key(i: int) -> str:
    return f"flat/f{i:06d}"


def tree_key(d: int, i: int) -> str:
    return f"tree/d{d:03d}/f{i:06d}"


def pattern(size: int) -> bytes:
    # Incompressible and cheap: one random block, repeated for big files (no layer here compresses or dedups).
    return os.urandom(size)


# population ----------------------------------------------------------------------------------------------
async def _populate(data_dir: Path, sz: Sizes, block: bytes) -> None:
    from engine import Engine

    async def chunks(total: int):  # a stream, so a 4 GiB body is never in memory
        left = total
        while left:
            n = min(left, len(block))
            yield block[:n]
            left -= n

    async with Engine.open(data_dir) as eng:
        fsync = eng.get_config()["write_policy"]["fsync"]
        # A hundred thousand tiny fsyncs are not what is measured; the setting comes back after.
        await eng.set_config({"write_policy.fsync": False})
        try:
            await eng.create_bucket(BUCKET)
            t0 = time.monotonic()
            await eng.put_object(BUCKET, "big/big.bin", chunks(sz.big), size=sz.big)
            await eng.put_object(BUCKET, "big/stream.bin", chunks(sz.stream), size=sz.stream)
            body = block[: 128 << 10]
            for i in range(sz.small):
                await eng.put_object(BUCKET, small_key(i), body)
            for i in range(sz.flat):
                await eng.put_object(BUCKET, flat_key(i), b"%d" % i)
            for d in range(sz.tree_dirs):
                for i in range(sz.tree_per_dir):
                    await eng.put_object(BUCKET, tree_key(d, i), b"%d" % i)
            log(f"engine populated in {time.monotonic() - t0:.0f} s")
        finally:
            await eng.set_config({"write_policy.fsync": fsync})


def populate_local(local: Path, sz: Sizes, block: bytes) -> None:
    t0 = time.monotonic()
    (local / "big").mkdir(parents=True)
    for name, total in (("big.bin", sz.big),):
        with open(local / "big" / name, "wb") as f:
            left = total
            while left:
                n = min(left, len(block))
                f.write(block[:n])
                left -= n
    body = block[: 128 << 10]
    for i in range(sz.small):
        p = local / small_key(i)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body)
    (local / "flat").mkdir()
    for i in range(sz.flat):
        (local / flat_key(i)).write_bytes(b"%d" % i)
    for d in range(sz.tree_dirs):
        (local / tree_key(d, 0)).parent.mkdir(parents=True)
        for i in range(sz.tree_per_dir):
            (local / tree_key(d, i)).write_bytes(b"%d" % i)
    subprocess.run(["sync"], check=True)
    log(f"local copies written in {time.monotonic() - t0:.0f} s")


# processes and mounts --------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drop_caches() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


class Bench:
    def __init__(self, work: Path, sz: Sizes, timeout: float) -> None:
        self.work = work
        self.sz = sz
        self.timeout = timeout
        self.data = work / "data"
        self.root = {s: work / "mnt" / s for s in MOUNTS} | {"local": work / "local"}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.port = 0
        self.src = work / "src.bin"   # the source of the write benchmarks, kept in page cache

    # -- start / stop
    def _wait_mounted(self, name: str, also: Callable[[], bool] = lambda: True) -> None:
        mnt = self.root[name]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            p = self.procs[name]
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode}; see {self.work}/{name}.log")
            if os.path.ismount(mnt) and also():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not mount {mnt} in 60 s")

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        logf = open(self.work / f"{name}.log", "ab")
        # Own session: a Ctrl-C at the terminal reaches us, and we stop the mounts in order.
        self.procs[name] = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, cwd=ROOT,
                                            env=env, start_new_session=True)
        logf.close()

    def _s3_up(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/{BUCKET}?max-keys=1", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def start(self, read_only: bool = False) -> None:
        """The three mounts, read-write, or `read_only` as a training job mounts its dataset (aisfs
        --read-only, s3fs -o ro, rclone --read-only); the S3 endpoint beside aisfs stays writable."""
        for s in MOUNTS:
            self.root[s].mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self._spawn("aisfs", [PY, "-m", "aisfs", "mount", str(self.root["aisfs"]), BUCKET, "--data-dir",
                              str(self.data), "--serve", f"127.0.0.1:{self.port}", "--foreground",
                              *(["--read-only"] if read_only else [])])
        self._wait_mounted("aisfs", self._s3_up)
        url = f"http://127.0.0.1:{self.port}"
        # s3fs defaults otherwise (no local data cache: use_cache off); anonymous, path-style.
        s3fs_opts = f"use_path_request_style,url={url},endpoint=us-east-1,public_bucket=1{',ro' if read_only else ''}"
        self._spawn("s3fs", ["s3fs", BUCKET, str(self.root["s3fs"]), "-f", "-o", s3fs_opts])
        conf = self.work / "rclone.conf"
        conf.write_text(f"[aisfs]\ntype = s3\nprovider = Other\nendpoint = {url}\nforce_path_style = true\n"
                        "region = us-east-1\nenv_auth = false\n")
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        # --vfs-cache-mode off: reads and writes stream to and from S3, and close returns once the upload
        # is done, as with aisfs and s3fs ("writes"/"full" would let close return before the upload).
        self._spawn("rclone", ["rclone", "mount", f"aisfs:{BUCKET}", str(self.root["rclone"]), "--config", str(conf),
                               "--vfs-cache-mode", "off", "--cache-dir", str(self.work / "rclone-cache"),
                               *(["--read-only"] if read_only else [])], env)
        self._wait_mounted("s3fs")
        self._wait_mounted("rclone")
        log(f"mounted{' read-only' if read_only else ''}: aisfs (pid {self.procs['aisfs'].pid}, S3 on port "
            f"{self.port}), s3fs (pid {self.procs['s3fs'].pid}), rclone (pid {self.procs['rclone'].pid})")

    def stop(self) -> None:
        # Peers first (they talk to the aisfs process), then aisfs; each by its own PID.
        for name in ("rclone", "s3fs", "aisfs"):
            p = self.procs.get(name)
            mnt = self.root[name]
            if p is not None and p.poll() is None:
                if name == "s3fs":
                    subprocess.run(["fusermount3", "-u", str(mnt)], capture_output=True)
                p.send_signal(signal.SIGTERM)  # aisfs and rclone unmount cleanly on SIGTERM
                try:
                    p.wait(60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
            if os.path.ismount(mnt):
                subprocess.run(["fusermount3", "-u", "-z", str(mnt)], capture_output=True)
            if os.path.ismount(mnt):
                subprocess.run(["umount", "-l", str(mnt)], capture_output=True)

    # -- helpers
    def run_timed(self, cmd: list[str] | str, stack: str) -> tuple[float | None, str]:
        """Seconds a command takes, and its stdout; None if it failed or took over the timeout."""
        shell = isinstance(cmd, str)
        t0 = time.monotonic()
        p = subprocess.Popen(["bash", "-c", "set -euo pipefail; " + cmd] if shell else cmd,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = p.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            log(f"{stack}: timed out after {self.timeout:.0f} s")
            return None, ""
        el = time.monotonic() - t0
        if p.returncode != 0:
            log(f"{stack}: failed ({p.returncode}): {err.decode(errors='replace').strip()[-300:]}")
            return None, out.decode()
        return el, out.decode()

    def rss_sampler(self, pid: int) -> tuple[threading.Event, list[int]]:
        """VmRSS of PID every 20 ms into a list (kB), until the event is set."""
        stop, samples = threading.Event(), [0]

        def loop() -> None:
            while not stop.is_set():
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            samples[0] = max(samples[0], int(line.split()[1]))
                except OSError:
                    return
                stop.wait(0.02)

        threading.Thread(target=loop, daemon=True).start()
        return stop, samples


# workloads ---------------------------------------------------------------------------------------------------
def gbps(n: int, s: float | None) -> float | None:
    return None if s is None else n / s / 1e9


def rate(n: int, s: float | None) -> float | None:
    return None if s is None else n / s


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "did not finish"
    if unit == "GB/s":
        return f"{v:.3f} GB/s"
    if unit == "MiB":
        return f"{v:.0f} MiB"
    return f"{v:,.0f} {unit}"


def alternating(runs: int, name: str, unit: str, one: Callable[[str, int], float | None]) -> dict[str, float | None]:
    """`one(stack, run)` for each stack in turn, `runs` rounds, and each stack's median: the virtual disk's
    speed moves 2-5x within minutes, so no stack may get a quieter (or the first, slowest) moment alone."""
    got: dict[str, list[float | None]] = {s: [] for s in STACKS}
    for r in range(runs):
        for s in STACKS:
            got[s].append(one(s, r))
        log("%s run %d: %s" % (name, r + 1, ", ".join(f"{s} {fmt(got[s][-1], unit)}" for s in STACKS)))
    return {s: med(v) for s, v in got.items()}


def seqread(b: Bench, runs: int) -> list[Row]:
    n = b.sz.big

    def dd_read(s: str, _run: int) -> float | None:
        drop_caches()
        el, _ = b.run_timed(["dd", f"if={b.root[s]}/big/big.bin", "of=/dev/null", "bs=1M", "status=none"], s)
        return gbps(n, el)

    dd = alternating(runs, "seqread dd", "GB/s", dd_read)
    fio: dict[str, float | None] = {}
    for s in STACKS:
        drop_caches()
        el, out = b.run_timed(["fio", "--name=seqread", f"--filename={b.root[s]}/big/big.bin", "--rw=read",
                               "--bs=1M", "--ioengine=psync", "--readonly", f"--size={n}",
                               "--output-format=json"], s)
        fio[s] = json.loads(out)["jobs"][0]["read"]["bw_bytes"] / 1e9 if el is not None else None
        log(f"seqread fio: {s} {fmt(fio[s], 'GB/s')}")
    rows = []
    label = f"{n >> 20} MiB" if n < GIB else f"{n // GIB} GiB"
    for name, figs in ((f"sequential read {label}, dd bs=1M (median of {runs})", dd),
                       (f"sequential read {label}, fio psync bs=1M", fio)):
        a = figs["aisfs"]
        ok = a is not None and a >= 1.0 and all(
            figs[p] is None or a >= 2 * figs[p] for p in ("s3fs", "rclone"))  # a peer that never finished: passed
        rows.append(Row(name, figs, "GB/s", ">= 1.0 GB/s, >= 2x s3fs, >= 2x rclone", verdict(ok)))
    return rows


def med(vals: list[float | None]) -> float | None:
    got = [v for v in vals if v is not None]
    return statistics.median(got) if len(got) == len(vals) and got else None


def verdict(ok: bool) -> str:
    return "PASS" if ok else "**FAIL**"


READ_FILES = r"""
import concurrent.futures, sys
paths = sys.argv[2:]
def one(p):
    n = 0
    with open(p, "rb", buffering=0) as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return n
            n += len(b)
with concurrent.futures.ThreadPoolExecutor(int(sys.argv[1])) as ex:
    total = sum(ex.map(one, paths))
print(total)
"""

CREATE_FILES = r"""
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
body = os.urandom(64 << 10)
os.mkdir(d)
for i in range(n):
    with open(f"{d}/c{i:05d}.bin", "wb") as f:
        f.write(body)
print(n)
"""


def smallread(b: Bench, runs: int) -> list[Row]:
    """On the read-write mounts, then on all three remounted read-only (how a training job mounts its
    dataset: aisfs's `--preset ml` is read-only too); the target is judged on each."""
    rows = [_smallread(b, "")]
    b.stop()
    b.start(read_only=True)
    try:
        rows.append(_smallread(b, ", read-only mounts"))
    finally:
        b.stop()
        b.start()
    return rows


def _smallread(b: Bench, label: str) -> Row:
    n = b.sz.small
    figs: dict[str, float | None] = {}
    for s in STACKS:
        drop_caches()
        paths = [str(b.root[s] / small_key(i)) for i in range(n)]
        # A child process, so a stack that hangs can be killed at the timeout (10,000 paths fit in argv).
        el, out = b.run_timed([PY, "-c", READ_FILES, "4", *paths], s)
        if el is not None and int(out.strip() or 0) != n * (128 << 10):
            log(f"{s}: read {out.strip()} bytes, want {n * (128 << 10)}")
            el = None
        figs[s] = rate(n, el)
        log(f"smallread{label}: {s} {fmt(figs[s], 'files/s')}")
    a = figs["aisfs"]
    ok = a is not None and a >= 2000 and (figs["s3fs"] is None or a >= 3 * figs["s3fs"])
    return Row(f"read {n:,} files of 128 KiB, 4 threads{label}", figs, "files/s", ">= 2,000 files/s, >= 3x s3fs",
               verdict(ok))


def listing(b: Bench, runs: int) -> list[Row]:
    n = b.sz.flat
    figs: dict[str, float | None] = {}
    for s in STACKS:
        drop_caches()
        el, out = b.run_timed(f"ls -f {b.root[s]}/flat | wc -l", s)
        got = int(out.strip() or 0) - 2  # every stack lists . and .. too
        if el is not None and got != n:
            log(f"{s}: ls -f listed {got} entries, want {n}")
            el = None
        figs[s] = rate(n, el)
        log(f"ls -f: {s} {fmt(figs[s], 'entries/s')}")
    a = figs["aisfs"]
    return [Row(f"`ls -f` of a {n:,}-entry directory", figs, "entries/s", ">= 20,000 entries/s",
                verdict(a is not None and a >= 20_000))]


def find(b: Bench, runs: int) -> list[Row]:
    n = b.sz.tree_dirs * b.sz.tree_per_dir
    figs: dict[str, float | None] = {}
    for s in STACKS:
        drop_caches()
        el, out = b.run_timed(f"find {b.root[s]}/tree -type f | wc -l", s)
        if el is not None and int(out.strip() or 0) != n:
            log(f"{s}: find found {out.strip()} files, want {n}")
            el = None
        figs[s] = rate(n, el)
        log(f"find: {s} {fmt(figs[s], 'files/s')}")
    return [Row(f"`find -type f | wc -l`, {n:,} files in {b.sz.tree_dirs} dirs", figs, "files/s",
                "(no target; context)", "-")]


def create(b: Bench, runs: int) -> list[Row]:
    n = b.sz.creates

    def create_files(s: str, r: int) -> float | None:
        drop_caches()
        # One directory per stack and run: the three mounts show the same bucket.
        el, _ = b.run_timed([PY, "-c", CREATE_FILES, str(b.root[s] / f"create-{s}-{r}"), str(n)], s)
        return rate(n, el)

    figs = alternating(runs, "create", "files/s", create_files)
    a = figs["aisfs"]
    return [Row(f"create + write 64 KiB + close, {n:,} files, 1 thread (median of {runs})", figs, "files/s",
                ">= 300 files/s",
                verdict(a is not None and a >= 300),
                ["local: no fsync; the mounts upload (aisfs: and fsync) each file at close"])]


def seqwrite(b: Bench, runs: int) -> list[Row]:
    n = b.sz.big
    # The source is read from page cache, so only the write side is measured.
    subprocess.run(["dd", f"of={b.src}", "if=/dev/urandom", "bs=1M", f"count={n >> 20}", "status=none"], check=True)
    subprocess.run(["cat", str(b.src)], stdout=subprocess.DEVNULL, check=True)

    def dd_write(s: str, _run: int) -> float | None:
        target = b.root[s] / "big" / f"written-{s}.bin"
        target.unlink(missing_ok=True)
        subprocess.run(["sync"], check=True)
        # The mounts fsync (aisfs) or upload (s3fs, rclone) at close; the disk reference fsyncs too.
        extra = ["conv=fsync"] if s == "local" else []
        el, _ = b.run_timed(["dd", f"if={b.src}", f"of={target}", "bs=1M", "status=none", *extra], s)
        return gbps(n, el)

    figs = alternating(runs, "seqwrite", "GB/s", dd_write)
    subprocess.run(["sync"], check=True)
    el, _ = b.run_timed(["dd", f"if={b.src}", f"of={b.root['local']}/big/written-nofsync.bin", "bs=1M",
                         "status=none"], "local")
    nofsync = gbps(n, el)
    subprocess.run(["sync"], check=True)
    a, loc = figs["aisfs"], figs["local"]
    label = f"{n >> 20} MiB" if n < GIB else f"{n // GIB} GiB"
    return [Row(f"sequential write {label}, dd bs=1M (local: conv=fsync; median of {runs})", figs, "GB/s",
                ">= 0.5x local dd conv=fsync", verdict(a is not None and loc is not None and a >= 0.5 * loc),
                [f"local dd without conv=fsync: {fmt(nofsync, 'GB/s')}"])]


def status_kb(pid: int, field: str) -> int:
    return next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith(field + ":"))


def memory(b: Bench, runs: int) -> list[Row]:
    n = b.sz.stream
    figs: dict[str, float | None] = {}
    notes = []
    for s in MOUNTS:
        pid = b.procs[s].pid
        Path(f"/proc/{pid}/clear_refs").write_text("5\n")  # resets VmHWM: only this stream's peak counts
        # What the daemon already holds (e.g. the inodes of earlier workloads' 200,000 entries).
        base = status_kb(pid, "VmRSS")
        drop_caches()
        stop, peak = b.rss_sampler(pid)
        el, _ = b.run_timed(["dd", f"if={b.root[s]}/big/stream.bin", "of=/dev/null", "bs=1M", "status=none"], s)
        stop.set()
        hwm = status_kb(pid, "VmHWM")
        figs[s] = max(peak[0], hwm) / 1024 if el is not None else None
        log(f"memory, reading: {s} peak RSS {fmt(figs[s], 'MiB')} (sampled {peak[0] >> 10} MiB, VmHWM {hwm >> 10} "
            f"MiB; {base >> 10} MiB before the stream), {fmt(gbps(n, el), 'GB/s')}")
        notes.append(f"{s}: {base >> 10} MiB before the stream")
    # aisfs also while writing the same amount (its write path stages to a file, so memory should stay flat).
    pid = b.procs["aisfs"].pid
    Path(f"/proc/{pid}/clear_refs").write_text("5\n")
    base = status_kb(pid, "VmRSS")
    stop, peak = b.rss_sampler(pid)
    el, _ = b.run_timed(f"head -c {n} /dev/zero | dd of={b.root['aisfs']}/big/stream-w.bin bs=1M iflag=fullblock status=none",
                        "aisfs")
    stop.set()
    wpeak = max(peak[0], status_kb(pid, "VmHWM")) / 1024
    notes.append(f"aisfs writing {n // GIB} GiB: peak RSS {wpeak:.0f} MiB, {base >> 10} MiB before "
                 f"({fmt(gbps(n, el), 'GB/s')})")
    log(notes[-1])
    figs["local"] = None
    a = figs["aisfs"]
    ok = a is not None and a <= 300 and wpeak <= 300
    return [Row(f"peak RSS of the mount daemon streaming a {n // GIB} GiB file (read)", figs, "MiB",
                "<= 300 MiB (aisfs, reading and writing)", verdict(ok), notes)]


WORKLOADS: dict[str, Callable[[Bench, int], list[Row]]] = {
    "seqread": seqread, "smallread": smallread, "ls": listing, "find": find, "create": create,
    "seqwrite": seqwrite, "memory": memory}


def table(rows: list[Row]) -> str:
    out = ["| workload | aisfs | s3fs-fuse | rclone mount | local disk | aisfs / s3fs | aisfs / rclone | aisfs / local "
           "| target | result |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f = r.figures
        cells = [fmt(f.get(s), r.unit) if not (s == "local" and f.get(s) is None and r.unit == "MiB") else "-"
                 for s in STACKS]
        rats = []
        for p in ("s3fs", "rclone", "local"):
            x = ratio(f.get("aisfs"), f.get(p))
            rats.append("-" if x is None else f"{x:.2f}")
        out.append(f"| {r.name} | " + " | ".join(cells + rats) + f" | {r.target} | {r.verdict} |")
        for note in r.notes:
            out.append(f"|  ↳ {note} | | | | | | | | | |")
    return "\n".join(out)


def ensure_tools() -> None:
    missing = [p for p, exe in (("s3fs", "s3fs"), ("rclone", "rclone"), ("fio", "fio")) if not shutil.which(exe)]
    if missing:
        log(f"installing {' '.join(missing)} with apt-get")
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True, env=env, stdout=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (256 MiB, 2,000 / 10,000 files)")
    ap.add_argument("--runs", type=int, default=3,
                    help="runs per stack, alternating, for sequential read and write and for creates (median)")
    ap.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    ap.add_argument("--timeout", type=float, default=120, help="seconds before a command counts as not finished")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("fuse_compare: needs root (drop_caches, mounts)", file=sys.stderr)
        return 2
    ensure_tools()
    sz = Sizes.quick() if args.quick else Sizes()
    base = os.environ.get("BENCH_TMP") or os.environ.get("TMPDIR") or "/tmp"
    work = Path(tempfile.mkdtemp(prefix="aisfs-fuse-bench.", dir=base))
    # SIGTERM unwinds like Ctrl-C, so the finally below still unmounts and removes everything.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    bench = Bench(work, sz, args.timeout)
    rows: list[Row] = []
    load0 = Path("/proc/loadavg").read_text().split()[:3]
    t_start = time.monotonic()
    try:
        import trio

        block = pattern(16 << 20)
        log(f"work dir {work}; populating the engine in-process ({sz.small:,} + {sz.flat:,} + "
            f"{sz.tree_dirs * sz.tree_per_dir:,} objects, {sz.big >> 20} + {sz.stream >> 20} MiB)")
        trio.run(_populate, bench.data, sz, block)
        populate_local(work / "local", sz, block)
        bench.start()
        for w in args.only.split(","):
            log(f"--- {w}")
            rows += WORKLOADS[w](bench, args.runs)
    finally:
        bench.stop()
        shutil.rmtree(work, ignore_errors=True)
    load1 = Path("/proc/loadavg").read_text().split()[:3]
    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, kernel {os.uname().release}, "
          f"{'--quick, ' if args.quick else ''}{time.monotonic() - t_start:.0f} s in all, load average before: "
          f"{' '.join(load0)}, after: {' '.join(load1)}\n")
    print(table(rows))
    if os.environ.get("BENCH_RESULTS"):
        with open(os.environ["BENCH_RESULTS"], "a") as f:
            for r in rows:
                a, loc = r.figures.get("aisfs"), r.figures.get("local")
                ref, refname = (loc, "local disk") if loc is not None else (r.figures.get("s3fs"), "s3fs-fuse")
                x = ratio(a, ref)
                f.write("\t".join([f"FUSE: {r.name}", f"{a:.3f}" if a is not None else "-", r.unit,
                                   f"{ref:.3f}" if ref is not None else "-", refname,
                                   f"{x:.2f}" if x is not None else "-", r.target, r.verdict]) + "\n")
    return 0 if all(r.verdict != "**FAIL**" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
