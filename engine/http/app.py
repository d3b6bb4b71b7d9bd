"""One listener, two faces: `/v1/...` is the REST face, everything else is S3 (at `/s3/...` and `/`)."""
from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Any, Callable

import trio

from .. import durations
from ..errors import AisError
from .rest import RestFace
from .s3 import S3Face
from .s3.auth import ENV_ACCESS, ENV_SECRET, configured_keys
from .server import App, HTTPServer, Limits, Request, Response, parse_listen

if TYPE_CHECKING:
    from ..core import Engine

log = logging.getLogger("aisfs.http")


def make_app(engine: "Engine") -> App:
    rest = RestFace(engine)
    s3 = S3Face(engine)

    async def app(req: Request) -> Response:
        p = req.raw_path
        if p == "/v1" or p.startswith("/v1/"):
            return await rest.handle(req)
        return await s3.handle(req)

    return app


class ConfigLimits:
    """The HTTP limits of the engine's current config, for each new connection: a set-config of `timeout.*`
    or `net.max_header_size` applies without a restart, in worker processes too (`refresh`: a worker's look
    at the owner's config first). Worked out again only when the config document has been replaced."""

    def __init__(self, engine: "Engine", refresh: Callable[[], None] | None = None) -> None:
        self._engine, self._refresh = engine, refresh
        self._doc: dict[str, Any] | None = None
        self._limits = Limits()

    def __call__(self) -> Limits:
        if self._refresh is not None:
            self._refresh()
        doc = self._engine.config.doc
        if doc is not self._doc:
            self._doc = doc
            self._limits = Limits(max_header=doc["net"]["max_header_size"],
                                  header_timeout=durations.parse(doc["timeout"]["request_header"]),
                                  keepalive_timeout=durations.parse(doc["timeout"]["max_keepalive"]),
                                  body_idle_timeout=durations.parse(doc["timeout"]["request_body_idle"]))
        return self._limits


def check_s3_auth(engine: "Engine", host: str, listen: str, anonymous: bool) -> None:
    """Without S3 keys every S3 request is anonymous: fine on loopback, elsewhere only when asked for."""
    if anonymous or configured_keys(engine) or host == "localhost" or _is_loopback(host):
        return
    raise AisError(f"refusing to serve S3 without access keys on {listen}, which is not a loopback address: "
                   f"set {ENV_ACCESS} and {ENV_SECRET} (or config s3.keys), or pass --anonymous to allow "
                   "unsigned requests")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve(engine: "Engine", listen: str, *, stop: trio.Event | None = None, anonymous: bool = False,
                workers: int = 1, task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve S3 + REST on `listen` until `stop` is set (graceful) or the caller cancels (abrupt), in this
    process and `workers - 1` worker processes (workers.py).

    Every caller (`aisfs serve`, `aisfs mount --serve`) gets the same rule for unsigned S3 access."""
    from .workers import Workers   # here: workers.py builds its app from this module

    host, port = parse_listen(listen)
    check_s3_auth(engine, host, listen, anonymous)
    listeners = await trio.open_tcp_listeners(port, host=host)
    addr = listeners[0].socket.getsockname()
    log.info("serving S3 and REST on http://%s:%d", addr[0], addr[1])
    stop = stop if stop is not None else trio.Event()
    server = HTTPServer(make_app(engine), ConfigLimits(engine))
    helpers = Workers(engine, server, listeners, workers - 1, stop) if workers > 1 else None
    task_status.started((addr[0], addr[1]))
    await server.serve(listeners, stop=stop, alongside=helpers.run if helpers is not None else None)
