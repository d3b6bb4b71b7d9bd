"""HTTP/1.1 server on trio + httptools: keep-alive, streamed bodies, `Expect: 100-continue`,
object bodies by `os.sendfile`, bounded header size and timeouts, graceful stop.

The server knows nothing about REST or S3: it turns bytes into `Request`s, hands them to an
`App` (see `app.py`), and writes the `Response` back. httptools (Node.js's llhttp parser) parses
requests and their body framing; the response side is a status line, headers and one of three
body framings, written here (docs/architecture.md, "HTTP server", says why not h11).
"""
from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import AsyncIterable, AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qsl, unquote

import httptools
import trio

from ..errors import BadRequest, EntityTooLarge, IncompleteBody, OwnerOnly

log = logging.getLogger("aisfs.http")

RECV_SIZE = 1 << 20          # one read from a client at most (the buffer every connection shares)
SMALL_FILE = 64 * 1024        # bodies up to this size are read and sent with the headers in one write
SERVER_NAME = "aisfs"
SUPPORTED_VERSIONS = ("1.0", "1.1")


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


class Request:
    """One request; the body is read on demand, as a stream."""

    def __init__(self, conn: "_Conn", head: "_Head") -> None:
        self._conn = conn
        self.method: str = head.method.decode("ascii")   # llhttp accepts only token methods
        target = head.target.decode("latin-1")
        if target[:8].lower().startswith(("http://", "https://")):  # absolute-form (RFC 9112 3.2.2): use its path
            target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
        self.raw_path, _, self.query_string = target.partition("?")
        self.headers: dict[str, str] = {}
        for name, value in head.headers:
            n = name.decode("latin-1").lower()
            v = value.strip(b" \t").decode("utf-8", "surrogateescape")
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
# A worker process's way to pass a connection to the data dir's owner: the socket, and the bytes read
# from it since its current request began (workers.py).
HandOff = Callable[[trio.socket.SocketType, bytes], Awaitable[None]]


@functools.lru_cache(maxsize=128)
def _status_line(status: int) -> str:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    return f"HTTP/1.1 {status} {reason}\r\n"


@functools.lru_cache(maxsize=8192)
def _date_of_second(sec: int) -> str:
    return formatdate(sec, usegmt=True)


def http_date(ts: float | None = None) -> str:
    """RFC 1123 date; formatted once per second of time, since every response carries one."""
    return _date_of_second(int(ts if ts is not None else time.time()))


@functools.lru_cache(maxsize=8192)
def iso_second(sec: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS` (UTC) of a Unix second, the part of an ISO 8601 / RFC 3339 time that listings
    repeat: strftime costs ~3.5 us here, and a page has up to 10,000 of them."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))


_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_known_names: set[str] = set()


def encode_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    """The status line and header block of a response.

    Names repeat, so each is checked once against the token grammar; values are checked for header
    injection (CR, LF, NUL) in one pass over the whole block, and cleaned one by one only when found."""
    for k, _ in headers:
        if k not in _known_names:
            if not _TOKEN.fullmatch(k):
                raise ValueError(f"invalid response header name {k!r}")
            if len(_known_names) < 4096:
                _known_names.add(k)
    block = "".join([f"{k}: {v}\r\n" for k, v in headers])
    n = len(headers)
    if block.count("\n") != n or block.count("\r") != n or "\0" in block:
        block = "".join([f"{k}: {_clean_value(v)}\r\n" for k, v in headers])
    return (_status_line(status) + block + "\r\n").encode("latin-1", "replace")


def latin1(v: str) -> str:
    """A header value as the latin-1 text of its UTF-8 bytes: what `encode_head` writes out is UTF-8 (and a
    value decoded with surrogateescape gets its own bytes back)."""
    return v if v.isascii() else v.encode("utf-8", "surrogateescape").decode("latin-1")


def _clean_value(v: str) -> str:
    return v.replace("\r", " ").replace("\n", " ").replace("\0", " ").strip()


def _has_length(headers: list[tuple[str, str]]) -> bool:
    return any(len(k) == 14 and k.lower() == "content-length" for k, _ in headers)


class _Rejected(Exception):
    """A request head that cannot be served: answered with `status` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class _Head:
    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    version: str
    keep_alive: bool


_END = object()          # the end of a request's body
_EOF = object()          # the client closed its side


class _Parser:
    """httptools' callbacks turned into a queue of events: a `_Head`, body pieces (bytes), `_END`.

    Head size is bounded two ways (llhttp itself has no limit): a head that completes inside one read
    is measured whole, and a head still incomplete after a read counts every read that came wholly
    inside it, so an endless head is refused after at most the limit plus one read."""

    def __init__(self, max_header: int) -> None:
        self.events: deque[object] = deque()
        self.max_header = max_header
        self.upgraded = False
        self._p = httptools.HttpRequestParser(self)
        self._in_head = False
        self._begun = 0           # heads begun so far
        self._pending = 0         # bytes of the current head counted so far
        self._target = b""
        self._headers: list[tuple[bytes, bytes]] = []

    def on_message_begin(self) -> None:
        self._in_head = True
        self._begun += 1
        self._target, self._headers = b"", []

    def on_url(self, url: bytes) -> None:
        self._target += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._in_head = False
        if len(self._target) + sum(len(k) + len(v) + 4 for k, v in self._headers) > self.max_header:
            raise _Rejected(431, "request head too large")
        p = self._p
        self.events.append(_Head(p.get_method(), self._target, self._headers, p.get_http_version(),
                                 p.should_keep_alive()))

    def on_body(self, body: bytes) -> None:
        self.events.append(body)

    def on_message_complete(self) -> None:
        self.events.append(_END)

    def feed(self, data: bytes | memoryview) -> None:
        """Parse the next bytes from the client; `_Rejected` for what cannot be served."""
        head_before = self._begun if self._in_head else -1
        try:
            self._p.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.upgraded = True    # no protocol switch here: the request is served, then the connection closes
        except httptools.HttpParserCallbackError as e:
            if isinstance(e.__context__, _Rejected):
                raise e.__context__ from None
            raise
        except httptools.HttpParserError as e:
            msg = str(e) or type(e).__name__
            if "version" in msg.lower():
                raise _Rejected(505, f"{msg}: this HTTP version is not supported (HTTP/1.0 and HTTP/1.1 are)") from None
            raise _Rejected(400, f"malformed request: {msg}") from None
        if not self._in_head or self._begun != head_before:
            self._pending = 0     # no head pending, or one that began inside this read
        else:
            self._pending += len(data)
            if self._pending > self.max_header:
                raise _Rejected(431, "request head too large")


class _Conn:
    def __init__(self, server: "HTTPServer", stream: trio.SocketStream) -> None:
        self.server = server
        self.stream = stream
        self.sock_fd = stream.socket.fileno()
        try:
            self.peer = str(stream.socket.getpeername()[0])
        except OSError:
            self.peer = ""
        self.parser = _Parser(server.limits.max_header)
        # in a worker process: what the client sent since the current request began, for a hand-off
        self.raw: bytearray | None = bytearray() if server.hand_off is not None else None
        self.idle_scope: trio.CancelScope | None = None
        self.idle = False        # waiting for a request: the only state a draining server may close
        self.eof = False
        # the request being served
        self.body_done = True
        self.expect_continue = False
        self.must_close = False
        self.http10 = False

    async def _next_event(self, timeout: float | None, *, wait: bool = True, found_none: bool = False
                          ) -> object | None:
        """The next parser event, reading from the client as needed; `_EOF` once it has closed. With `wait`
        False, None when it has not all arrived yet (what has is kept)."""
        events = self.parser.events
        while not events:
            if self.eof or self.parser.upgraded:
                return _EOF
            if timeout is None:
                n = await self._read(wait, found_none)
            else:
                with trio.fail_after(timeout):
                    n = await self._read(wait, found_none)
            found_none = False
            if n is None:
                return None
            if not n:
                self.eof = True
                return _EOF
            if self.raw is not None:
                self.raw += self.server.recv_buf[:n]
            self.parser.feed(self.server.recv_buf[:n])
        return events.popleft()

    async def _read(self, wait: bool = True, found_none: bool = False) -> int | None:
        """Read what the client sent into the server's shared buffer; its length, 0 at the end, None when
        nothing has come and `wait` is False. `found_none`: a read just came back empty, so wait for the
        socket first instead of yielding and asking again (one scheduler pass and one syscall less per
        request on a keep-alive connection whose client waits for each answer).

        The scheduler runs before the read, never between it and the parse that follows (trio's own
        `recv_into` yields after its read), so no other connection's read can overwrite the buffer."""
        buf = self.server.recv_buf
        if found_none:
            await trio.lowlevel.wait_readable(self.sock_fd)
        else:
            await trio.lowlevel.checkpoint()
        while True:
            try:
                return os.readv(self.sock_fd, [buf])
            except BlockingIOError:
                if not wait:
                    return None
                await trio.lowlevel.wait_readable(self.sock_fd)

    async def body_chunks(self) -> AsyncIterator[bytes]:
        if self.body_done:
            return
        events = self.parser.events
        if self.expect_continue and not (events and events[0] is _END):
            self.expect_continue = False
            await self._send(b"HTTP/1.1 100 Continue\r\n\r\n")
        while True:
            try:
                ev = await self._next_event(self.server.limits.body_idle_timeout)
            except _Rejected as e:
                self.must_close = True
                raise BadRequest(f"malformed request body: {e}") from None
            except trio.TooSlowError:
                self.must_close = True
                raise IncompleteBody("timed out waiting for the request body") from None
            if ev is _END:
                self.body_done = True
                return
            if ev is _EOF:
                self.must_close = True
                raise IncompleteBody("client closed the connection before the body ended")
            self.expect_continue = False
            yield ev  # type: ignore[misc]

    async def serve(self, prefill: bytes = b"") -> None:
        """`prefill`: what a worker process read from this connection before handing it over."""
        limits = self.server.limits
        timeout = limits.header_timeout
        try:
            # One scope for the connection's life. Its deadline is set only while waiting for a request
            # (and bounds the rest of the head, however slowly it trickles in); `drain` cancels it only
            # then. A busy server mostly finds the next request already there: no deadline to set
            # (setting and clearing it was ~4% of a 4 KiB GET's CPU).
            with trio.CancelScope() as scope:
                self.idle_scope = scope
                while True:
                    if self.server.draining and not prefill:   # a handed-over request is served even now
                        return
                    try:
                        if prefill:
                            self.parser.feed(prefill)
                            prefill = b""
                        ev = await self._next_event(None, wait=False)
                        if ev is None:
                            scope.deadline = trio.current_time() + timeout
                            self.idle = True
                            ev = await self._next_event(None, found_none=True)
                            self.idle = False
                            scope.deadline = math.inf
                    except _Rejected as e:
                        scope.deadline = trio.current_time() + timeout   # a client that reads nothing cannot hold it
                        await self._reject(e.status, str(e))
                        return
                    if not isinstance(ev, _Head):
                        return
                    if ev.version not in SUPPORTED_VERSIONS:
                        await self._reject(505, f"HTTP/{ev.version} is not supported (HTTP/1.0 and HTTP/1.1 are)")
                        return
                    req = Request(self, ev)
                    if ev.version == "1.1" and "host" not in req.headers:
                        await self._reject(400, "an HTTP/1.1 request needs a Host header")
                        return
                    timeout = limits.keepalive_timeout
                    self.body_done = False
                    self.http10 = ev.version == "1.0"
                    self.must_close = not ev.keep_alive or self.http10 or self.parser.upgraded
                    self.expect_continue = (not self.http10 and
                                            req.headers.get("expect", "").lower() == "100-continue")
                    if self.raw is not None and not self._served_here(req):
                        await self._hand_off()
                        return
                    try:
                        await self._handle(req)
                    except OwnerOnly:
                        await self._hand_off()
                        return
                    if not await self._finish_cycle():
                        return
                    if self.raw is not None and not self._forget_served():
                        return
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError):
            pass
        finally:
            with trio.move_on_after(1) as cs:
                cs.shield = True
                await self.stream.aclose()

    def _served_here(self, req: Request) -> bool:
        """A worker process serves GET and HEAD without a body; anything else is the owner's at once,
        before a byte of a body is read."""
        return req.method in ("GET", "HEAD") and not req.has_body and not self.expect_continue

    async def _hand_off(self) -> None:
        """Pass the connection, with what it sent of the current request and after, to the owner; this
        process then closes its copy of the socket (the client's connection stays open)."""
        raw, self.raw = bytes(self.raw or b""), None
        self.must_close = True
        await self.server.hand_off(self.stream.socket, raw)  # type: ignore[misc]

    def _forget_served(self) -> bool:
        """After a request served here, keep only what came after it: a served request is a head alone,
        which ends at the first empty line (llhttp takes CRLF line ends only). False (close the
        connection) if that cannot be found, since a later hand-off would then send the wrong bytes."""
        raw = self.raw
        assert raw is not None
        start = len(raw) - len(raw.lstrip(b"\r\n"))
        end = raw.find(b"\r\n\r\n", start)
        if end < 0:
            return False
        del raw[:end + 4]
        return True

    async def _reject(self, status: int, message: str) -> None:
        """Malformed or oversized request head: answer 4xx (or 505) with JSON and close, never 500."""
        body = json.dumps({"message": message, "status": status}).encode()
        head = encode_head(status, [("server", SERVER_NAME), ("date", http_date()),
                                    ("content-type", "application/json"), ("content-length", str(len(body))),
                                    ("connection", "close")])
        try:
            await self._send(head + body)
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError):
            pass

    async def _handle(self, req: Request) -> None:
        resp = await self.server.app(req)
        await self._respond(req, resp)

    async def _respond(self, req: Request, resp: Response) -> None:
        body = resp.body
        try:
            status, headers = resp.status, resp.headers
            if isinstance(body, FileBody):
                length: int | None = body.length
            elif isinstance(body, (bytes, bytearray)):
                length = len(body)
            else:
                length = resp.length if resp.length is not None else (0 if body is None else None)
            bodiless = req.method == "HEAD" or resp.head or status in (204, 304)
            framing: list[tuple[str, str]] = []
            chunked = False
            if status == 204:
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            elif bodiless:
                if status != 304 and not _has_length(headers):
                    framing.append(("content-length", str(length or 0)))
            elif length is None:
                if self.http10:
                    self.must_close = True   # an HTTP/1.0 client reads to the close
                else:
                    framing.append(("transfer-encoding", "chunked"))
                    chunked = True
            elif not _has_length(headers):
                framing.append(("content-length", str(length)))
            if self.expect_continue and not self.body_done:
                # A client still waiting for 100 Continue may or may not send its body now: close, don't guess.
                self.must_close = True
            if self.must_close or self.server.draining:
                self.must_close = True
                framing.append(("connection", "close"))
            head = encode_head(status, [("server", SERVER_NAME), ("date", http_date()), *headers, *framing])
            if bodiless:
                await self._send(head)
            elif isinstance(body, FileBody):
                await self._send_file(head, body)
            elif isinstance(body, (bytes, bytearray)):
                await self._send(head + body if body else head)
            elif body is not None:
                await self._send_stream(head, body, length, chunked)
            else:
                await self._send(head)
        finally:
            self._close_body(body)

    async def _send(self, data: bytes) -> None:
        """Send all of `data`. Most answers fit the socket buffer: one write, and no trip through the
        scheduler (the read of each request already makes one)."""
        try:
            n = os.write(self.sock_fd, data)
        except BlockingIOError:
            n = 0
        if n < len(data):
            await self.stream.send_all(memoryview(data)[n:])

    async def _send_stream(self, head: bytes, body: AsyncIterable[bytes], length: int | None, chunked: bool) -> None:
        await self.stream.send_all(head)
        sent = 0
        async for chunk in body:
            if not chunk:
                continue
            sent += len(chunk)
            if length is not None and sent > length:
                self.must_close = True
                raise IncompleteBody(f"response body longer than its Content-Length of {length}")
            await self.stream.send_all(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
        if chunked:
            await self.stream.send_all(b"0\r\n\r\n")
        elif length is not None and sent != length:
            self.must_close = True
            raise IncompleteBody(f"response body of {sent} bytes, shorter than its Content-Length of {length}")

    @staticmethod
    def _close_body(body: Body) -> None:
        if isinstance(body, FileBody):
            body.close()

    async def _send_file(self, head: bytes, body: FileBody) -> None:
        if body.length <= SMALL_FILE:
            data = os.pread(body.fd, body.length, body.offset)
            if len(data) != body.length:
                self.must_close = True
                raise IncompleteBody("object data ended early")
            await self._send(head + data)
            return
        await self._send(head)
        offset, left = body.offset, body.length
        while left > 0:
            try:
                n = os.sendfile(self.sock_fd, body.fd, offset, min(left, 1 << 30))
            except BlockingIOError:
                await trio.lowlevel.wait_writable(self.sock_fd)
                continue
            if n == 0:
                self.must_close = True
                raise IncompleteBody("object data ended early")
            offset += n
            left -= n
            if left:
                await trio.lowlevel.checkpoint()

    async def _finish_cycle(self) -> bool:
        """Get ready for the next request on this connection; False means close it."""
        if self.must_close or self.server.draining:
            return False
        events = self.parser.events
        if not self.body_done and events and events[0] is _END:   # a request without a body
            events.popleft()
            self.body_done = True
        if not self.body_done:
            # The handler answered without reading the body: drain a small one, else close.
            if self.expect_continue:
                return False
            drained = 0
            try:
                async for chunk in self.body_chunks():
                    drained += len(chunk)
                    if drained > RECV_SIZE:
                        return False
            except Exception:
                return False
        return not self.must_close


class HTTPServer:
    def __init__(self, app: App, limits: Limits | Callable[[], Limits] | None = None, *,
                 hand_off: HandOff | None = None) -> None:
        """`limits`: fixed, or asked for at each new connection (a changed config applies to the connections
        opened after it). `hand_off`: this is a worker process, serving bodiless GET and HEAD and handing
        the rest to the owner (`OwnerOnly`)."""
        self.app = app
        self._limits = limits or Limits()
        self.hand_off = hand_off
        self.draining = False
        self._conns: set[_Conn] = set()
        self._conn_nursery: trio.Nursery | None = None
        # One receive buffer for every connection (see `_Conn._read`): each read is parsed before its
        # task can yield, and the parser hands out copies, so no connection needs a buffer of its own.
        self.recv_buf = memoryview(bytearray(RECV_SIZE))

    @property
    def limits(self) -> Limits:
        return self._limits() if callable(self._limits) else self._limits

    async def _handle_stream(self, stream: trio.SocketStream, prefill: bytes = b"") -> None:
        stream.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Conn(self, stream)
        self._conns.add(conn)
        try:
            await conn.serve(prefill)
        except Exception:
            log.exception("connection handler failed")
        finally:
            self._conns.discard(conn)

    def drain(self) -> None:
        """Stop taking requests: idle keep-alive connections close, in-flight ones finish."""
        self.draining = True
        for c in list(self._conns):
            if c.idle and c.idle_scope is not None:
                c.idle_scope.cancel()

    def adopt(self, sock: socket.socket, prefill: bytes) -> None:
        """Serve a connection a worker process handed over, starting with the bytes it had read; closed at
        once when this server no longer serves."""
        if self._conn_nursery is None:
            sock.close()
            return
        sock.setblocking(False)
        stream = trio.SocketStream(trio.socket.from_stdlib_socket(sock))
        try:
            self._conn_nursery.start_soon(self._handle_stream, stream, prefill)
        except RuntimeError:  # the nursery is closing
            sock.close()

    async def serve(self, listeners: list[trio.SocketListener], *, stop: trio.Event, grace: float = 30.0,
                    alongside: Callable[[], Awaitable[None]] | None = None) -> None:
        """Serve until `stop` is set, then let in-flight requests finish (up to `grace` seconds).
        `alongside` runs beside the connections and is waited for (and cancelled after `grace`) like them:
        the worker processes, which may still hand over connections while they stop."""
        async with trio.open_nursery() as conns:
            self._conn_nursery = conns
            if alongside is not None:
                conns.start_soon(alongside)
            async with trio.open_nursery() as accept:
                for lst in listeners:
                    accept.start_soon(self._accept_loop, lst, conns)
                await stop.wait()
                accept.cancel_scope.cancel()
            for lst in listeners:
                await lst.aclose()
            self.drain()
            conns.cancel_scope.deadline = trio.current_time() + grace
        self._conn_nursery = None

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
