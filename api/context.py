"""What every handler reaches through its request: the one ``Engine`` and the attach hub."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from engine import Engine

from .attach import AttachHub
from .errors import ApiError

__all__ = ["ENGINE", "HUB", "blocking", "engine_of", "flag", "hub_of", "int_arg", "json_body"]

ENGINE = web.AppKey("engine", Engine)
HUB = web.AppKey("hub", AttachHub)
T = TypeVar("T")


def engine_of(request: web.Request) -> Engine:
    return request.app[ENGINE]


def hub_of(request: web.Request) -> AttachHub:
    return request.app[HUB]


async def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Engine work (disk, locks, the monitor's socket) on a thread: the loop keeps serving others."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def flag(request: web.Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter as Docker's clients send it: ``1``/``true``/``True`` (``0``/``false`` off)."""
    value = request.query.get(name)
    if value is None:
        return default
    return value.lower() not in ("0", "false", "no", "")


def int_arg(request: web.Request, name: str, default: int) -> int:
    value = request.query.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)  # type: ignore[arg-type]
    except ValueError as err:
        raise ApiError(400, f"invalid value for {name}: {value}") from err


async def json_body(request: web.Request) -> Any:
    """The request's JSON (``{}`` for an empty body); 400 when it does not parse."""
    text = await request.text()
    if not text.strip():
        return {}
    import json

    try:
        return json.loads(text)
    except ValueError as err:
        raise ApiError(400, f"invalid JSON: {err}") from err
