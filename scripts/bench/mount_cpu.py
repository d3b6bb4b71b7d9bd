"""Small-file reads through an aisfs mount (read-only unless `--read-write`): files/s, and the CPU the mount
daemon (with its helper processes) spends per file, the figure that moves least with the rest of a shared
machine's load.

    .venv/bin/python scripts/bench/mount_cpu.py [--files N] [--runs R] [--rounds K] [--warm] [--read-write]
        [--tree DIR ...]

Not a test: never run in CI. Needs root (drop_caches). N files of 128 KiB (default 4,000, 1,000 per
directory) are put into a fresh data dir in-process, then for each of K rounds each tree mounts it
read-only (`aisfs mount --read-only`, the defaults otherwise; `--read-write`: without it, so every close
is also a FLUSH request) and reads every file R times, 4 threads, caches dropped before each read
(`--warm`: the data files are read back into the page cache after the drop, so only the mount's own work
is left). `--tree DIR`, repeatable, runs the daemon from another checkout (`git worktree add DIR COMMIT`,
with `.venv` a symlink to this one): an A/B of two commits, the trees alternating so that the machine's
drift falls on both. Default: this checkout alone.
Prints one line per read and each tree's medians. Every mount is unmounted, every process stopped by
its PID and the temp dir removed, failure included.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuse_compare import BUCKET, PY, READ_FILES, ROOT, Sizes, _populate, drop_caches, log, small_key  # noqa: E402

import trio  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process and of its children still running (the read-ahead helper)."""
    def one(p: int) -> float:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    total = one(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        for kid in (task / "children").read_text().split():
            try:
                total += one(int(kid))
            except FileNotFoundError:
                pass
    return total


def mounted(mnt: Path) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == str(mnt) for line in f)


def mount(tree: Path, data: Path, mnt: Path, log_file: Path, *, read_only: bool = True) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    ro = ["--read-only"] if read_only else []
    proc = subprocess.Popen([PY, "-m", "aisfs", "mount", str(mnt), BUCKET, "--data-dir", str(data), *ro,
                             "--foreground", "--log-file", str(log_file)], cwd=tree, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not mounted(mnt):
        if proc.poll() is not None or time.monotonic() > deadline:
            unmount(proc, mnt)
            raise SystemExit(f"aisfs mount from {tree} did not come up (log: {log_file})")
        time.sleep(0.05)
    return proc


def unmount(proc: subprocess.Popen[bytes], mnt: Path) -> None:
    if mounted(mnt):
        subprocess.run(["fusermount3", "-u", str(mnt)], capture_output=True)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if mounted(mnt):
        subprocess.run(["fusermount3", "-u", "-z", str(mnt)], capture_output=True)


def read_all(mnt: Path, n: int, data: Path, warm: bool, pid: int) -> tuple[float, float]:
    """One read of every file: (files/s, daemon CPU us per file)."""
    drop_caches()
    if warm:
        for f in data.rglob("*"):  # the objects' data files, wherever the mountpath keeps them
            if f.is_file() and f.stat().st_size == 128 << 10:
                f.read_bytes()
    paths = [str(mnt / small_key(i)) for i in range(n)]
    c0, t0 = cpu_seconds(pid), time.monotonic()
    out = subprocess.run([PY, "-c", READ_FILES, "4", *paths], capture_output=True, text=True, timeout=600)
    el, c1 = time.monotonic() - t0, cpu_seconds(pid)
    if out.returncode != 0 or int(out.stdout.strip() or 0) != n * (128 << 10):
        raise SystemExit(f"reading through the mount failed: {out.stderr[-2000:]}")
    return n / el, (c1 - c0) / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=4000, help="files of 128 KiB (default 4,000)")
    ap.add_argument("--runs", type=int, default=2, help="reads per mount (default 2)")
    ap.add_argument("--rounds", type=int, default=3, help="times each tree is mounted, alternating (default 3)")
    ap.add_argument("--warm", action="store_true", help="data files in the page cache before each read")
    ap.add_argument("--read-write", action="store_true", help="mount read-write (a FLUSH request per close)")
    ap.add_argument("--tree", action="append", type=Path, help="a checkout to run the daemon from (repeatable)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("mount_cpu: needs root (drop_caches)", file=sys.stderr)
        return 2
    trees = [t.resolve() for t in args.tree] if args.tree else [ROOT]
    work = Path(tempfile.mkdtemp(prefix="aisfs-mountcpu.", dir=os.environ.get("BENCH_TMP")))
    results: dict[Path, list[tuple[float, float]]] = {t: [] for t in trees}
    try:
        data, mnt = work / "data", work / "mnt"
        mnt.mkdir()
        sz = Sizes(big=0, stream=0, small=args.files, flat=0, tree_dirs=0)
        trio.run(_populate, data, sz, os.urandom(128 << 10))
        subprocess.run(["sync"], check=True)
        for _ in range(args.rounds):
            for tree in trees:
                proc = mount(tree, data, mnt, work / "mount.log", read_only=not args.read_write)
                try:
                    for _ in range(args.runs):
                        rate, us = read_all(mnt, args.files, data, args.warm, proc.pid)
                        results[tree].append((rate, us))
                        log(f"{tree.name}: {rate:,.0f} files/s, {us:,.0f} us of daemon CPU per file")
                finally:
                    unmount(proc, mnt)
        mode = ("warm" if args.warm else "cold") + (", read-write" if args.read_write else ", read-only")
        for tree, rows in results.items():
            rates, cpus = [r for r, _ in rows], [c for _, c in rows]
            print(f"{tree.name} ({mode}, {len(rows)} reads of {args.files:,} files): "
                  f"median {statistics.median(rates):,.0f} files/s (range {min(rates):,.0f}-{max(rates):,.0f}), "
                  f"median {statistics.median(cpus):,.0f} us of daemon CPU per file "
                  f"(range {min(cpus):,.0f}-{max(cpus):,.0f})")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
