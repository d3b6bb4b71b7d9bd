"""The `aisfs` CLI as users run it: a subprocess against a real `aisfs serve`."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest

from aisfs.cli import build_parser, main, resolve_globals
from aisfs.client import Client
from engine.errors import BucketNotFound
from support import ROOT, Server, aisfs_cmd, run_cli


def unique(label: str) -> str:
    return f"{re.sub(r'[^a-z0-9]+', '-', label.lower())[:30].strip('-')}-{secrets.token_hex(3)}"


@pytest.fixture
def api(shared_server: Server) -> Iterator[Client]:
    with Client(shared_server.url) as cl:
        yield cl


@pytest.fixture
def bucket(api: Client, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh bucket for one test, destroyed afterwards whatever happened."""
    name = unique(request.node.name)
    api.create_bucket(name)
    try:
        yield name
    finally:
        with contextlib.suppress(BucketNotFound):
            api.destroy_bucket(name)


def cli(srv: Server, *args: str, input: bytes | None = None, ok: bool = True):  # type: ignore[no-untyped-def]
    """Run the CLI; with `ok`, insist on exit 0 and show stderr when it is not."""
    res = run_cli(*args, endpoint=srv.url, input=input)
    if ok:
        assert res.returncode == 0, f"aisfs {' '.join(args)} -> {res.returncode}\n{res.stderr}"
    return res


def cli_parallel(srv: Server, *argvs: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    """Independent read-only commands at once (each is a whole interpreter start): results in order."""
    with ThreadPoolExecutor(max_workers=len(argvs)) as pool:
        return list(pool.map(lambda argv: run_cli(*argv, endpoint=srv.url), argvs))


def cli_bytes(srv: Server, *args: str, input: bytes = b"") -> bytes:
    """Run the CLI with binary stdin/stdout (run_cli decodes text)."""
    res = subprocess.run(aisfs_cmd(*args), input=input, capture_output=True, timeout=60, cwd=ROOT,
                         env={**os.environ, "AIS_ENDPOINT": srv.url})
    assert res.returncode == 0, res.stderr.decode()
    return res.stdout


# help and usage -----------------------------------------------------------------------------------
def help_text(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """`aisfs ARGS --help` in-process (help needs no server, and a subprocess each is slow)."""
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_help_explains_every_command_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    top = run_cli("--help")  # once as users run it
    assert top.returncode == 0 and "AIS_ENDPOINT" in top.stdout and "examples:" in top.stdout
    for cmd in ("bucket", "ls", "put", "get", "rm", "head", "job", "config", "serve"):
        assert re.search(rf"^\s+{cmd}\b", top.stdout, re.M), cmd
    for cmd in (["bucket", "create"], ["bucket", "props", "set"], ["ls"], ["put"], ["get"], ["rm"], ["head"],
                ["job", "wait"], ["config", "set"]):
        text = help_text(capsys, *cmd)
        assert "examples:" in text and f"aisfs {cmd[0]}" in text, cmd


def test_usage_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Checked in-process: usage errors are caught before any request is made."""
    argparse_errors = [(["bucket", "frobnicate"], "invalid choice"), ([], "required")]
    our_errors = [(["put", "-", "ais://b"], "put from stdin needs an object name"),
                  (["ls", "s3://bucket"], "'s3://bucket': only ais:// buckets are supported (not s3://)"),
                  (["bucket", "create", "ais://bad name"], "may only contain letters"),
                  (["rm", "ais://b", "--template", "x", "--list", "y"], "either --template or --list"),
                  (["rm", "ais://b"], "to destroy the bucket: aisfs bucket rm ais://b")]
    for argv, text in argparse_errors + our_errors:
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's own errors: usage, then the error
            code = e.code
        err = capsys.readouterr().err
        assert code == 2 and text in err, (argv, err)
        if (argv, text) in our_errors:
            assert err.count("\n") == 1 and err.startswith("aisfs: "), err


def test_endpoint_flag_env_and_unreachable_server(shared_server: Server) -> None:
    res = run_cli("ls", "--endpoint", "http://127.0.0.1:9")
    assert res.returncode == 1
    assert res.stderr.startswith("aisfs: cannot reach http://127.0.0.1:9: connection refused")
    assert res.stderr.count("\n") == 1
    # the flag (before the command too, and as a bare host:port) wins over $AIS_ENDPOINT
    res = run_cli("--endpoint", shared_server.url.removeprefix("http://"), "bucket", "ls", "--json",
                  env={"AIS_ENDPOINT": "http://127.0.0.1:9"})
    assert res.returncode == 0 and isinstance(json.loads(res.stdout), list)


def every_command(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
                  ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Each runnable command's words (`bucket props set`) and parser."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield words, parser
        return
    done: set[int] = set()
    for name, sub in subs[0].choices.items():
        if id(sub) not in done:  # aliases share a parser
            done.add(id(sub))
            yield from every_command(sub, (*words, name))


def test_global_endpoint_survives_every_subcommand(shared_server: Server, bucket: str) -> None:
    """`aisfs --endpoint URL CMD ...`: no subcommand's defaults may drop it; one after the command wins."""
    commands = list(every_command(build_parser()))
    assert len(commands) > 20
    for words, sub in commands:
        positionals = ["ais://b/k" for a in sub._actions if not a.option_strings and a.nargs != "?"
                       and a.required]
        args = resolve_globals(build_parser().parse_args(["--endpoint", "http://global:1", *words, *positionals]))
        assert args.endpoint == "http://global:1", words
        if "--endpoint" in sub._option_string_actions:
            args = resolve_globals(build_parser().parse_args(
                ["--endpoint", "http://global:1", *words, *positionals, "--endpoint", "http://local:2"]))
            assert args.endpoint == "http://local:2", words
    # and as users run it, with $AIS_ENDPOINT pointing nowhere
    dead = {"AIS_ENDPOINT": "http://127.0.0.1:9"}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda argv: run_cli("--endpoint", shared_server.url, *argv, env=dead), [
            ("ls", f"ais://{bucket}"), ("bucket", "summary", f"ais://{bucket}", "--json"),
            ("job", "show", "--all", "--json"), ("config", "show", "checksum", "--json")]))
    for res in results:
        assert res.returncode == 0, res.stderr
    assert json.loads(results[1].stdout)[0]["name"] == bucket


# buckets ------------------------------------------------------------------------------------------------
def test_bucket_lifecycle(shared_server: Server, api: Client) -> None:
    a, b, c = unique("life-a"), unique("life-b"), unique("life-c")
    try:
        # k=v props, and AIStore-style JSON props
        made_a, made_b = cli_parallel(
            shared_server, ("bucket", "create", f"ais://{a}", "--props", "checksum.type=md5 versioning.enabled=false"),
            ("bucket", "create", b, "--props", '{"checksum": {"type": "sha256"}, "access": "ro"}'))
        assert made_a.stdout == f'"ais://{a}" created\n' and made_b.stdout == f'"ais://{b}" created\n'
        again, props, listed, table = cli_parallel(
            shared_server, ("bucket", "create", f"ais://{a}"), ("bucket", "props", "show", f"ais://{a}", "--json"),
            ("bucket", "ls", "--json"), ("ls",))
        assert again.returncode == 1 and again.stderr == f'aisfs: bucket "ais://{a}" already exists\n'
        assert json.loads(props.stdout)["checksum"]["type"] == "md5"
        assert json.loads(props.stdout)["versioning"]["enabled"] is False
        assert api.head_bucket(b)["checksum"]["type"] == "sha256"
        assert {a, b} <= {x["name"] for x in json.loads(listed.stdout)}
        assert f"ais://{a} " in table.stdout and table.stdout.startswith("NAME")

        # rename keeps the objects; the old name is gone
        api.put_object(a, "k", b"payload")
        res = cli(shared_server, "bucket", "mv", f"ais://{a}", f"ais://{c}", "--wait")
        assert "move-bck) finished" in res.stdout
        assert api.get_bytes(c, "k") == b"payload"
        res = cli(shared_server, "bucket", "props", "show", f"ais://{a}", ok=False)
        assert res.returncode == 1 and res.stderr == f'aisfs: bucket "ais://{a}" does not exist\n'

        res = cli(shared_server, "bucket", "rm", f"ais://{b}", f"ais://{c}")
        assert res.stdout == f'"ais://{b}" destroyed\n"ais://{c}" destroyed\n'
        res = cli(shared_server, "bucket", "rm", f"ais://{c}", "--ignore-error")
        assert res.stderr == f'aisfs: bucket "ais://{c}" does not exist\n' and res.stdout == ""
    finally:
        for name in (a, b, c):
            with contextlib.suppress(BucketNotFound):
                api.destroy_bucket(name)


def test_bucket_props_set_and_reset(shared_server: Server, api: Client, bucket: str) -> None:
    res = cli(shared_server, "bucket", "props", "set", f"ais://{bucket}", "checksum.type=md5", "versioning.enabled=false")
    assert re.search(r"^checksum\.type\s+md5$", res.stdout, re.M)
    assert api.head_bucket(bucket)["checksum"]["type"] == "md5"
    cli(shared_server, "bucket", "props", "set", f"ais://{bucket}", '{"checksum": {"type": "sha256"}}')
    assert api.head_bucket(bucket)["checksum"]["type"] == "sha256"
    res = cli(shared_server, "bucket", "props", "set", f"ais://{bucket}", "checksum.type=bogus", ok=False)
    assert res.returncode == 1 and "checksum.type must be one of" in res.stderr
    cli(shared_server, "bucket", "props", "reset", f"ais://{bucket}")
    shown = cli(shared_server, "bucket", "props", "show", f"ais://{bucket}", "checksum.type").stdout
    assert shown.splitlines() == ["PROPERTY       VALUE", f"checksum.type  {api.get_config()['checksum']['type']}"]
    props = api.head_bucket(bucket)
    assert props["checksum"]["type"] == api.get_config()["checksum"]["type"] and props["versioning"]["enabled"]


def test_bucket_cp_copies_objects(shared_server: Server, api: Client, bucket: str) -> None:
    dst = unique("cp-dst")
    try:
        for i in range(5):
            api.put_object(bucket, f"img/{i}", f"data-{i}".encode())
        api.put_object(bucket, "other", b"x")
        res = cli(shared_server, "bucket", "cp", f"ais://{bucket}", f"ais://{dst}", "--prefix", "img/", "--wait")
        assert re.search(r"copy-bck\) finished: 5 objects", res.stdout)
        assert [e["name"] for e in api.iter_objects(dst)] == [f"img/{i}" for i in range(5)]
        assert api.get_bytes(dst, "img/3") == b"data-3"
        # without --wait: the job id and how to follow it
        res = cli(shared_server, "bucket", "cp", f"ais://{bucket}", f"ais://{dst}")
        job_id = re.search(r"job (\S+)\. To wait for it: aisfs job wait \1", res.stdout).group(1)  # type: ignore[union-attr]
        res = cli(shared_server, "job", "wait", job_id)
        assert "finished: 6 objects" in res.stdout
        assert api.get_bytes(dst, "other") == b"x"
    finally:
        with contextlib.suppress(BucketNotFound):
            api.destroy_bucket(dst)


# objects --------------------------------------------------------------------------------------------------
def test_put_get_file_round_trip(shared_server: Server, bucket: str, tmp_path: Path) -> None:
    data = secrets.token_bytes(3 * 1024 * 1024 + 17)
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    res = cli(shared_server, "put", str(src), f"ais://{bucket}/dir/blob.bin", "--progress", "--compute-checksum")
    assert res.stdout == f'PUT "{src}" => ais://{bucket}/dir/blob.bin (3.00MiB)\n'
    # a file into a "directory" keeps its name; plain bucket/key URIs work too
    cli(shared_server, "put", str(src), f"{bucket}/copies/")
    out, outdir = tmp_path / "out.bin", tmp_path / "outdir"
    outdir.mkdir()
    to_file, to_dir = cli_parallel(
        shared_server, ("get", f"ais://{bucket}/dir/blob.bin", str(out), "--progress", "--checksum"),
        ("get", f"{bucket}/copies/blob.bin", str(outdir)))
    assert to_file.returncode == 0 and out.read_bytes() == data
    assert "GET" in to_file.stdout and "100%" in to_file.stderr  # the forced bar went to stderr
    assert to_dir.returncode == 0 and (outdir / "blob.bin").read_bytes() == data
    assert [p.name for p in outdir.iterdir()] == ["blob.bin"]  # no temp files left behind
    part = cli_bytes(shared_server, "get", f"ais://{bucket}/dir/blob.bin", "-", "--offset", "1000", "--length", "50")
    assert part == data[1000:1050]


def test_stdin_to_stdout_and_awkward_keys(shared_server: Server, api: Client, bucket: str) -> None:
    keys = ["a b/c d+100%?#frag", "./x/../y/.", "ünïcødé/ключ/.."]
    payloads = {key: f"payload {i} ".encode() * 1000 for i, key in enumerate(keys)}
    for key, payload in payloads.items():
        cli_bytes(shared_server, "put", "-", f"ais://{bucket}/{key}", input=payload)
        assert api.get_bytes(bucket, key) == payload, key
    listed = [e["name"] for e in json.loads(cli(shared_server, "ls", f"ais://{bucket}", "--json").stdout)]
    assert listed == sorted(keys, key=lambda k: k.encode())
    assert cli_bytes(shared_server, "get", f"ais://{bucket}/{keys[0]}", "-") == payloads[keys[0]]
    assert cli_bytes(shared_server, "cat", f"ais://{bucket}/{keys[2]}") == payloads[keys[2]]


def test_put_get_directory_recursively(shared_server: Server, api: Client, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "tree"
    files = {"a.txt": b"A", "sub/b.bin": secrets.token_bytes(70000), "sub/deep/c": b"", "sp ace/%d+": b"odd"}
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    res = cli(shared_server, "put", str(src), f"ais://{bucket}/train", "--num-workers", "3")
    assert "PUT 4 objects" in res.stdout and f"=> ais://{bucket}/train/" in res.stdout
    listed = api.iter_objects(bucket)
    assert {e["name"]: e["size"] for e in listed} == {f"train/{k}": len(v) for k, v in files.items()}

    out = tmp_path / "out"
    res = cli(shared_server, "get", f"ais://{bucket}/train/", str(out))
    assert "GET 4 objects" in res.stdout
    got = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert got == files
    # several sources: each keeps its name, like `cp -r`
    cli(shared_server, "put", str(src / "a.txt"), str(src / "sub"), f"ais://{bucket}/many")
    assert sorted(e["name"] for e in api.iter_objects(bucket, prefix="many/")) == \
        ["many/a.txt", "many/sub/b.bin", "many/sub/deep/c"]
    # a directory named without its trailing slash, like `cp -r dir`
    out1 = tmp_path / "out1"
    cli(shared_server, "get", f"ais://{bucket}/train/sub", str(out1))
    assert (out1 / "deep" / "c").read_bytes() == b"" and (out1 / "b.bin").read_bytes() == files["sub/b.bin"]
    # the whole bucket, with --prefix
    out2 = tmp_path / "out2"
    cli(shared_server, "get", f"ais://{bucket}", str(out2), "--prefix", "train/sub/")  # names relative to it
    assert sorted(p.relative_to(out2).as_posix() for p in out2.rglob("*")) == ["b.bin", "deep", "deep/c"]


def test_get_skips_names_that_are_not_safe_paths(shared_server: Server, api: Client, bucket: str,
                                                 tmp_path: Path) -> None:
    api.put_object(bucket, "d/ok", b"fine")
    api.put_object(bucket, "d/../../escape", b"evil")
    out = tmp_path / "out"
    res = cli(shared_server, "get", f"ais://{bucket}/d/", str(out))
    assert (out / "ok").read_bytes() == b"fine"
    assert "1 skipped" in res.stdout and "not a safe local path" in res.stderr
    assert not (tmp_path / "escape").exists() and not (tmp_path.parent / "escape").exists()


def test_ls_prefix_props_limit_and_directories(shared_server: Server, api: Client, bucket: str) -> None:
    for key in ("a/1", "a/2", "a/sub/3", "b/4", "c"):
        api.put_object(bucket, key, b"12345")
    b = f"ais://{bucket}"
    listing, in_dir, limited, folded, full, columns, bad = cli_parallel(
        shared_server, ("ls", b, "--prefix", "a/"), ("ls", f"{b}/a/", "-H"),
        ("ls", b, "--limit", "2", "--page-size", "1", "--json"), ("ls", b, "--no-recursion", "-H"),
        ("ls", b, "--props", "all", "--json", "--prefix", "c"), ("ls", b, "--props", "name,checksum,version"),
        ("ls", b, "--props", "colour"))
    assert listing.stdout.splitlines() == ["NAME     SIZE", "a/1      5B", "a/2      5B", "a/sub/3  5B"]
    assert in_dir.stdout.split() == ["a/1", "5B", "a/2", "5B", "a/sub/3", "5B"]
    assert [e["name"] for e in json.loads(limited.stdout)] == ["a/1", "a/2"]
    assert [line.split()[0] for line in folded.stdout.splitlines()] == ["a/", "b/", "c"]
    entry = json.loads(full.stdout)[0]
    assert entry["name"] == "c" and entry["size"] == 5 and entry["checksum"] and entry["version"] == "1"
    assert entry["copies"] == 1 and entry["location"] == str((shared_server.data_dir / "mpath").resolve())
    assert columns.stdout.splitlines()[0].split() == ["NAME", "CHECKSUM", "VERSION"]
    assert bad.returncode == 2 and "unknown --props colour" in bad.stderr


def test_head_object_and_errors(shared_server: Server, api: Client, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "f.json"
    src.write_bytes(b'{"k": 1}')
    cli(shared_server, "put", str(src), f"ais://{bucket}/f.json", "--content-type", "application/json",
        "--meta", "owner=Jörg,stage=raw")
    api.put_object(bucket, "d/x", b"12345")
    api.put_object(bucket, "d/y/z", b"123")
    b = f"ais://{bucket}"
    as_json, as_table, missing, no_bucket, summary, in_dir, get_missing = cli_parallel(
        shared_server, ("head", f"{b}/f.json", "--json"), ("head", f"{b}/f.json"), ("head", f"{b}/missing"),
        ("head", "ais://no-such-bucket-x/k"), ("head", b, "--json"), ("head", f"{b}/d/", "--raw"),
        ("get", f"{b}/missing", str(tmp_path / "m")))
    info = json.loads(as_json.stdout)
    assert info["size"] == 8 and info["content_type"] == "application/json"
    assert info["custom"] == {"owner": "Jörg", "stage": "raw"} and info["checksum"]["value"]
    assert re.search(r"^size\s+8B$", as_table.stdout, re.M)
    assert re.search(r"^custom\s+owner=Jörg,stage=raw$", as_table.stdout, re.M)
    assert missing.returncode == 1 and missing.stderr == f'aisfs: object "{b}/missing" does not exist\n'
    assert no_bucket.returncode == 1 and no_bucket.stderr == 'aisfs: bucket "ais://no-such-bucket-x" does not exist\n'
    assert json.loads(summary.stdout) | {"name": ""} == {"name": "", "provider": "ais", "objects": 3, "size": 16}
    assert [line.split() for line in in_dir.stdout.splitlines()[1:]] == [["name", f"{b}/d/"], ["objects", "2"],
                                                                         ["size", "8"]]  # a virtual directory
    assert get_missing.returncode == 1 and "does not exist" in get_missing.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]  # no file, not even a temporary one


def test_rm_objects_directory_template_and_list(shared_server: Server, api: Client, bucket: str) -> None:
    for key in ["one", "two", "tmp/a", "tmp/b/c", "tmpfile", *[f"shard-{i:02}.tar" for i in range(10)]]:
        api.put_object(bucket, key, b"x")
    res = cli(shared_server, "rm", f"ais://{bucket}/one", f"ais://{bucket}/two")
    assert res.stdout == f'deleted "ais://{bucket}/one"\ndeleted "ais://{bucket}/two"\n'
    res = cli(shared_server, "rm", f"ais://{bucket}/one", ok=False)
    assert res.returncode == 1 and "does not exist" in res.stderr
    res = cli(shared_server, "rm", "-r", f"ais://{bucket}/tmp", "--wait")  # the directory, not "tmpfile"
    assert "finished: 2 objects" in res.stdout
    res = cli(shared_server, "rm", f"ais://{bucket}", "--template", "shard-{00..04}.tar", "--wait")
    assert "finished: 5 objects" in res.stdout
    res = cli(shared_server, "rm", f"ais://{bucket}", "--list", "shard-05.tar,shard-06.tar", "--wait")
    assert "finished: 2 objects" in res.stdout
    left = [e["name"] for e in api.iter_objects(bucket)]
    assert left == ["shard-07.tar", "shard-08.tar", "shard-09.tar", "tmpfile"]
    res = cli(shared_server, "rm", f"ais://{bucket}", "--template", "*", "--wait")
    assert "finished: 4 objects" in res.stdout


# jobs ---------------------------------------------------------------------------------------------------
def test_job_show_wait_stop(shared_server: Server, api: Client, bucket: str) -> None:
    api.put_object(bucket, "a", b"1")
    job_id = api.delete_objects(bucket, objnames=["a", "missing"])
    res = cli(shared_server, "job", "wait", job_id, ok=False)
    assert res.returncode == 1 and "failed: 1 objects" in res.stdout and "missing: does not exist" in res.stderr
    one, listed, table, missing = cli_parallel(
        shared_server, ("job", "show", job_id, "--json"), ("job", "show", "--all", "--bucket", bucket, "--json"),
        ("job", "show", "--all", "--kind", "delete-listrange"), ("job", "show", "nosuchjob"))
    job = json.loads(one.stdout)
    assert job["id"] == job_id and job["kind"] == "delete-listrange" and job["err_count"] == 1
    assert [j["id"] for j in json.loads(listed.stdout)] == [job_id]
    assert job_id in table.stdout and table.stdout.startswith("ID")
    assert missing.returncode == 1 and missing.stderr == "aisfs: job 'nosuchjob' not found\n"
    res = cli(shared_server, "job", "stop", job_id)  # stopping a finished job is harmless
    assert job_id in res.stdout


# config -------------------------------------------------------------------------------------------------
def test_config_show_and_set(shared_server: Server, api: Client) -> None:
    before = api.get_config()
    bucket = unique("inherits")
    try:
        res = cli(shared_server, "config", "set", "checksum.type=md5", "space.highwm=85")
        assert re.search(r"^checksum\.type\s+md5$", res.stdout, re.M)
        assert re.search(r"^space\.highwm\s+85$", res.stdout, re.M)
        api.create_bucket(bucket)  # new buckets inherit the cluster's checksum type
        whole, one, invalid, unknown, props = cli_parallel(
            shared_server, ("config", "show", "--json"), ("config", "show", "checksum.type", "--json"),
            ("config", "set", "checksum.type=crc99"), ("config", "set", "no.such=1"),
            ("bucket", "props", "show", bucket, "checksum", "--json"))
        after = json.loads(whole.stdout)
        assert after["checksum"]["type"] == "md5" and after["space"]["highwm"] == 85
        assert after["version"] > before["version"]
        assert json.loads(one.stdout) == {"checksum.type": "md5"}
        assert invalid.returncode == 1 and invalid.stderr.startswith("aisfs: checksum.type must be one of")
        assert unknown.returncode == 1 and unknown.stderr == "aisfs: unknown setting 'no.such'\n"
        assert json.loads(props.stdout) == {"checksum.type": "md5", "checksum.validate_cold_get": True,
                                            "checksum.validate_warm_get": False}
    finally:  # the server is shared: put the cluster back as it was
        api.set_config({"checksum.type": before["checksum"]["type"], "space.highwm": before["space"]["highwm"]})
        with contextlib.suppress(BucketNotFound):
            api.destroy_bucket(bucket)
