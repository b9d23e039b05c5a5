"""Engine errors as Docker's status codes and ``{"message": ...}`` bodies; never a traceback."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable

from aiohttp import web

from engine import errors

__all__ = ["ApiError", "error_middleware", "json_error", "status_of"]

log = logging.getLogger("berth.api")

_STATUS: tuple[tuple[type[errors.BerthError], int], ...] = (
    (errors.ContainerNotFound, 404),
    (errors.ImageNotFound, 404),
    (errors.VolumeNotFound, 404),
    (errors.ContainerNotRunning, 409),
    (errors.ContainerConflict, 409),
    (errors.ImageInUse, 409),
    (errors.ImageConflict, 409),
    (errors.VolumeInUse, 409),
    (errors.InvalidArgument, 400),
    (errors.InvalidReference, 400),
)
"""First match wins; any other ``BerthError`` is the server's failure (500), as Docker's errdefs map it."""


class ApiError(Exception):
    """A request the API itself refuses (bad JSON, a field berth cannot honour, an unknown endpoint)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def status_of(err: errors.BerthError) -> int:
    """Docker's HTTP status for an engine error."""
    return next((status for kind, status in _STATUS if isinstance(err, kind)), 500)


def json_error(status: int, message: str) -> web.Response:
    """Docker's error body: every client prints ``message``."""
    return web.json_response({"message": message}, status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn whatever a handler raises into Docker's JSON error; a bug is logged with its traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status == 404 and exc.reason == "Not Found" and not exc.text.startswith("{"):
            return json_error(404, f"page not found: {request.method} {request.path}")
        if exc.status == 405:
            return json_error(405, f"method {request.method} not allowed on {request.path}")
        raise
    except ApiError as exc:
        return json_error(exc.status, str(exc))
    except errors.BerthError as exc:
        return json_error(status_of(exc), str(exc))
    except (ConnectionResetError, BrokenPipeError):
        raise
    except Exception as exc:  # noqa: BLE001  a bug: the client gets one line, the operator the traceback
        log.error("%s %s failed:\n%s", request.method, request.path, traceback.format_exc())
        return json_error(500, f"internal error in berth: {type(exc).__name__}: {exc}")
