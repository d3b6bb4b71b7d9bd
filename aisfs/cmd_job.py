"""`aisfs job show|wait|stop`: the server's jobs (AIStore's xactions): bucket copy/rename, multi-delete."""
from __future__ import annotations

import argparse
from typing import Any

from . import uri
from .cmdutil import (add_command, add_group, add_json_flag, add_progress_flags, client, human_size, job_state,
                      ns_time, parse_uri, print_json, table, wait_for_job)


def cmd_show(args: argparse.Namespace) -> int:
    with client(args) as cl:
        if args.id:
            jobs = [cl.get_job(args.id)]
        else:
            bucket = parse_uri(args.bucket).bucket if args.bucket else ""
            jobs = cl.list_jobs(kind=args.kind or "", bucket=bucket, running=not args.all)
    if args.json:
        print_json(jobs[0] if args.id else jobs)
        return 0
    if not jobs:
        print("No running jobs." if not args.all else "No jobs.")
        return 0
    table(["ID", "KIND", "BUCKET", "OBJECTS", "BYTES", "START", "END", "STATE"], [_row(j) for j in jobs])
    for j in jobs if args.id else []:
        for err in j.get("errors") or []:
            print(f"  error: {err}")
    return 0


def _row(j: dict[str, Any]) -> list[str]:
    bucket = uri.bucket_uri(j["bucket"]) if j.get("bucket") else "-"
    if j.get("dst_bucket"):
        bucket += f" => {uri.bucket_uri(j['dst_bucket'])}"
    objs = str(j.get("objs", 0)) + (f"/{j['total']}" if j.get("total", -1) >= 0 else "")
    state = job_state(j) + (f" ({j['err_count']} errors)" if j.get("err_count") else "")
    return [j["id"], j.get("kind", ""), bucket, objs, human_size(j.get("bytes", 0)), ns_time(j.get("start_time", 0)),
            ns_time(j.get("end_time", 0)), state]


def cmd_wait(args: argparse.Namespace) -> int:
    with client(args) as cl:
        return wait_for_job(cl, args, args.id)


def cmd_stop(args: argparse.Namespace) -> int:
    with client(args) as cl:
        for job_id in args.ids:
            job = cl.abort_job(job_id)
            print(f"job {job_id}: {job_state(job)}" if not job.get("aborted") else f"job {job_id}: stopped")
    return 0


def add_parser(sub: Any) -> None:
    g = add_group(sub, "job", help="show, wait for and stop jobs (bucket copy/rename, multi-object delete)",
                  examples="""
                    aisfs job show --all
                    aisfs job wait JOB_ID
                    aisfs job stop JOB_ID
                  """)
    p = add_command(g, "show", aliases=["ls"], help="show running jobs, all jobs, or one", func=cmd_show,
                    description="""
        Without an ID, list running jobs (--all: also finished ones, which the server keeps for a while).
        With an ID, show that job and its errors.""", examples="""
        aisfs job show
        aisfs job show --all --kind copy-bck
        aisfs job show JOB_ID --json
        """)
    p.add_argument("id", nargs="?", metavar="JOB_ID")
    p.add_argument("--all", "-a", action="store_true", help="include finished jobs")
    p.add_argument("--kind", help="only jobs of this kind (copy-bck, move-bck, delete-listrange)")
    p.add_argument("--bucket", help="only jobs on this bucket")
    add_json_flag(p)

    p = add_command(g, "wait", help="wait for a job to finish (exit 1 if it failed or was stopped)",
                    func=cmd_wait, examples="""
                      aisfs job wait JOB_ID
                      aisfs job wait JOB_ID --timeout 60 --progress
                    """)
    p.add_argument("id", metavar="JOB_ID")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="give up waiting after this long (exit 1)")
    add_progress_flags(p)

    p = add_command(g, "stop", aliases=["abort"], help="stop running jobs", func=cmd_stop, examples="""
        aisfs job stop JOB_ID
        """)
    p.add_argument("ids", nargs="+", metavar="JOB_ID")
