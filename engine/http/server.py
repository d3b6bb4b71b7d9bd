"""HTTP/1.1 server on trio + h11: keep-alive, streamed bodies, `Expect: 100-continue`,
object bodies by `os.sendfile`, bounded header size and timeouts, graceful stop.

The server knows nothing about REST or S3: it turns bytes into `Request`s, hands them to an
`App` (see `app.py`), and writes the `Response` back.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import re
import socket
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import AsyncIterable, AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qsl, unquote

import h11
import trio

from ..errors import BadRequest, EntityTooLarge, IncompleteBody

log = logging.getLogger("aisfs.http")

RECV_SIZE = 1 << 20
SMALL_FILE = 64 * 1024        # bodies up to this size are read and sent with the headers in one write
SERVER_NAME = b"aisfs"


SUPPORTED_VERSIONS = (b"1.0", b"1.1")

class FileBody:
    """A byte range of an open file, sent with sendfile; `close` runs when sending ends."""

    def __init__(self, fd: int, offset: int, length: int, close: Callable[[], None] | None = None) -> None:
        self.fd, self.offset, self.length, self._close = fd, offset, length, close

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None


Body = bytes | AsyncIterable[bytes] | FileBody | None


@dataclass
class Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: Body = b""
    length: int | None = None      # Content-Length for streamed bodies (None: chunked)
    head: bool = False             # answer to HEAD: headers only, Content-Length kept as given


@dataclass
class Limits:
    max_header: int = 65536
    header_timeout: float = 30.0
    keepalive_timeout: float = 60.0
    body_idle_timeout: float = 60.0


class _Sized:
    """Lets h11 account for bytes we send ourselves with sendfile."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


class Request:
    """One request; the body is read on demand, as a stream."""

    def __init__(self, conn: "_Conn", ev: h11.Request) -> None:
        self._conn = conn
        self.method: str = ev.method.decode("ascii")
        target = ev.target.decode("latin-1")
        if target[:8].lower().startswith(("http://", "https://")):  # absolute-form (RFC 9112 3.2.2): use its path
            target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
        self.raw_path, _, self.query_string = target.partition("?")
        self.headers: dict[str, str] = {}
        for name, value in ev.headers:
            n = name.decode("latin-1")
            v = value.decode("utf-8", "surrogateescape")
            self.headers[n] = f"{self.headers[n]},{v}" if n in self.headers else v
        cl = self.headers.get("content-length")
        self.content_length: int | None = int(cl) if cl is not None and cl.isdigit() else None
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        self.client = conn.peer
        self._query: list[tuple[str, str]] | None = None

    @property
    def path(self) -> str:
        """The path percent-decoded exactly once (never normalized)."""
        try:
            return unquote(self.raw_path, errors="strict")
        except UnicodeDecodeError:
            raise BadRequest("request path is not valid UTF-8 after percent-decoding") from None

    @property
    def query_items(self) -> list[tuple[str, str]]:
        if self._query is None:
            try:
                self._query = parse_qsl(self.query_string, keep_blank_values=True, errors="strict")
            except (UnicodeDecodeError, ValueError):
                raise BadRequest("query string is not valid UTF-8") from None
        return self._query

    @property
    def query(self) -> dict[str, str]:
        return dict(self.query_items)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)

    async def body(self) -> AsyncIterator[bytes]:
        """The request body, piece by piece; answers `Expect: 100-continue` on first read."""
        async for chunk in self._conn.body_chunks():
            yield chunk

    async def read_body(self, limit: int) -> bytes:
        """The whole body, refused when longer than `limit` (JSON, XML documents)."""
        if self.content_length is not None and self.content_length > limit:
            raise EntityTooLarge(f"request body of {self.content_length} bytes exceeds the {limit}-byte limit")
        buf = bytearray()
        async for chunk in self.body():
            buf += chunk
            if len(buf) > limit:
                raise EntityTooLarge(f"request body exceeds the {limit}-byte limit")
        return bytes(buf)


App = Callable[[Request], Awaitable[Response]]


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


@functools.lru_cache(maxsize=8192)
def _date_of_second(sec: int) -> str:
    return formatdate(sec, usegmt=True)


def http_date(ts: float | None = None) -> str:
    """RFC 1123 date; formatted once per second of time, since every response carries one."""
    return _date_of_second(int(ts if ts is not None else time.time()))


_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_known_names: set[bytes] = set()


def _safe_headers(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Encode response headers, refusing names that are not tokens and stripping CR/LF/NUL from values.

    This replaces h11's per-header regex validation (the largest per-request cost for small
    objects): names repeat, so each is checked once; values need only the injection guard.
    """
    out = []
    for k, v in headers:
        kb = k.encode("latin-1")
        if kb not in _known_names:
            if not _TOKEN.fullmatch(kb):
                raise ValueError(f"invalid response header name {k!r}")
            if len(_known_names) < 4096:
                _known_names.add(kb)
        vb = v.encode("latin-1", "replace")
        if b"\r" in vb or b"\n" in vb or b"\0" in vb:
            vb = vb.replace(b"\r", b" ").replace(b"\n", b" ").replace(b"\0", b" ")
        out.append((kb, vb.strip()))
    return out


class _Conn:
    def __init__(self, server: "HTTPServer", stream: trio.SocketStream) -> None:
        self.server = server
        self.stream = stream
        self.sock_fd = stream.socket.fileno()
        try:
            self.peer = str(stream.socket.getpeername()[0])
        except OSError:
            self.peer = ""
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=server.limits.max_header)
        self.idle_scope: trio.CancelScope | None = None

    async def _next_event(self, timeout: float) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        while True:
            ev = self.h11.next_event()
            if ev is not h11.NEED_DATA:
                return ev
            with trio.fail_after(timeout):
                data = await self.stream.receive_some(RECV_SIZE)
            self.h11.receive_data(data)

    async def body_chunks(self) -> AsyncIterator[bytes]:
        if self.h11.they_are_waiting_for_100_continue:
            await self._send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue"))
        while True:
            try:
                ev = await self._next_event(self.server.limits.body_idle_timeout)
            except h11.RemoteProtocolError as e:
                raise BadRequest(f"malformed request body: {e}") from None
            except trio.TooSlowError:
                raise IncompleteBody("timed out waiting for the request body") from None
            if isinstance(ev, h11.Data):
                yield bytes(ev.data)
            elif isinstance(ev, h11.EndOfMessage):
                return
            elif isinstance(ev, h11.ConnectionClosed):
                raise IncompleteBody("client closed the connection before the body ended")
            else:
                raise BadRequest("unexpected data in the request body")

    async def _send(self, ev: h11.Event) -> None:
        data = self.h11.send(ev)
        if data:
            await self.stream.send_all(data)

    async def serve(self) -> None:
        limits = self.server.limits
        first = True
        try:
            while True:
                # Waiting for a request: the only point where a draining server may close us.
                with trio.CancelScope() as scope:
                    self.idle_scope = scope
                    if self.server.draining:
                        return
                    try:
                        ev = await self._next_event(limits.header_timeout if first else limits.keepalive_timeout)
                    except trio.TooSlowError:
                        return
                    except h11.RemoteProtocolError as e:
                        await self._reject(e)
                        return
                self.idle_scope = None
                if scope.cancelled_caught or isinstance(ev, h11.ConnectionClosed):
                    return
                if not isinstance(ev, h11.Request):
                    return
                # h11 bounds only a head that arrives in pieces; one read can carry a bigger one
                if len(ev.target) + sum(len(k) + len(v) + 4 for k, v in ev.headers) > limits.max_header:
                    await self._reject(h11.RemoteProtocolError("request head too large", 431))
                    return
                if ev.http_version not in SUPPORTED_VERSIONS:  # h11 parses any digit.digit
                    await self._reject(h11.RemoteProtocolError(
                        f"HTTP/{ev.http_version.decode()} is not supported (HTTP/1.0 and HTTP/1.1 are)", 505))
                    return
                first = False
                await self._handle(Request(self, ev))
                if not await self._finish_cycle():
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError):
            pass
        finally:
            with trio.move_on_after(1) as cs:
                cs.shield = True
                await self.stream.aclose()

    async def _reject(self, err: h11.RemoteProtocolError) -> None:
        """Malformed or oversized request head: answer 4xx and close, never 500."""
        hint = err.error_status_hint
        status = hint if 400 <= hint < 500 or hint == 505 else 400
        if "exceeded" in str(err).lower() or "too large" in str(err).lower():
            status = 431
        body = json.dumps({"message": str(err), "status": status}).encode()
        try:
            if self.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                await self._send(h11.Response(status_code=status, reason=_reason(status), headers=[
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close")]))
                await self._send(h11.Data(data=body))
                await self._send(h11.EndOfMessage())
        except (h11.LocalProtocolError, trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async def _handle(self, req: Request) -> None:
        resp = await self.server.app(req)
        await self._respond(req, resp)

    async def _respond(self, req: Request, resp: Response) -> None:
        body = resp.body
        headers = [(b"server", SERVER_NAME), (b"date", http_date().encode()), *_safe_headers(resp.headers)]
        if isinstance(body, FileBody):
            length = body.length
        elif isinstance(body, (bytes, bytearray)):
            length = len(body)
        else:
            length = resp.length if resp.length is not None else (0 if body is None else None)
        if length is not None and not any(k == b"content-length" for k, _ in headers):
            headers.append((b"content-length", str(length).encode()))
        if self.server.draining or self.h11.they_are_waiting_for_100_continue:
            # A client still waiting for 100 Continue may or may not send its body now: close, don't guess.
            headers.append((b"connection", b"close"))
        try:
            if req.method == "HEAD" or resp.status in (204, 304) or resp.head:
                self._close_body(body)
                await self._send(h11.Response(status_code=resp.status, headers=headers, reason=_reason(resp.status), _parsed=True))
                await self._send(h11.EndOfMessage())
                return
            head = self.h11.send(h11.Response(status_code=resp.status, headers=headers, reason=_reason(resp.status), _parsed=True)) or b""
            if isinstance(body, FileBody):
                await self._send_file(head, body)
            elif isinstance(body, (bytes, bytearray)):
                await self.stream.send_all(head + (self.h11.send(h11.Data(data=body)) or b"") if body else head)
            elif body is not None:
                await self.stream.send_all(head)
                async for chunk in body:
                    if chunk:
                        await self._send(h11.Data(data=chunk))
            else:
                await self.stream.send_all(head)
            await self._send(h11.EndOfMessage())
        finally:
            self._close_body(body)

    @staticmethod
    def _close_body(body: Body) -> None:
        if isinstance(body, FileBody):
            body.close()

    async def _send_file(self, head: bytes, body: FileBody) -> None:
        if body.length <= SMALL_FILE:
            data = os.pread(body.fd, body.length, body.offset)
            if len(data) != body.length:
                raise IncompleteBody("object data ended early")
            self.h11.send_with_data_passthrough(h11.Data(data=_Sized(body.length)))
            await self.stream.send_all(head + data)
            return
        await self.stream.send_all(head)
        self.h11.send_with_data_passthrough(h11.Data(data=_Sized(body.length)))
        offset, left = body.offset, body.length
        while left > 0:
            try:
                n = os.sendfile(self.sock_fd, body.fd, offset, min(left, 1 << 30))
            except BlockingIOError:
                await trio.lowlevel.wait_writable(self.sock_fd)
                continue
            if n == 0:
                raise IncompleteBody("object data ended early")
            offset += n
            left -= n
            if left:
                await trio.lowlevel.checkpoint()

    async def _finish_cycle(self) -> bool:
        """Get ready for the next request on this connection; False means close it."""
        if self.h11.our_state is h11.MUST_CLOSE or self.server.draining:
            return False
        if self.h11.their_state is h11.SEND_BODY:
            # The handler answered without reading the body: drain a small one, else close.
            if self.h11.they_are_waiting_for_100_continue:
                return False
            drained = 0
            try:
                async for chunk in self.body_chunks():
                    drained += len(chunk)
                    if drained > RECV_SIZE:
                        return False
            except Exception:
                return False
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
            return True
        return False


class HTTPServer:
    def __init__(self, app: App, limits: Limits | None = None) -> None:
        self.app = app
        self.limits = limits or Limits()
        self.draining = False
        self._conns: set[_Conn] = set()

    async def _handle_stream(self, stream: trio.SocketStream) -> None:
        stream.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Conn(self, stream)
        self._conns.add(conn)
        try:
            await conn.serve()
        except Exception:
            log.exception("connection handler failed")
        finally:
            self._conns.discard(conn)

    def drain(self) -> None:
        """Stop taking requests: idle keep-alive connections close, in-flight ones finish."""
        self.draining = True
        for c in list(self._conns):
            if c.idle_scope is not None:
                c.idle_scope.cancel()

    async def serve(self, listeners: list[trio.SocketListener], *, stop: trio.Event,
                    grace: float = 30.0) -> None:
        """Serve until `stop` is set, then let in-flight requests finish (up to `grace` seconds)."""
        async with trio.open_nursery() as conns:
            async with trio.open_nursery() as accept:
                for lst in listeners:
                    accept.start_soon(self._accept_loop, lst, conns)
                await stop.wait()
                accept.cancel_scope.cancel()
            for lst in listeners:
                await lst.aclose()
            self.drain()
            conns.cancel_scope.deadline = trio.current_time() + grace

    async def _accept_loop(self, listener: trio.SocketListener, conns: trio.Nursery) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as e:  # e.g. EMFILE: back off instead of spinning
                log.warning("accept failed: %s", e)
                await trio.sleep(0.1)
                continue
            conns.start_soon(self._handle_stream, stream)


def parse_listen(addr: str) -> tuple[str, int]:
    """`HOST:PORT`, `:PORT` or `PORT`; the host defaults to 127.0.0.1 (loopback unless told otherwise)."""
    host, sep, port = addr.rpartition(":")
    if not sep:
        host, port = "", addr
    host = host.strip("[]") or "127.0.0.1"
    try:
        return host, int(port)
    except ValueError:
        raise BadRequest(f"invalid listen address {addr!r}; expected HOST:PORT") from None
