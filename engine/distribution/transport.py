"""One HTTP request at a time over http.client, following redirects the way registries need.

A blob GET is often redirected to a storage host; the registry's credentials
must not follow it there, so redirects are handled here, not by urllib.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import RegistryError

__all__ = ["PlainHTTPAnswer", "Response", "request"]

_MAX_REDIRECTS = 5
USER_AGENT = "berth/0.1 (+python http.client)"
_TIMEOUT = 60.0  # seconds without a byte before a transfer counts as dropped


# What OpenSSL says when the first bytes back are not a TLS record (an "HTTP/1.1 400" line, say).
_PLAIN_HTTP_REASONS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG",
                                 "HTTP_REQUEST"})


class PlainHTTPAnswer(RegistryError):
    """An HTTPS request that a plain-HTTP server answered (Go says "server gave HTTP response to HTTPS client")."""


@dataclass
class Response:
    """A response whose body has not been read yet; close it when done."""

    status: int
    headers: http.client.HTTPMessage
    body: http.client.HTTPResponse
    url: str

    def header(self, name: str) -> str:
        return self.headers.get(name) or ""

    def read(self) -> bytes:
        try:
            return self.body.read()
        except (OSError, http.client.HTTPException) as err:
            raise RegistryError(f"{_host(self.url)}: connection dropped while reading the response ({err})") from err

    def read_chunk(self, size: int = 1 << 20) -> bytes:
        """Up to ``size`` bytes of the body; b"" at its end. A dropped connection is a RegistryError."""
        try:
            return self.body.read1(size) if hasattr(self.body, "read1") else self.body.read(size)
        except (OSError, http.client.HTTPException) as err:
            raise RegistryError(f"{_host(self.url)}: connection dropped ({err or type(err).__name__})") from err

    def close(self) -> None:
        self.body.close()


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc


def _connection(url: str, verify_tls: bool) -> tuple[http.client.HTTPConnection, str]:
    parts = urllib.parse.urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    if parts.scheme == "https":
        context = ssl.create_default_context()  # the system CA store
        if not verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(parts.netloc, timeout=_TIMEOUT, context=context), target
    if parts.scheme == "http":
        return http.client.HTTPConnection(parts.netloc, timeout=_TIMEOUT), target
    raise RegistryError(f"unsupported URL scheme in {url!r}")


def request(method: str, url: str, headers: dict[str, str] | None = None, body: bytes | BinaryIO | None = None,
            *, verify_tls: bool = True) -> Response:
    """Send one request; 3xx answers to GET/HEAD are followed, dropping Authorization on a new host."""
    headers = {"User-Agent": USER_AGENT, **(headers or {})}
    for _ in range(_MAX_REDIRECTS + 1):
        response = _send(method, url, headers, body, verify_tls)
        location = response.header("Location")
        if response.status not in (301, 302, 303, 307, 308) or method not in ("GET", "HEAD") or not location:
            return response
        response.close()
        new_url = urllib.parse.urljoin(url, location)
        if _host(new_url) != _host(url):
            headers.pop("Authorization", None)
        url = new_url
    raise RegistryError(f"{_host(url)}: too many redirects")


def _send(method: str, url: str, headers: dict[str, str], body: bytes | BinaryIO | None,
          verify_tls: bool) -> Response:
    conn, target = _connection(url, verify_tls)
    try:
        conn.request(method, target, body=body, headers=headers)
        raw = conn.getresponse()
    except ssl.SSLError as err:
        conn.close()
        if err.reason in _PLAIN_HTTP_REASONS:
            raise PlainHTTPAnswer(f"{_host(url)}: the registry gave an HTTP response to an HTTPS request") from err
        raise RegistryError(f"{_host(url)}: TLS failed ({err.reason or err}); trust its CA in the system store, "
                            "or pass --insecure or list it in insecure-registries (daemon.json in the store root)"
                            ) from err
    except (OSError, http.client.HTTPException) as err:
        conn.close()
        raise RegistryError(f"{_host(url)}: {getattr(err, 'strerror', None) or err or type(err).__name__}") from err
    return Response(raw.status, raw.headers, raw, url)
