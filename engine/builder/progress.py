"""What a build reports as it goes: one frozen record per thing the classic builder prints.

The builder never prints; it hands these to a callback. The CLI renders them
as ``docker build`` (``DOCKER_BUILDKIT=0``) does; the app renders them in a
panel. ``render`` gives the CLI's text for each one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "BuildEvent",
    "StepStarted",
    "StepCached",
    "ContainerStarted",
    "StepOutput",
    "ContainerRemoved",
    "StepDone",
    "BuildMessage",
    "StepFailed",
    "BuildFinished",
    "ProgressFn",
    "render",
]


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


@dataclass(frozen=True)
class BuildEvent:
    """Base of every build progress record."""


@dataclass(frozen=True)
class StepStarted(BuildEvent):
    """Step ``step`` of ``total`` begins; ``instruction`` is its line as written."""

    step: int
    total: int
    instruction: str


@dataclass(frozen=True)
class StepCached(BuildEvent):
    """The step's result was found in the build cache."""

    step: int
    image_id: str


@dataclass(frozen=True)
class ContainerStarted(BuildEvent):
    """A RUN step's container is about to run."""

    container_id: str


@dataclass(frozen=True)
class StepOutput(BuildEvent):
    """A chunk of a RUN command's stdout and stderr, as it came."""

    text: str


@dataclass(frozen=True)
class ContainerRemoved(BuildEvent):
    """A RUN step's container is gone (its layer is committed or discarded)."""

    container_id: str


@dataclass(frozen=True)
class StepDone(BuildEvent):
    """The step finished; ``image_id`` is the image after it ("" after ``FROM scratch``)."""

    step: int
    image_id: str


@dataclass(frozen=True)
class BuildMessage(BuildEvent):
    """A line the builder says between steps (build triggers, warnings)."""

    text: str


@dataclass(frozen=True)
class StepFailed(BuildEvent):
    """The step failed; the build stops and ``message`` is what the user is told."""

    step: int
    message: str


@dataclass(frozen=True)
class BuildFinished(BuildEvent):
    """The build succeeded: the final image and the tags now pointing at it."""

    image_id: str
    tags: tuple[str, ...]


ProgressFn = Callable[[BuildEvent], None]


def render(event: BuildEvent) -> str:
    """The classic builder's text for ``event`` (newlines included); "" for events it does not print."""
    if isinstance(event, StepStarted):
        return f"Step {event.step}/{event.total} : {event.instruction}\n"
    if isinstance(event, StepCached):
        return " ---> Using cache\n"
    if isinstance(event, ContainerStarted):
        return f" ---> Running in {event.container_id[:12]}\n"
    if isinstance(event, StepOutput):
        return event.text
    if isinstance(event, ContainerRemoved):
        return f"Removing intermediate container {event.container_id[:12]}\n"
    if isinstance(event, StepDone):
        return f" ---> {_short(event.image_id)}\n"
    if isinstance(event, BuildMessage):
        return event.text + "\n"
    if isinstance(event, BuildFinished):
        lines = [f"Successfully built {_short(event.image_id)}"]
        lines += [f"Successfully tagged {tag}" for tag in event.tags]
        return "\n".join(lines) + "\n"
    return ""
