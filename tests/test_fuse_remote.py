"""Remote mode: the mount talks to a running `aisfs serve` over /v1 (same FUSE ops, REST adapter)."""
from __future__ import annotations

import errno
import os
import stat
import subprocess
import time
from pathlib import Path

import httpx

from fuse_support import Mount, cleanup, large_writes_and_fallbacks
from support import Server


def test_remote_mount_round_trip(tmp_path: Path) -> None:
    srv = Server(tmp_path / "srvdata").start()
    m = Mount(tmp_path / "m", "rb", "--endpoint", srv.url, "--create-bucket", "--metadata-ttl", "0.5",
              data_dir=tmp_path / "staging")
    try:
        m.start()
        data = os.urandom(9 * 1024 * 1024 + 7)
        m.path("d").mkdir()
        m.path("d", "big").write_bytes(data)
        assert m.path("d", "big").read_bytes() == data
        with open(m.path("d", "big"), "rb") as f:
            f.seek(5 * 1024 * 1024)
            assert f.read(100) == data[5 * 1024 * 1024:5 * 1024 * 1024 + 100]
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            with open(m.path("d", "big"), "rb") as f:  # a handle keeps its version, or fails: never mixes
                assert f.read(10) == data[:10]
                assert c.put("/v1/objects/rb/d/big", content=b"other").status_code == 200
                try:
                    f.seek(8 * 1024 * 1024)
                    assert f.read(10) == data[8 * 1024 * 1024:8 * 1024 * 1024 + 10]
                except OSError as e:
                    assert e.errno == errno.ESTALE
            assert c.put("/v1/objects/rb/d/big", content=data).status_code == 200
            time.sleep(0.7)
            r = c.get("/v1/objects/rb/d/big")
            assert r.content == data
            assert os.getxattr(m.path("d", "big"), "user.ais.version").decode() == r.headers["Ais-Version"]
            assert c.put("/v1/objects/rb/d/rest", content=b"from rest").status_code == 200
        time.sleep(0.7)
        assert sorted(os.listdir(m.path("d"))) == ["big", "rest"]
        with open(m.path("d", "rest"), "r+b") as f:
            f.seek(5)
            f.write(b"REST")
        assert m.path("d", "rest").read_bytes() == b"from REST"
        os.chmod(m.path("d", "rest"), 0o600)
        os.utime(m.path("d", "rest"), ns=(1_600_000_000_000_000_000,) * 2)
        st = os.stat(m.path("d", "rest"))
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_mtime_ns == 1_600_000_000_000_000_000
        os.rename(m.path("d"), m.path("e"))
        assert sorted(os.listdir(m.path("e"))) == ["big", "rest"]
        os.symlink("e/rest", m.path("ln"))
        assert m.path("ln").read_bytes() == b"from REST"
        subprocess.run(["rm", "-r", str(m.path("e"))], check=True)
        assert os.listdir(m.mnt) == ["ln"]
        m.restart()
        assert os.readlink(m.path("ln")) == "e/rest"
    finally:
        m.stop()
        srv.stop()
        cleanup(tmp_path)


def test_remote_streamed_writes_and_fallbacks(tmp_path: Path) -> None:
    """Remote mode PUTs a sequential write while it is written; every way out of that falls back to the
    staged copy, and the server ends up with exactly the bytes written."""
    srv = Server(tmp_path / "srvdata").start()
    m = Mount(tmp_path / "m", "rs", "--endpoint", srv.url, "--create-bucket", data_dir=tmp_path / "staging")
    try:
        m.start()
        m.path("d").mkdir()
        large_writes_and_fallbacks(m.path("d"))
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            seq = c.get("/v1/objects/rs/d/seq").content
            assert c.get("/v1/objects/rs/d/synced").content == seq + b"tail"
            assert c.get("/v1/objects/rs/d/gone").status_code == 404
    finally:
        m.stop()
        srv.stop()
        cleanup(tmp_path)
