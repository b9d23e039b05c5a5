"""``/images/…``: list, inspect, history, tag, remove, and create (= pull, with Docker's progress lines)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine import errors

from .context import blocking, engine_of, flag
from .convert import history_row, image_row
from .errors import ApiError
from .streams import Send, json_line, pump

__all__ = ["routes"]


async def list_images(request: web.Request) -> web.Response:
    engine = engine_of(request)
    rows = await blocking(engine.image_list, all=flag(request, "all"))
    return web.json_response([image_row(row) for row in rows])


async def inspect(request: web.Request) -> web.Response:
    return web.json_response(await blocking(engine_of(request).image_inspect, request.match_info["name"]))


async def history(request: web.Request) -> web.Response:
    rows = await blocking(engine_of(request).image_history, request.match_info["name"])
    return web.json_response([history_row(row) for row in rows])


async def tag(request: web.Request) -> web.Response:
    repo = request.query.get("repo") or ""
    if not repo:
        raise ApiError(400, "repository name must have at least one component")
    target = f"{repo}:{request.query['tag']}" if request.query.get("tag") else repo
    await blocking(engine_of(request).image_tag, request.match_info["name"], target)
    return web.Response(status=201)


async def remove(request: web.Request) -> web.Response:
    removed = await blocking(engine_of(request).image_remove, request.match_info["name"],
                             force=flag(request, "force"), prune=not flag(request, "noprune"))
    return web.json_response([{item.action: item.name} for item in removed])


def _progress_line(item: Any) -> bytes:
    line: dict[str, Any] = {"status": item.action, "id": item.id}
    if item.total or item.current:
        line["progressDetail"] = {"current": item.current, "total": item.total}
    return json_line(line)


async def create(request: web.Request) -> web.StreamResponse:
    """Pull ``fromImage[:tag]``; progress streams as JSON lines, a failure as an ``errorDetail`` line."""
    image = request.query.get("fromImage") or ""
    if not image:
        raise ApiError(501, "berth imports images with berth import; /images/create needs fromImage")
    tag = request.query.get("tag") or ""
    ref = image if not tag else f"{image}@{tag}" if tag.startswith("sha256:") else f"{image}:{tag}"
    engine = engine_of(request)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)

    def pull(send: Send) -> None:
        send(json_line({"status": f"Pulling from {image}", "id": tag or "latest"}))
        try:
            result = engine.image_pull(ref, platform=request.query.get("platform") or None,
                                       progress=lambda item: send(_progress_line(item)))
        except errors.BerthError as err:
            send(json_line({"errorDetail": {"message": str(err)}, "error": str(err)}))
            return
        send(json_line({"status": f"Digest: {result.digest}"}))
        news = "Downloaded newer image" if result.updated else "Image is up to date"
        send(json_line({"status": f"Status: {news} for {ref}"}))

    await pump(response, pull)
    await response.write_eof()
    return response


def routes() -> list[tuple[str, str, Any]]:
    return [
        ("GET", "/images/json", list_images),
        ("POST", "/images/create", create),
        ("GET", "/images/{name:.+}/json", inspect),
        ("GET", "/images/{name:.+}/history", history),
        ("POST", "/images/{name:.+}/tag", tag),
        ("DELETE", "/images/{name:.+}", remove),
    ]
