"""The API server: routes under ``/v1.xx/`` and bare, the unix socket, idle exit, clean shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from engine import Engine, errors

from . import MIN_API_VERSION, containers, images, system
from .attach import AttachHub
from .context import ENGINE, HUB
from .errors import error_middleware, json_error

__all__ = ["DEFAULT_SOCKET", "SOCKET_NAME", "default_uri", "listen", "make_app", "serve", "socket_path"]

DEFAULT_SOCKET = "/run/berth/docker.sock"
"""The default store's socket (podman's is /run/podman/podman.sock, Docker's /run/docker.sock)."""
SOCKET_NAME = "docker.sock"
"""Any other store's socket, beside it in its root."""
SOCKET_MODE = 0o660
"""root:root rw: whoever reaches the socket runs containers as root, as with Docker's."""
VERSION_PREFIX = r"/v{api_version:[0-9]+\.[0-9]+}"
IDLE = web.AppKey("idle", dict)


def default_uri(root: str, default_root: str) -> str:
    """``unix:///run/berth/docker.sock`` for the default store, ``unix://<root>/docker.sock`` for another."""
    if os.path.abspath(root) == os.path.abspath(default_root):
        return f"unix://{DEFAULT_SOCKET}"
    return f"unix://{os.path.join(os.path.abspath(root), SOCKET_NAME)}"


def socket_path(uri: str) -> str:
    """The path of a ``unix://`` URI (the only kind served: a TCP port would be root for anyone on it)."""
    scheme, sep, path = uri.partition("://")
    if not sep or scheme != "unix" or not path.startswith("/"):
        raise errors.InvalidArgument(f"berth serves only unix:///absolute/path sockets, not {uri!r}")
    return path


def _version_ok(version: str) -> bool:
    return tuple(map(int, version.split("."))) >= tuple(map(int, MIN_API_VERSION.split(".")))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def version_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a ``/v1.xx/`` older than we serve, with Docker's message; any newer one is served as ours."""
    version = request.match_info.get("api_version")
    if version and not _version_ok(version):
        return json_error(400, f"client version {version} is too old. Minimum supported API version is "
                               f"{MIN_API_VERSION}, please upgrade your client to a newer version")
    response = await handler(request)
    if not response.prepared:
        response.headers.setdefault("Api-Version", system.API_VERSION)
        response.headers.setdefault("Server", f"berth/{system.BERTH_VERSION} (linux)")
    return response


@web.middleware
async def idle_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count requests in flight: ``--time`` counts idleness only while none is (a ``logs -f`` is busy)."""
    idle = request.app[IDLE]
    idle["active"] += 1
    try:
        return await handler(request)
    finally:
        idle["active"] -= 1
        idle["last"] = time.monotonic()


def make_app(engine: Engine) -> web.Application:
    """The application: every route twice, bare and under ``/v1.xx``, then the catch-all answers."""
    app = web.Application(middlewares=[idle_middleware, error_middleware, version_middleware],
                          client_max_size=64 << 20, handler_args={"max_field_size": 65536})
    app[ENGINE] = engine
    app[HUB] = AttachHub()
    app[IDLE] = {"active": 0, "last": time.monotonic()}
    table: list[tuple[str, str, Any]] = [*system.routes(), *containers.routes(), *images.routes()]
    for method, path, handler in table:
        for prefix in ("", VERSION_PREFIX):
            app.router.add_route(method, prefix + path, handler)
    for prefix in ("", VERSION_PREFIX):
        app.router.add_route("*", prefix + "/{tail:(swarm|nodes|services|tasks|secrets|configs|plugins|session|"
                                          "distribution|build|commit|auth|grpc)(/.*)?}", system.unsupported)
    return app


def listen(path: str) -> socket.socket:
    """A listening unix socket at ``path``, mode 0660 root:root from the start (bound under a umask).

    A stale socket file (nobody answers on it) is replaced; a live one is another server's: refused.
    """
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)
            else:
                raise errors.InvalidArgument(f"another server is listening on {path}")
            finally:
                probe.close()
        else:
            raise errors.InvalidArgument(f"{path} exists and is not a socket")
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    os.chown(path, 0, 0)
    os.chmod(path, SOCKET_MODE)
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def _idle_watch(app: web.Application, seconds: float, stop: asyncio.Event) -> None:
    idle = app[IDLE]
    while not stop.is_set():
        await asyncio.sleep(min(1.0, seconds / 4))
        if idle["active"] == 0 and time.monotonic() - idle["last"] >= seconds:
            stop.set()


async def _serve(engine: Engine, uri: str, idle_seconds: float, ready: Callable[[str], None]) -> None:
    path = socket_path(uri)
    app = make_app(engine)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    sock = listen(path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(_idle_watch(app, idle_seconds, stop)) if idle_seconds > 0 else None
    try:
        await web.SockSite(runner, sock).start()
        ready(uri)
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        await runner.cleanup()


def serve(engine: Engine, uri: str, idle_seconds: float = 0,
          ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM, or until ``idle_seconds`` pass with no request in flight (0 = never)."""
    def announce(where: str) -> None:
        print(f"berth: API listening on {where}", file=sys.stderr, flush=True)

    asyncio.run(_serve(engine, uri, idle_seconds, ready or announce))
