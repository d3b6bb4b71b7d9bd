"""Cluster config and mountpaths over /v1: defaults, dotted updates, validation, persistence, HRW spread."""
from __future__ import annotations

import contextlib
import sqlite3
import stat
import subprocess
from pathlib import Path

import httpx
import pytest

from restkit import act, assert_error, bucket_props, create_bucket, mountpaths_of, ourl
from fuse_support import Mount, is_mounted
from support import ROOT, Server, aisfs_cmd, free_port


def config(c: httpx.Client) -> dict:
    """The cluster config as a client reads it."""
    r = c.get("/v1/daemon", params={"what": "config"})
    assert r.status_code == 200, r.text
    return r.json()


def test_defaults(server: Server) -> None:
    """AIStore's defaults: watermarks 65/75/90/95, LRU 2h, xxhash, versioning on."""
    with server.client() as c:
        cfg = config(c)
        assert cfg["space"] == {"cleanupwm": 65, "lowwm": 75, "highwm": 90, "out_of_space": 95}
        assert cfg["lru"]["dont_evict_time"] == "2h"
        assert cfg["checksum"]["type"] == "xxhash"
        assert cfg["versioning"]["enabled"] is True
        assert c.get("/v1/cluster", params={"what": "config"}).json() == cfg
        assert isinstance(cfg["version"], int)


def test_set_config_dotted_bumps_version_and_persists(server: Server) -> None:
    """`PUT /v1/daemon/set-config?k=v` applies typed values, bumps the version, survives a restart."""
    with server.client() as c:
        v0 = config(c)["version"]
        r = c.put("/v1/daemon/set-config", params={"space.lowwm": "70", "space.highwm": "85",
                                                   "lru.dont_evict_time": "3h", "checksum.type": "md5"})
        assert r.status_code == 200, r.text
        cfg = r.json()
        assert cfg["space"]["lowwm"] == 70 and cfg["space"]["highwm"] == 85
        assert cfg["lru"]["dont_evict_time"] == "3h" and cfg["checksum"]["type"] == "md5"
        assert cfg["version"] == v0 + 1
        r = act(c, "PUT", "/v1/cluster", "set-config", {"versioning.enabled": "false"})
        assert r.status_code == 200, r.text
        assert r.json()["version"] == v0 + 2
        r = c.put("/v1/cluster/set-config", params={"space.cleanupwm": "60"})
        assert r.status_code == 200 and r.json()["version"] == v0 + 3
        # new buckets inherit the changed cluster defaults
        p = create_bucket(c, "inherits")
        assert p["checksum"]["type"] == "md5" and p["versioning"]["enabled"] is False
        assert p["lru"]["dont_evict_time"] == "3h"
        before = config(c)
    server.restart()
    with server.client() as c:
        assert config(c) == before
        assert bucket_props(c, "inherits")["checksum"]["type"] == "md5"


@pytest.mark.parametrize("params,word", [
    ({"space.lowwm": "95"}, "watermark"),                # lowwm > highwm
    ({"space.highwm": "99"}, "watermark"),               # highwm > out_of_space
    ({"space.cleanupwm": "0"}, "watermark"),
    ({"space.lowwm": "lots"}, "integer"),
    ({"no.such.key": "1"}, "unknown"),
    ({"space.nope": "1"}, "unknown"),
    ({"checksum.type": "rot13"}, "checksum"),
    ({"lru.dont_evict_time": "forever"}, "duration"),
    ({"versioning.enabled": "perhaps"}, "boolean"),
    ({"net.max_header_size": "10"}, "max_header_size"),  # would lock every client out after a restart
    ({"net.max_json_body": "0"}, "max_json_body"),
    ({"timeout.max_keepalive": "0s"}, "positive"),
    ({"timeout.request_header": "0"}, "positive"),
])
def test_invalid_settings_refused_and_config_unchanged(shared_server: Server, params: dict, word: str) -> None:
    """Every invalid setting answers 400 with a reason; the config (and its version) stays as it was."""
    with shared_server.client() as c:
        before = config(c)
        assert_error(c.put("/v1/daemon/set-config", params={**params}), 400, word)
        # a valid key beside an invalid one is not applied either
        assert_error(c.put("/v1/daemon/set-config", params={"space.cleanupwm": "50", **params}), 400)
        assert config(c) == before


def test_set_config_without_settings_is_400(shared_server: Server) -> None:
    """No settings, unknown actions and unknown ?what= are the caller's error, never 500."""
    with shared_server.client() as c:
        assert_error(c.put("/v1/daemon/set-config"), 400)
        assert_error(act(c, "PUT", "/v1/cluster", "frobnicate", {}), 400, "unknown action")
        assert_error(c.get("/v1/daemon", params={"what": "nonsense"}), 400)


def objects_per_mountpath(data_dir: Path) -> dict[str, int]:
    """How many indexed objects live on each mountpath."""
    db = sqlite3.connect(f"file:{data_dir / 'index.db'}?mode=ro", uri=True)
    try:
        return {p: n for p, n in db.execute(
            "SELECT m.path, count(*) FROM objects o JOIN mountpaths m ON m.id=o.mp GROUP BY m.path")}
    finally:
        db.close()


def test_two_mountpaths_spread_and_report(tmp_path: Path) -> None:
    """Objects land on both mountpaths (HRW); mountpaths and capacity list both; the set is remembered."""
    mp1, mp2 = (tmp_path / "disk1").resolve(), (tmp_path / "disk2").resolve()
    srv = Server(tmp_path / "data", "--mountpath", str(mp1), "--mountpath", str(mp2)).start()
    try:
        with srv.client() as c:
            assert c.get("/v1/daemon", params={"what": "mountpaths"}).json() == {"available": [str(mp1), str(mp2)]}
            cap = c.get("/v1/daemon", params={"what": "capacity"}).json()
            assert [x["mountpath"] for x in cap] == [str(mp1), str(mp2)]
            for x in cap:
                assert x["total"] > 0 and 0 <= x["pct_used"] <= 100 and x["avail"] <= x["total"]
            create_bucket(c, "spread")
            blobs = {f"obj-{i}": f"content {i}".encode() * 100 for i in range(64)}
            for k, v in blobs.items():
                assert c.put(ourl("spread", k), content=v).status_code == 200
            per = objects_per_mountpath(srv.data_dir)
            assert set(per) == {str(mp1), str(mp2)} and sum(per.values()) == 64
            assert min(per.values()) >= 10, per  # HRW spreads 64 keys roughly evenly
            for mp in (mp1, mp2):
                assert sum(1 for p in (mp / "%ob").rglob("*") if p.is_file()) == per[str(mp)]
            stats = c.get("/v1/daemon", params={"what": "stats"}).json()
            assert len(stats["capacity"]) == 2 and stats["buckets"] == 1
        srv.extra = []  # a restart without --mountpath finds the remembered set
        srv.restart()
        with srv.client() as c:
            assert c.get("/v1/daemon", params={"what": "mountpaths"}).json() == {"available": [str(mp1), str(mp2)]}
            for k, v in blobs.items():
                assert c.get(ourl("spread", k)).content == v
        assert set(mountpaths_of(srv.data_dir).values()) >= {mp1, mp2}
    finally:
        srv.stop()


def test_second_server_on_same_data_dir_exits_with_in_use(server: Server, tmp_path: Path) -> None:
    """A second process on an open data dir (or mountpath) refuses to start, with a clear error."""
    cmd = aisfs_cmd("serve", "--data-dir", str(server.data_dir), "--listen", f"127.0.0.1:{free_port()}")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "in use" in p.stderr and "Traceback" not in p.stderr, p.stderr
    mp = server.data_dir / "mpath"
    cmd = aisfs_cmd("serve", "--data-dir", str(tmp_path / "other"), "--listen", f"127.0.0.1:{free_port()}",
                    "--mountpath", str(mp))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "in use" in p.stderr and "Traceback" not in p.stderr, p.stderr
    with server.client() as c:
        assert c.get("/v1/health").json() == {"status": "ok"}


def _format(data_dir: Path, set_to: int | None = None) -> int:
    """The data format number a data dir's index carries (as any SQLite tool reads it); optionally set it."""
    with contextlib.closing(sqlite3.connect(data_dir / "index.db")) as db:
        if set_to is not None:
            db.execute(f"PRAGMA user_version={set_to}")
        return db.execute("PRAGMA user_version").fetchone()[0]


def test_data_dir_of_a_newer_format_is_refused_and_left_alone(tmp_path: Path) -> None:
    """A data dir a newer aisfs wrote (a higher format number) stops the server and the embedded mount with a
    clear error before anything in it changes; one from before format numbers (0) opens and is upgraded."""
    srv = Server(tmp_path / "data")
    srv.start()
    try:
        with srv.client() as c:
            create_bucket(c, "fmt")
            assert c.put(ourl("fmt", "k"), content=b"kept").status_code == 200
    finally:
        srv.stop()
    current = _format(srv.data_dir)
    assert current >= 1
    _format(srv.data_dir, current + 1)
    before = {p.name: p.read_bytes() for p in srv.data_dir.iterdir() if p.is_file() and p.suffix != ".lock"}
    serve = aisfs_cmd("serve", "--data-dir", str(srv.data_dir), "--listen", f"127.0.0.1:{free_port()}")
    mount = Mount(tmp_path, "fmt", data_dir=srv.data_dir)
    try:
        for cmd in (serve, mount.cmd("--foreground")):
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT)
            assert p.returncode != 0
            assert "newer aisfs" in p.stderr and "Traceback" not in p.stderr, p.stderr
            assert not is_mounted(mount.mnt)
    finally:
        mount.stop()
    after = {p.name: p.read_bytes() for p in srv.data_dir.iterdir() if p.is_file() and p.suffix != ".lock"}
    assert after == before
    _format(srv.data_dir, 0)  # as every data dir was before the number existed
    srv.start()
    try:
        with srv.client() as c:
            assert c.get(ourl("fmt", "k")).content == b"kept"
        assert _format(srv.data_dir) == current
    finally:
        srv.stop()


def test_bad_mountpaths_exit_with_a_clear_error(tmp_path: Path) -> None:
    """A mountpath that is a file, or the same one twice, stops the start with a message naming the problem."""
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    for extra, word in [(["--mountpath", str(not_a_dir)], str(not_a_dir)),
                        (["--mountpath", str(tmp_path / "m"), "--mountpath", str(tmp_path / "m")], "twice")]:
        cmd = aisfs_cmd("serve", "--data-dir", str(tmp_path / "data"), "--listen", f"127.0.0.1:{free_port()}", *extra)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        assert p.returncode != 0
        assert word in p.stderr and "cannot serve on" not in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_failed_mountpath_is_not_remembered(tmp_path: Path) -> None:
    """A start that fails on a bad --mountpath leaves the working set in place for the next plain start."""
    srv = Server(tmp_path / "data").start()
    try:
        with srv.client() as c:
            create_bucket(c, "stay")
            assert c.put(ourl("stay", "o"), content=b"still here").status_code == 200
        srv.stop()
        (tmp_path / "file").write_text("x")
        cmd = aisfs_cmd("serve", "--data-dir", str(srv.data_dir), "--listen", f"127.0.0.1:{free_port()}",
                        "--mountpath", str(tmp_path / "file"))
        assert subprocess.run(cmd, capture_output=True, text=True, timeout=30).returncode != 0
        srv.start()
        with srv.client() as c:
            assert c.get(ourl("stay", "o")).content == b"still here"
    finally:
        srv.stop()


def test_s3_secret_keys_are_never_shown(server: Server) -> None:
    """Config set and show answer with the access key, never its secret."""
    with server.client() as c:
        r = c.put("/v1/cluster", json={"action": "set-config", "value": {"s3.keys": {"AKID1": "very-secret"}}})
        assert r.status_code == 200, r.text
        assert r.json()["s3"]["keys"] == {"AKID1": "****"}
        shown = c.get("/v1/daemon", params={"what": "config"})
        assert shown.json()["s3"]["keys"] == {"AKID1": "****"} and "very-secret" not in shown.text
    # The stored config holds the secret (SigV4 needs it), so only its owner may read the file.
    stored = server.data_dir / "config.json"
    assert "very-secret" in stored.read_text()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    # A config an earlier build left world-readable is made private at start-up.
    server.stop()
    stored.chmod(0o644)
    server.start()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
