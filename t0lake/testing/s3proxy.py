"""An HTTP proxy in front of a moto S3 server that injects the faults a real network has.

A fake storage object can only pretend a response was lost; this proxy really loses it, so
the whole client stack (s3fs, aiobotocore, botocore's retries) meets the fault as it would
in production: a PUT that reached S3 but whose answer never came back is re-sent by
botocore and then meets its own object, a 500 is retried and then surfaces, a dropped
connection or a refused one becomes botocore's own exception.

Point s3fs's ``endpoint_url`` at ``proxy.url``. Requests are forwarded byte for byte with
the same headers (SigV4 signs the ``Host`` header, which stays the proxy's), one request
per connection (HTTP/1.0), so that every request opens a connection of its own and a
refused connection is refused for every later request. Only hop-by-hop headers of the
responses are dropped.

    with moto_server() as upstream, s3_fault_proxy(upstream) as proxy:
        proxy.add_rule(DROP_RESPONSE, method="PUT", path=r"/_manifests/", times=1)
        ...  # the first manifest PUT lands in moto, its client sees a dropped connection
        assert proxy.counts[DROP_RESPONSE] == 1
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

__all__ = [
    "ACTIONS",
    "CLOSE",
    "DROP_RESPONSE",
    "FAIL",
    "FORWARDED",
    "REFUSE",
    "FaultRule",
    "S3FaultProxy",
    "s3_fault_proxy",
]

DROP_RESPONSE = "drop_response"  # forward, then close the connection without answering
FAIL = "fail"  # answer an S3 error (500 by default) without forwarding
CLOSE = "close"  # close the connection without forwarding or answering (a lost request)
REFUSE = "refuse"  # as CLOSE, then stop listening: every later connection is refused
ACTIONS = frozenset({DROP_RESPONSE, FAIL, CLOSE, REFUSE})
FORWARDED = "forwarded"  # the count of requests passed through untouched

_CODES = {
    400: "BadRequest",
    403: "AccessDenied",
    404: "NoSuchKey",
    409: "ConditionalRequestConflict",
    412: "PreconditionFailed",
    503: "SlowDown",
}
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding"}
    | {"upgrade"}
)


@dataclass
class FaultRule:
    """Apply ``action`` to the next ``times`` requests (None: to every one) whose method is
    ``method`` (None: any) and whose path and query match the regular expression ``path``
    (searched, not anchored). A FAIL rule answers ``status`` with an S3 error document of
    ``code`` (by default the one S3 uses for that status) and ``message``. ``hits`` counts
    the requests the rule was applied to."""

    action: str
    method: str | None = None
    path: str = ""
    times: int | None = 1
    status: int = 500
    code: str | None = None
    message: str = "injected by the S3 fault proxy"
    hits: int = 0

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}: one of {sorted(ACTIONS)}")
        self._pattern = re.compile(self.path)

    def matches(self, method: str, target: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self._pattern.search(target) is not None


_REFUSING = FaultRule(REFUSE, times=None)  # what a request meets while the listener closes


class S3FaultProxy:
    """The running proxy: its ``url``, its rules, and what it did.

    ``counts`` counts requests by outcome (FORWARDED or an action); ``log`` holds one
    ``(method, path, outcome)`` per request, in the order they arrived. Rules are tried in
    the order they were added; the first that matches is applied.
    """

    def __init__(self, upstream_url: str, host: str = "127.0.0.1", port: int = 0) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the upstream must be an http:// URL, not {upstream_url!r}")
        self.upstream = (parts.hostname, parts.port or 80)
        self.rules: list[FaultRule] = []
        self.counts: Counter[str] = Counter()
        self.log: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._host = host
        self._server: ThreadingHTTPServer | None = None
        self._refusing = False  # between a REFUSE and the listener being closed
        self._start(port)
        assert self._server is not None
        self.port: int = int(self._server.server_address[1])
        self.url: str = f"http://{host}:{self.port}"

    # ------------------------------------------------------------------ the API

    def add_rule(
        self,
        action: str,
        *,
        method: str | None = None,
        path: str = "",
        times: int | None = 1,
        status: int = 500,
        code: str | None = None,
        message: str = "injected by the S3 fault proxy",
    ) -> FaultRule:
        """Add a rule (see FaultRule) and return it, so a test can read its ``hits``."""
        rule = FaultRule(action, method, path, times, status, code, message)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        """Forward everything from now on (counts and log are kept)."""
        with self._lock:
            self.rules.clear()

    @property
    def online(self) -> bool:
        """Whether the proxy accepts connections (False after a REFUSE rule or offline())."""
        return self._server is not None

    def offline(self) -> None:
        """Stop listening: every new connection is refused (as an unreachable endpoint)."""
        self._refusing = True
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def restore(self) -> None:
        """Listen again on the same port after offline() or a REFUSE rule."""
        if self._server is None:
            self._start(self.port)
        self._refusing = False

    def close(self) -> None:
        """Stop the proxy for good."""
        self.offline()

    # ------------------------------------------------------------------ the machinery

    def _start(self, port: int) -> None:
        server = ThreadingHTTPServer((self._host, port), _handler_for(self))
        server.daemon_threads = True
        threading.Thread(
            target=server.serve_forever, args=(0.05,), name="s3-fault-proxy", daemon=True
        ).start()
        self._server = server

    def _decide(self, method: str, target: str) -> FaultRule | None:
        with self._lock:
            if self._refusing:
                return _REFUSING
            for rule in self.rules:
                if rule.matches(method, target):
                    rule.hits += 1
                    return rule
        return None

    def _record(self, method: str, target: str, outcome: str) -> None:
        with self._lock:
            self.counts[outcome] += 1
            self.log.append((method, target, outcome))


def _handler_for(proxy: S3FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: refusals are seen

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: a test's output is not the place for an access log."""

        def _handle(self) -> None:
            body = self._read_body()
            rule = proxy._decide(self.command, self.path)
            action = rule.action if rule else FORWARDED
            proxy._record(self.command, self.path, action)
            if rule is not None and rule.action in (CLOSE, REFUSE):
                self._abort()
                if rule.action == REFUSE and rule is not _REFUSING:
                    proxy.offline()  # serve_forever runs in another thread: it can wait
                return
            if rule is not None and rule.action == FAIL:
                self._fail(rule)
                return
            status, reason, headers, payload = self._forward(body)
            if rule is not None and rule.action == DROP_RESPONSE:
                self._abort()
                return
            self.send_response_only(status, reason)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        def _read_body(self) -> bytes:
            if self.headers.get("Expect", "").lower() == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # or it never sends
                self.wfile.flush()
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
            conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                chunked = False
                for name, value in self.headers.items():
                    if name.lower() == "transfer-encoding":
                        chunked = True  # re-framed below with a length: not signed
                        continue
                    if name.lower() == "expect":
                        continue  # answered above; SigV4 never signs it
                    conn.putheader(name, value)
                if chunked:
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body or None)
                response = conn.getresponse()
                payload = response.read()
                return response.status, response.reason, response.getheaders(), payload
            finally:
                conn.close()

        def _fail(self, rule: FaultRule) -> None:
            code = rule.code or _CODES.get(rule.status, "InternalError")
            payload = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
                f"<Message>{escape(rule.message)}</Message>"
                "<RequestId>s3faultproxy</RequestId></Error>"
            ).encode()
            self.send_response_only(rule.status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _abort(self) -> None:
            self.close_connection = True
            with suppress(OSError):  # the client may have gone already
                self.connection.shutdown(socket.SHUT_RDWR)

    return Handler


@contextmanager
def s3_fault_proxy(upstream_url: str) -> Iterator[S3FaultProxy]:
    """A fault-injecting proxy on a free port of 127.0.0.1 in front of ``upstream_url``
    (a moto server's endpoint), forwarding everything until rules are added."""
    proxy = S3FaultProxy(upstream_url)
    try:
        yield proxy
    finally:
        proxy.close()
