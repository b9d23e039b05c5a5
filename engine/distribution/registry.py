"""A client for one repository on a registry speaking the OCI distribution API (``/v2/``).

Auth follows the registry's challenge: a ``Bearer`` challenge sends berth to
the token service (anonymously, or with the stored user and password), a
``Basic`` one gets the stored credentials on every request.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import BinaryIO, Self

from .. import reference
from ..errors import AuthError, ManifestUnknown, RegistryError
from .credentials import Credentials
from .insecure import InsecureRegistries
from .transport import PlainHTTPAnswer, Response, Session

__all__ = ["RegistryClient", "endpoint_host", "is_loopback"]

# Docker Hub's API lives on another host than the name users type.
_DOCKER_HUB_API = "registry-1.docker.io"
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def endpoint_host(domain: str) -> str:
    return _DOCKER_HUB_API if domain == reference.DEFAULT_REGISTRY else domain


def is_loopback(domain: str) -> bool:
    """localhost and 127.0.0.0/8 (and ::1), which Docker treats as insecure registries by default."""
    host = urllib.parse.urlsplit("//" + domain).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class _Auth:
    """What the last challenge asked for, and the header that answers it."""

    scheme: str = ""
    params: dict[str, str] = field(default_factory=dict)
    header: str = ""


class RegistryClient:
    """Requests against ``/v2/<repo>/…`` on one registry, authenticated."""

    def __init__(self, domain: str, repo: str, *, credentials: Credentials | None, insecure: bool = False,
                 actions: str = "pull", insecure_registries: InsecureRegistries | None = None) -> None:
        self.domain = domain
        self.repo = repo
        self.credentials = credentials
        self.policy = insecure_registries or InsecureRegistries()
        self.insecure = insecure or is_loopback(domain) or self.policy.allows(domain)
        self.actions = actions
        self.extra_scopes: list[str] = []
        """More ``repository:<name>:pull`` scopes, for cross-repository mounts."""
        self._base = ""
        self._auth = _Auth()
        self._session = Session(verify_tls=not self.insecure)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections; the operation is over."""
        self._session.close()

    # -- plumbing -----------------------------------------------------------------

    def connect(self) -> None:
        """Find the scheme that answers (https, or http when insecure) and authenticate up front."""
        schemes = ["https", "http"] if self.insecure else ["https"]
        last: RegistryError | None = None
        for scheme in schemes:
            base = f"{scheme}://{endpoint_host(self.domain)}"
            try:
                response = self._session.request("GET", base + "/v2/")
            except PlainHTTPAnswer as err:
                last = err if self.insecure else PlainHTTPAnswer(f"{err}; {self.policy.hint(self.domain)}")
                continue
            except RegistryError as err:
                last = err
                continue
            response.read()
            response.close()
            self._base = base
            if response.status == 401:
                self._answer(response)
            return
        assert last is not None
        raise last

    def _answer(self, response: Response) -> None:
        """Take a 401's challenge and get the header that satisfies it."""
        scheme, _, rest = response.header("WWW-Authenticate").partition(" ")
        self._auth = _Auth(scheme.lower(), dict(_CHALLENGE_PARAM.findall(rest)))
        if self._auth.scheme == "basic":
            if self.credentials is None:
                raise AuthError(f"{self.domain}: authentication required; run berth login {self.domain}")
            raw = f"{self.credentials.username}:{self.credentials.password}".encode()
            self._auth.header = "Basic " + base64.b64encode(raw).decode()
        elif self._auth.scheme == "bearer":
            self._auth.header = "Bearer " + self._token()
        else:
            raise AuthError(f"{self.domain}: unsupported authentication scheme {scheme!r}")

    def verify_login(self) -> None:
        """Check the credentials the way ``docker login`` does: ``/v2/`` with them, or a token for no scope."""
        self.connect()
        if not self._auth.scheme:
            return  # the registry asks for nothing
        response = self._once("GET", self._base + "/v2/", None, None)
        response.read()
        response.close()
        if response.status != 200:
            raise AuthError(f"{self.domain}: login failed: unauthorized (HTTP {response.status})")

    def _token(self) -> str:
        """A token from the challenge's realm for this repository's scope (the anonymous flow without credentials)."""
        params = self._auth.params
        realm = params.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise AuthError(f"{self.domain}: bad token realm {realm!r}")
        scopes = [f"repository:{self.repo}:{self.actions}", *self.extra_scopes] if self.repo else []
        query = urllib.parse.urlencode([("service", params.get("service", "")), *(("scope", s) for s in scopes)])
        headers = {}
        if self.credentials is not None:
            raw = f"{self.credentials.username}:{self.credentials.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        response = self._session.request("GET", realm + ("&" if "?" in realm else "?") + query, headers)
        body = response.read()
        if response.status in (401, 403):
            raise AuthError(f"{self.domain}: unauthorized: the token service refused "
                            f"{'the stored credentials' if self.credentials else 'anonymous access'}")
        if response.status != 200:
            raise AuthError(f"{self.domain}: token service refused: {_error_text(body) or response.status}")
        try:
            value = json.loads(body)
            return str(value.get("token") or value["access_token"])
        except (ValueError, KeyError, AttributeError) as err:
            raise AuthError(f"{self.domain}: token service sent no token") from err

    def send(self, method: str, path: str, *, headers: dict[str, str] | None = None,
             body: bytes | BinaryIO | None = None) -> Response:
        """One authenticated request; a bodiless one is retried once after a fresh challenge."""
        if not self._base:
            self.connect()
        url = path if path.startswith(("http://", "https://")) else self._base + path
        response = self._once(method, url, headers, body)
        if response.status == 401 and (body is None or isinstance(body, bytes)):
            response.read()
            self._answer(response)
            response = self._once(method, url, headers, body)
        if response.status == 401:
            raise AuthError(f"{self.domain}: unauthorized: {_error_text(response.read()) or 'authentication required'}")
        return response

    def _once(self, method: str, url: str, headers: dict[str, str] | None, body: bytes | BinaryIO | None) -> Response:
        all_headers = dict(headers or {})
        if self._auth.header:
            all_headers["Authorization"] = self._auth.header
        return self._session.request(method, url, all_headers, body)

    def fail(self, response: Response, what: str) -> RegistryError:
        """The error for an unexpected answer, with the registry's own message."""
        text = _error_text(response.read()) or f"HTTP {response.status}"
        response.close()
        if response.status == 404 and what.startswith("manifest"):
            return ManifestUnknown(f"{what} not found: {text}")
        return RegistryError(f"{self.domain}: {what}: {text}")

    def url(self, path: str) -> str:
        return f"/v2/{self.repo}/{path}"


def _error_text(body: bytes) -> str:
    """The messages of a distribution-spec error body, or the start of whatever came instead."""
    try:
        errors = json.loads(body).get("errors") or []
        return "; ".join(f"{str(e.get('code', '')).lower().replace('_', ' ')}: {e.get('message', '')}" for e in errors)
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace").strip()
