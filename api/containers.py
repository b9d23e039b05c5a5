"""``/containers/…``: list, create, start/stop/…, wait, logs, attach, remove."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aiohttp import web

from engine import errors

from .attach import StdinSink, hijack, stream_attachment
from .context import blocking, engine_of, flag, hub_of, int_arg, json_body
from .convert import container_row, filter_items, parse_filters
from .create import create_options
from .errors import ApiError
from .streams import Send, frame, pump

__all__ = ["routes"]

WAIT_POLL = 0.1
"""Seconds between looks at a container a ``wait?condition=next-exit`` waits to see started."""


async def list_containers(request: web.Request) -> web.Response:
    engine = engine_of(request)
    filters = filter_items(parse_filters(request.query.get("filters")))
    rows = await blocking(engine.container_list, all=flag(request, "all"), filters=filters,
                          last=int_arg(request, "limit", -1), size=flag(request, "size"))
    return web.json_response([container_row(row) for row in rows])


async def create(request: web.Request) -> web.Response:
    engine = engine_of(request)
    options = create_options(await json_body(request), request.query.get("name", ""))
    cid = await blocking(engine.container_create, options)
    return web.json_response({"Id": cid, "Warnings": await blocking(engine.network_notices)}, status=201)


async def inspect(request: web.Request) -> web.Response:
    engine = engine_of(request)
    return web.json_response(await blocking(engine.container_inspect, request.match_info["id"],
                                            size=flag(request, "size")))


async def start(request: web.Request) -> web.Response:
    """Start; an attach that came first gets the attachment (and feeds the container's stdin)."""
    engine, hub = engine_of(request), hub_of(request)
    cid = await blocking(engine.container_resolve, request.match_info["id"])
    state = (await blocking(engine.container_inspect, cid))["State"]
    if state["Running"]:
        return web.Response(status=304)
    waiting = hub.take(cid)
    if waiting is None:
        await blocking(engine.container_start, cid)
        return web.Response(status=204)
    try:
        attachment = await blocking(engine.container_start, cid, attach=True, stdin=waiting.stdin)
    except BaseException as err:
        waiting.future.set_exception(err if isinstance(err, Exception) else errors.Cancelled("start cancelled"))
        raise
    finally:
        if waiting.stdin is not None:
            os.close(waiting.stdin)  # the engine's copier reads its own copy
    waiting.future.set_result(attachment)
    return web.Response(status=204)


def _timeout(request: web.Request) -> int | None:
    value = request.query.get("t") or request.query.get("timeout")
    return None if value in (None, "") else int_arg(request, "t" if "t" in request.query else "timeout", 10)


async def stop(request: web.Request) -> web.Response:
    engine = engine_of(request)
    cid = await blocking(engine.container_resolve, request.match_info["id"])
    if not (await blocking(engine.container_inspect, cid))["State"]["Running"]:
        return web.Response(status=304)
    await blocking(engine.container_stop, cid, timeout=_timeout(request))
    return web.Response(status=204)


async def restart(request: web.Request) -> web.Response:
    engine = engine_of(request)
    await blocking(engine.container_restart, request.match_info["id"], timeout=_timeout(request))
    return web.Response(status=204)


async def kill(request: web.Request) -> web.Response:
    engine = engine_of(request)
    await blocking(engine.container_kill, request.match_info["id"], signal=request.query.get("signal") or "KILL")
    return web.Response(status=204)


async def pause(request: web.Request) -> web.Response:
    await blocking(engine_of(request).container_pause, request.match_info["id"])
    return web.Response(status=204)


async def unpause(request: web.Request) -> web.Response:
    await blocking(engine_of(request).container_unpause, request.match_info["id"])
    return web.Response(status=204)


async def remove(request: web.Request) -> web.Response:
    engine = engine_of(request)
    await blocking(engine.container_remove, request.match_info["id"], force=flag(request, "force"),
                   volumes=flag(request, "v"))
    return web.Response(status=204)


async def _state(engine: Any, cid: str) -> dict[str, Any] | None:
    try:
        return dict((await blocking(engine.container_inspect, cid))["State"])
    except errors.ContainerNotFound:
        return None


async def _exit_code(request: web.Request, cid: str, last: int) -> int:
    """The code of a run whose record is gone (``--rm``): its attach saw it, else the last one we read."""
    future = hub_of(request).exits.get(cid)
    if future is None:
        return last
    try:
        return await asyncio.wait_for(asyncio.shield(future), 10)
    except TimeoutError:
        return last


async def _wait(request: web.Request, cid: str, condition: str) -> int:
    """Docker's wait conditions; ``next-exit`` and ``removed`` hold until a later start ran and ended."""
    engine = engine_of(request)
    state = await _state(engine, cid)
    if state is None:
        raise errors.ContainerNotFound(f"No such container: {cid}")
    first_start, code = state.get("StartedAt"), int(state.get("ExitCode") or 0)
    started = state["Running"] or condition == "not-running"
    while state is not None:
        if not started and (state["Running"] or state.get("StartedAt") != first_start):
            started = True
        if started and not state["Running"]:
            code = int(state.get("ExitCode") or 0)
            if condition != "removed":
                return code
        if started and state["Running"]:
            try:
                code = await blocking(engine.container_wait, cid)
            except errors.ContainerNotFound:
                return await _exit_code(request, cid, code)
            if condition != "removed":
                return code
            state = await _state(engine, cid)
            continue
        await asyncio.sleep(WAIT_POLL)
        state = await _state(engine, cid)
    return await _exit_code(request, cid, code)


async def wait(request: web.Request) -> web.Response:
    condition = request.query.get("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise ApiError(400, f"invalid condition: {condition}")
    engine = engine_of(request)
    cid = await blocking(engine.container_resolve, request.match_info["id"])
    # The client waits for the status: send the headers now, as Docker does, so it knows we registered.
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    code = await _wait(request, cid, condition)
    import json

    await response.write(json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n")
    await response.write_eof()
    return response


def _since(request: web.Request, name: str) -> float:
    value = request.query.get(name) or "0"
    try:
        return float(value)
    except ValueError as err:
        raise ApiError(400, f"invalid value for {name}: {value}") from err


async def logs(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    cid = await blocking(engine.container_resolve, request.match_info["id"])
    tty = bool((await blocking(engine.container_inspect, cid))["Config"].get("Tty"))
    streams = {name for name in ("stdout", "stderr") if flag(request, name)}
    if not streams:
        raise ApiError(400, "Bad parameters: you must choose at least one stream")
    tail_text = request.query.get("tail") or "all"
    tail = -1 if tail_text == "all" else int_arg(request, "tail", -1)
    chunks = engine.container_log_chunks(cid, follow=flag(request, "follow"), tail=tail,
                                         since=_since(request, "since"), until=_since(request, "until"),
                                         timestamps=flag(request, "timestamps"))
    kind = "application/vnd.docker.raw-stream" if tty else "application/vnd.docker.multiplexed-stream"
    response = web.StreamResponse(headers={"Content-Type": kind})
    await response.prepare(request)

    def copy(send: Send) -> None:
        for stream, data in chunks:
            if stream in streams:
                send(data if tty else frame(stream, data))

    await pump(response, copy)
    await response.write_eof()
    return response


async def attach(request: web.Request) -> web.StreamResponse:
    """Hijacked attach: output (framed without a tty) until the container exits, stdin into it."""
    engine, hub = engine_of(request), hub_of(request)
    cid = await blocking(engine.container_resolve, request.match_info["id"])
    config = await blocking(engine.container_inspect, cid)
    tty, running = bool(config["Config"].get("Tty")), bool(config["State"]["Running"])
    want_stdin = flag(request, "stdin") and bool(config["Config"].get("OpenStdin"))
    streams = {name for name in ("stdout", "stderr") if flag(request, name)}
    if not flag(request, "stream") and not flag(request, "logs"):
        raise ApiError(400, "berth attaches to the live stream only: set stream=1")
    sink = StdinSink()
    response = await hijack(request, tty, sink)
    pipe_read = None
    if running:
        attachment = await blocking(engine.container_attach, cid)
    else:
        if want_stdin and not tty:
            pipe_read, pipe_write = os.pipe2(os.O_CLOEXEC)
            sink.attach(pipe_write, close_at_eof=True)
        attachment = await hub.park(cid, pipe_read).future
    if want_stdin and tty and attachment.terminal is not None:
        sink.attach(attachment.terminal, close_at_eof=False)
    try:
        code = await stream_attachment(response, attachment, tty, streams, sink)
        hub.ended(cid, code)
    finally:
        if request.transport is not None:
            request.transport.close()
    return response


async def resize(request: web.Request) -> web.Response:
    """Accepted: berth sizes a pty at start and on the CLI's SIGWINCH; the API cannot reach it yet."""
    await blocking(engine_of(request).container_resolve, request.match_info["id"])
    return web.Response(status=200)


def routes() -> list[tuple[str, str, Any]]:
    return [
        ("GET", "/containers/json", list_containers),
        ("POST", "/containers/create", create),
        ("GET", "/containers/{id}/json", inspect),
        ("POST", "/containers/{id}/start", start),
        ("POST", "/containers/{id}/stop", stop),
        ("POST", "/containers/{id}/restart", restart),
        ("POST", "/containers/{id}/kill", kill),
        ("POST", "/containers/{id}/pause", pause),
        ("POST", "/containers/{id}/unpause", unpause),
        ("POST", "/containers/{id}/wait", wait),
        ("GET", "/containers/{id}/logs", logs),
        ("POST", "/containers/{id}/attach", attach),
        ("POST", "/containers/{id}/resize", resize),
        ("DELETE", "/containers/{id}", remove),
    ]
