"""The HTTP side of one registry operation: pooled keep-alive connections over httpx, redirects followed here.

A pull or push makes dozens of requests to one registry; opening a TCP (and
TLS) connection for each made pull ~4x slower than skopeo, so a ``Session``
keeps one ``httpx.Client`` (a pool of HTTP/1.1 keep-alive connections, shared
by the download threads) for the operation and closes it at the end.

Proxies come from the environment as for any Docker client (``HTTPS_PROXY``,
``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``), except that, as in Go's proxy
rules that Docker and skopeo follow, a loopback registry is always reached
directly: a proxy set for the machine must not capture ``127.0.0.1:5000``.

A blob GET is often redirected to a storage host; the registry's credentials
must not follow it there, so redirects are followed here, and a hop to another
origin (scheme, host or port) drops the Authorization header.

httpx is imported only when a Session makes its first client: verbs that never
reach a registry (``images``, ``ps``) do not pay for it.
"""

from __future__ import annotations

import ipaddress
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import RegistryError

if TYPE_CHECKING:
    import httpx

__all__ = ["PlainHTTPAnswer", "Response", "Session", "same_origin"]

_MAX_REDIRECTS = 5
USER_AGENT = "berth/0.1 (+python httpx)"
_TIMEOUT = 60.0  # seconds without a byte before a transfer counts as dropped
_UPLOAD_CHUNK = 1 << 20  # a file body goes out in reads of this size

# What OpenSSL says when the first bytes back are not a TLS record (an "HTTP/1.1 400" line, say).
_PLAIN_HTTP_REASONS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG",
                                 "HTTP_REQUEST"})


class PlainHTTPAnswer(RegistryError):
    """An HTTPS request that a plain-HTTP server answered (Go says "server gave HTTP response to HTTPS client")."""


@dataclass
class Response:
    """A response whose body has not been read yet; close it when done (the connection goes back to the pool)."""

    status: int
    headers: Any
    """Case-insensitive, as ``httpx.Headers``."""
    body: httpx.Response
    url: str

    def __post_init__(self) -> None:
        self._chunks: Iterator[bytes] | None = None
        self._failed: RegistryError | None = None

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""

    def read(self) -> bytes:
        """The whole body as sent (no Content-Encoding is undone: berth asks for identity)."""
        import httpx

        try:
            return b"".join(self.body.iter_raw())
        except httpx.StreamError:
            return b""  # read already, or closed: http.client gave b"" too
        except (httpx.HTTPError, OSError) as err:
            raise RegistryError(f"{_host(self.url)}: connection dropped while reading the response "
                                f"({_reason(err)})") from err

    def read_chunk(self, size: int = 1 << 20) -> bytes:
        """Up to ``size`` bytes of the body; b"" at its end. A dropped connection is a RegistryError.

        What arrived before a drop is returned first and the error raised on the next call, so a
        resumable download keeps every byte it got (httpx's own chunking would lose the last piece).
        """
        import httpx

        if self._failed is not None:
            raise self._failed
        if self._chunks is None:
            self._chunks = self.body.iter_raw()  # pieces as the socket gives them (up to 64 KiB)
        pieces: list[bytes] = []
        got = 0
        try:
            while got < size and (piece := next(self._chunks, b"")):
                pieces.append(piece)
                got += len(piece)
        except (httpx.HTTPError, OSError) as err:
            failed = RegistryError(f"{_host(self.url)}: connection dropped ({_reason(err)})")
            failed.__cause__ = err
            if not pieces:
                raise failed from err
            self._failed = failed
        return b"".join(pieces)

    def close(self) -> None:
        self.body.close()


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc


def same_origin(a: str, b: str) -> bool:
    """Scheme, host and port all equal (a port left out is the scheme's default)."""
    pa, pb = urllib.parse.urlsplit(a), urllib.parse.urlsplit(b)
    default = {"http": 80, "https": 443}
    return (pa.scheme.lower(), (pa.hostname or "").lower(), pa.port or default.get(pa.scheme.lower())) == \
        (pb.scheme.lower(), (pb.hostname or "").lower(), pb.port or default.get(pb.scheme.lower()))


def _loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Session:
    """The clients of one registry operation: one for loopback (never proxied), one for the rest.

    Thread-safe: pull's download threads share it. Close it when the operation ends.
    """

    def __init__(self, verify_tls: bool = True) -> None:
        self.verify_tls = verify_tls
        self._clients: dict[bool, httpx.Client] = {}
        self._mutex = threading.Lock()

    def _client(self, url: str) -> httpx.Client:
        direct = _loopback(url)
        with self._mutex:
            client = self._clients.get(direct)
            if client is None:
                client = self._clients[direct] = self._make_client(proxied=not direct)
            return client

    def _make_client(self, proxied: bool) -> httpx.Client:
        import httpx

        context = ssl.create_default_context()  # the system CA store (httpx alone would use certifi's)
        if not self.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        # trust_env: proxies and NO_PROXY from the environment; the loopback client ignores them.
        return httpx.Client(verify=context, trust_env=proxied, follow_redirects=False, http1=True, http2=False,
                            timeout=httpx.Timeout(_TIMEOUT),
                            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})

    def close(self) -> None:
        with self._mutex:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def request(self, method: str, url: str, headers: dict[str, str] | None = None,
                body: bytes | BinaryIO | None = None) -> Response:
        """Send one request; 3xx answers to GET/HEAD are followed, dropping Authorization on a new origin."""
        headers = dict(headers or {})
        for _ in range(_MAX_REDIRECTS + 1):
            response = self._send(method, url, headers, body)
            location = response.header("Location")
            if response.status not in (301, 302, 303, 307, 308) or method not in ("GET", "HEAD") or not location:
                return response
            response.close()
            new_url = urllib.parse.urljoin(url, location)
            if not same_origin(new_url, url):
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = new_url
        raise RegistryError(f"{_host(url)}: too many redirects")

    def _send(self, method: str, url: str, headers: dict[str, str], body: bytes | BinaryIO | None) -> Response:
        import httpx

        if not url.startswith(("http://", "https://")):
            raise RegistryError(f"unsupported URL scheme in {url!r}")
        client = self._client(url)
        content: bytes | Iterator[bytes] | None = body if body is None or isinstance(body, bytes) else _chunks(body)
        try:
            raw = client.send(client.build_request(method, url, headers=headers, content=content), stream=True)
        except (httpx.HTTPError, OSError) as err:
            tls = _ssl_error(err)
            if tls is not None and tls.reason in _PLAIN_HTTP_REASONS:
                raise PlainHTTPAnswer(f"{_host(url)}: the registry gave an HTTP response to an HTTPS request"
                                      ) from err
            if tls is not None:
                raise RegistryError(f"{_host(url)}: TLS failed ({tls.reason or tls}); trust its CA in the system "
                                    "store, or pass --insecure or list it in insecure-registries (daemon.json in "
                                    "the store root)") from err
            raise RegistryError(f"{_host(url)}: {_reason(err)}") from err
        return Response(raw.status_code, raw.headers, raw, url)


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    while chunk := f.read(_UPLOAD_CHUNK):
        yield chunk


def _causes(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _ssl_error(err: BaseException) -> ssl.SSLError | None:
    return next((e for e in _causes(err) if isinstance(e, ssl.SSLError)), None)


def _reason(err: BaseException) -> str:
    """The innermost OS reason ("Connection refused") when there is one, else the error's own text."""
    for cause in _causes(err):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    return str(err) or type(err).__name__
