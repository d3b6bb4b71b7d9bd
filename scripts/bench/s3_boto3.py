#!/usr/bin/env python3
"""S3 face vs moto (the Python S3 emulator), both driven by boto3 with default settings on loopback.

    .venv/bin/python scripts/bench/s3_boto3.py [--small N] [--big-mib M] [--threads T] [--list N]

Measures small-object PUT/GET rates (sequential and with T client threads), one large object's
PUT/GET throughput through boto3's transfer manager (multipart above 8 MiB), listing N keys
in pages of 1000, and deleting: one DeleteObject per key from one client, then DeleteObjects in
batches of 1000 (each acknowledged delete is durable on aisfs, a WAL sync per call or batch). Each
server runs in its own temp dir on a free loopback port and is stopped by its PID at the end, failure
included. Prints a Markdown table (figures are medians of --runs).
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import boto3
import httpx
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
ACCESS, SECRET = "benchkey", "benchsecret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not answer on {url}")


def start_aisfs(work: Path, fsync: bool = True) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "AISFS_ACCESS_KEY": ACCESS, "AISFS_SECRET_KEY": SECRET}
    proc = subprocess.Popen([sys.executable, "-m", "aisfs", "serve", "--data-dir", str(work / "aisfs"),
                             "--listen", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(work / "aisfs.log", "wb"))
    wait_http(f"http://127.0.0.1:{port}/v1/health", proc, "aisfs serve")
    if not fsync:
        httpx.put(f"http://127.0.0.1:{port}/v1/daemon/set-config?write_policy.fsync=false").raise_for_status()
    return proc, f"http://127.0.0.1:{port}/s3"


def start_moto(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    moto = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], cwd=work,
                            stdout=subprocess.DEVNULL, stderr=open(work / "moto.log", "wb"))
    wait_http(f"http://127.0.0.1:{port}/", proc, "moto_server")
    return proc, f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def s3client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
                        region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, max_pool_connections=64))


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench(endpoint: str, args: argparse.Namespace) -> dict[str, float]:
    s3 = s3client(endpoint)
    bucket = f"bench{int(time.time() * 1000) % 10**9}"
    s3.create_bucket(Bucket=bucket)
    small = os.urandom(4096)
    n = args.small
    out: dict[str, float] = {}
    out["PUT 4 KiB, 1 client (obj/s)"] = n / timed(lambda: [s3.put_object(Bucket=bucket, Key=f"s/{i}", Body=small)
                                                          for i in range(n)])
    out["GET 4 KiB, 1 client (obj/s)"] = n / timed(lambda: [s3.get_object(Bucket=bucket, Key=f"s/{i}")["Body"].read()
                                                          for i in range(n)])
    clients = [s3client(endpoint) for _ in range(args.threads)]

    def par(op: Callable[[Any, int], Any]) -> float:
        with ThreadPoolExecutor(args.threads) as pool:
            return timed(lambda: list(pool.map(lambda i: op(clients[i % args.threads], i), range(n))))

    out[f"PUT 4 KiB, {args.threads} clients (obj/s)"] = n / par(
        lambda c, i: c.put_object(Bucket=bucket, Key=f"p/{i}", Body=small))
    out[f"GET 4 KiB, {args.threads} clients (obj/s)"] = n / par(
        lambda c, i: c.get_object(Bucket=bucket, Key=f"p/{i}")["Body"].read())
    big = os.urandom(args.big_mib << 20)
    out[f"PUT {args.big_mib} MiB, transfer manager (MiB/s)"] = args.big_mib / timed(
        lambda: s3.upload_fileobj(io.BytesIO(big), bucket, "big"))
    sink = io.BytesIO()
    out[f"GET {args.big_mib} MiB, transfer manager (MiB/s)"] = args.big_mib / timed(
        lambda: s3.download_fileobj(bucket, "big", sink))
    assert sink.getvalue() == big
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(lambda i: clients[i % args.threads].put_object(Bucket=bucket, Key=f"l/{i:07d}", Body=b""),
                      range(args.list)))

    def list_all() -> None:
        keys = sum(len(p.get("Contents", [])) for p in
                   s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="l/"))
        assert keys == args.list, keys

    out[f"LIST {args.list} keys, pages of 1000 (keys/s)"] = args.list / timed(list_all)
    out["DeleteObject 4 KiB, 1 client (obj/s)"] = n / timed(
        lambda: [s3.delete_object(Bucket=bucket, Key=f"s/{i}") for i in range(n)])

    def delete_batches() -> None:
        for lo in range(0, args.list, 1000):
            res = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": f"l/{i:07d}"} for i in
                                                                       range(lo, min(lo + 1000, args.list))]})
            assert not res.get("Errors"), res["Errors"]

    out[f"DeleteObjects, {args.list} keys in batches of 1000 (keys/s)"] = args.list / timed(delete_batches)
    assert s3.list_objects_v2(Bucket=bucket, Prefix="s/")["KeyCount"] == 0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", type=int, default=500, help="small objects per PUT/GET phase (default 500)")
    ap.add_argument("--big-mib", type=int, default=256, help="size of the large object in MiB (default 256)")
    ap.add_argument("--threads", type=int, default=8, help="client threads for the parallel phases (default 8)")
    ap.add_argument("--list", type=int, default=5000, help="keys to list (default 5000)")
    ap.add_argument("--runs", type=int, default=3, help="runs per server; the figure is the median (default 3)")
    ap.add_argument("--no-fsync", action="store_true",
                    help="also run aisfs with write_policy.fsync=false (moto keeps everything in memory)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="aisfs-s3bench."))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        sides: list[tuple[str, Callable[[Path], tuple[subprocess.Popen[bytes], str]]]] = [("aisfs", start_aisfs)]
        if args.no_fsync:
            sides.append(("aisfs, no fsync", lambda w: start_aisfs(w, fsync=False)))
        sides.append(("moto", start_moto))
        results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in sides}
        for name, start in sides:
            proc, endpoint = start(work)
            procs.append(proc)
            for _ in range(args.runs):
                results[name].append(bench(endpoint, args))
            stop(proc)
        names = [n for n, _ in sides]
        print(f"| boto3 {boto3.__version__}, loopback, {os.cpu_count()} cores | {' | '.join(names)} | aisfs / moto |")
        print("|---" * (len(names) + 2) + "|")
        for metric in results["aisfs"][0]:
            med = {n: statistics.median(r[metric] for r in results[n]) for n in names}
            cells = " | ".join(f"{med[n]:,.0f}" for n in names)
            print(f"| {metric} | {cells} | {med['aisfs'] / med['moto']:.1f}x |")
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
