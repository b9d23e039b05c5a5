"""Registry credentials in Docker's ``config.json`` (``$DOCKER_CONFIG`` or ``~/.docker``).

Only the plain ``auths`` entries (base64 ``user:password``) are read and
written; credential helpers (``credsStore``) are not run.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

from ..errors import AuthError
from ..store import atomic

__all__ = ["CredentialStore", "Credentials", "auth_key", "default_config_path", "registry_domain"]

CONFIG_FILE = "config.json"
# Docker keys Docker Hub's credentials by its v1 index URL, for compatibility with old clients.
DOCKER_HUB_KEY = "https://index.docker.io/v1/"


@dataclass(frozen=True)
class Credentials:
    """A user name and password (or identity token) for one registry."""

    username: str
    password: str


def default_config_path() -> str:
    """Where Docker keeps its client config: ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``."""
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, CONFIG_FILE)


def registry_domain(server: str) -> str:
    """``login`` takes a host, a URL, or Docker Hub's v1 index URL; all mean a registry domain."""
    host = server.split("://", 1)[-1].split("/", 1)[0]
    return "docker.io" if host in ("index.docker.io", "registry-1.docker.io", "docker.io", "") else host


def auth_key(domain: str) -> str:
    """The ``auths`` key for a registry host."""
    return DOCKER_HUB_KEY if domain == "docker.io" else domain


class CredentialStore:
    """Reads and writes the ``auths`` section of one config.json."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or default_config_path()

    def _load(self) -> dict[str, Any]:
        try:
            with open(self.path, encoding="utf-8") as f:
                value = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            raise AuthError(f"{self.path}: unreadable credentials file ({err})") from err
        return value if isinstance(value, dict) else {}

    def get(self, domain: str) -> Credentials | None:
        entry = self._load().get("auths", {}).get(auth_key(domain)) or {}
        encoded = entry.get("auth")
        if not encoded:
            return None
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as err:
            raise AuthError(f"{self.path}: bad auth entry for {domain}") from err
        return Credentials(user, password)

    def store(self, domain: str, creds: Credentials) -> None:
        config = self._load()
        token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        config.setdefault("auths", {})[auth_key(domain)] = {"auth": token}
        self._save(config)

    def erase(self, domain: str) -> bool:
        """Forget a registry's credentials; False when there were none."""
        config = self._load()
        if config.get("auths", {}).pop(auth_key(domain), None) is None:
            return False
        self._save(config)
        return True

    def _save(self, config: dict[str, Any]) -> None:
        os.makedirs(os.path.dirname(self.path), 0o700, exist_ok=True)
        atomic.write_file(self.path, json.dumps(config, indent="\t") + "\n", mode=0o600)
