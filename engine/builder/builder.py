"""The builder: a Dockerfile and a context in, one image per instruction out, as the classic builder does.

Every instruction commits an image whose parent is the image before it (so
``history`` and ``images -a`` show the intermediate IDs); RUN, COPY, ADD and
WORKDIR get a layer when they change the filesystem, everything else an
``empty_layer`` history row. Before doing a step the builder looks for a child
of the current image made by the same step (see ``cache``). A failing step
leaves nothing half-made: its container and layer are removed, and the images
committed before it are complete images.
"""

from __future__ import annotations

import copy
import os
import posixpath
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, BinaryIO

from .. import reference
from ..errors import BerthError, BuildError, Cancelled, CommandFailed
from ..images import format_time
from ..importer import DEFAULT_PATH_ENV, Importer, base_config
from ..store.layers import Layer, chain_id_for
from . import parser, sources
from .buildargs import BuildArgs, unconsumed
from .cache import BuildCache
from .context import BuildContext
from .copy import CopyPlan, parse_chmod, source_digest
from .metadata import DEFAULT_SHELL, apply_instruction, env_map
from .progress import (
    BuildFinished,
    BuildMessage,
    ContainerRemoved,
    ContainerStarted,
    ProgressFn,
    StepCached,
    StepDone,
    StepFailed,
    StepOutput,
    StepStarted,
)
from .shell_lex import process_word
from .validate import check_instruction, flag_values, line_error, parse_dockerfile

if TYPE_CHECKING:
    from ..context import StoreContext
    from .container import BuildContainer

__all__ = ["BuildOptions", "Builder", "CommandFailed", "build_image"]

_SUPPORTED_PLATFORMS = ("linux/amd64", "linux/x86_64", "linux")


@dataclass(frozen=True)
class BuildOptions:
    """What ``berth build`` was asked for, apart from the context."""

    dockerfile: str | None = None
    """Host path of the Dockerfile (``-f``); ``Dockerfile`` in the context when None."""
    tags: tuple[str, ...] = ()
    build_args: Mapping[str, str] = field(default_factory=dict)
    no_cache: bool = False
    target: str | None = None
    network: str = "default"
    """RUN steps' network (``--network``): see ``stepnet``."""


@dataclass
class _Stage:
    """One FROM … section while it is being built."""

    name: str | None
    image_id: str
    """The image so far; "" while a ``FROM scratch`` stage has committed nothing."""
    image: dict[str, Any]
    """That image's full config (history and rootfs included)."""
    config: dict[str, Any]
    """The run config the next commit records (Env, Cmd, WorkingDir, ...)."""
    args: BuildArgs
    author: str = ""
    cmd_set: bool = False

    @property
    def chain_id(self) -> str | None:
        chain: str | None = None
        for diff_id in self.image.get("rootfs", {}).get("diff_ids", []):
            chain = chain_id_for(chain, diff_id)
        return chain

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    def expansion_env(self) -> dict[str, str]:
        return self.args.expansion_env(env_map(self.config))


def build_image(
    store: StoreContext,
    context: str | BinaryIO,
    options: BuildOptions,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> str:
    """Open the context (a dir path, or a tar stream), build, close; returns the final image ID."""
    ctx = BuildContext.from_dir(context) if isinstance(context, str) else BuildContext.from_stream(context, cancel)
    with ctx:
        return Builder(store, ctx, options, progress, cancel).build()


class Builder:
    """Runs one build; not reusable."""

    def __init__(self, store: StoreContext, context: BuildContext, options: BuildOptions,
                 progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> None:
        self.store = store
        self.context = context
        self.options = options
        self._emit: ProgressFn = progress or (lambda event: None)
        self.cancel = cancel
        self.cache = BuildCache(store.imagedb, store.layers)
        self.importer = Importer(store.layers, store.imagedb, store.tags, store.lock)
        self.stages: list[_Stage] = []
        self.used_args: set[str] = set()
        self.escape = parser.DEFAULT_ESCAPE
        self.step = 0
        self.total = 0

    # -- the whole build -----------------------------------------------------

    def build(self) -> str:
        """Every stage up to the target, then the tags; returns the final image ID."""
        from .stepnet import check_mode

        check_mode(self.options.network)
        df = parse_dockerfile(self.context.read_dockerfile(self.options.dockerfile))
        self.escape = df.escape
        targets = [_tag_ref(tag) for tag in self.options.tags]
        for ins in df.instructions:
            check_instruction(ins)
        meta, stages = _split_stages(df.instructions)
        stages = self._up_to_target(stages)
        self.total = len(meta) + sum(len(stage) for stage in stages)
        meta_args = self._meta_args(meta)
        for instructions in stages:
            self._build_stage(instructions, meta_args)
        image_id = self.stages[-1].image_id
        if not image_id:
            raise BuildError("No image was generated. Is your Dockerfile empty?")
        unused = unconsumed(self.options.build_args, self.used_args)
        if unused:
            self._emit(BuildMessage(f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed"))
        for target in targets:
            self.store.images.tag(image_id, str(target))
        self._emit(BuildFinished(image_id, tuple(str(t) for t in targets)))
        return image_id

    def _up_to_target(self, stages: list[list[parser.Instruction]]) -> list[list[parser.Instruction]]:
        target = self.options.target
        if not target:
            return stages
        for index, stage in enumerate(stages):
            words = stage[0].args
            if len(words) == 3 and words[2].lower() == target.lower():
                return stages[: index + 1]
        raise BuildError(f"failed to reach build target {target} in Dockerfile")

    def _meta_args(self, meta: list[parser.Instruction]) -> dict[str, str | None]:
        """ARGs before the first FROM: printed as steps, usable in FROM lines only."""
        values: dict[str, str | None] = {}
        for ins in meta:
            self._check_cancel()
            self.step += 1
            self._emit(StepStarted(self.step, self.total, ins.original))
            env = {**{k: v for k, v in values.items() if v is not None}, **self.options.build_args}
            for word in ins.args:
                key, sep, value = word.partition("=")
                values[key] = process_word(value, env, self.escape) if sep else None
                self.used_args.add(key)
        return values

    def _build_stage(self, instructions: list[parser.Instruction], meta_args: dict[str, str | None]) -> None:
        self._step(instructions[0], lambda: self._from(instructions[0], meta_args))
        stage = self.stages[-1]
        for ins in instructions[1:]:
            self._step(ins, lambda ins=ins: self._dispatch(stage, ins))  # type: ignore[misc]

    def _step(self, ins: parser.Instruction, action: Callable[[], str]) -> None:
        """One numbered step: its header, the work, ` ---> <id>`; any failure names the line."""
        self._check_cancel()
        self.step += 1
        self._emit(StepStarted(self.step, self.total, ins.original))
        try:
            image_id = action()
        except (CommandFailed, Cancelled) as err:
            self._emit(StepFailed(self.step, str(err)))
            raise
        except BerthError as err:
            failure = err if str(err).startswith("Dockerfile line ") else line_error(ins.start_line, str(err))
            self._emit(StepFailed(self.step, str(failure)))
            if failure is err:
                raise
            raise failure from err
        self._emit(StepDone(self.step, image_id))

    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("build cancelled")

    def _dispatch(self, stage: _Stage, ins: parser.Instruction) -> str:
        handlers: dict[str, Callable[[_Stage, parser.Instruction], str]] = {
            "run": self._run, "copy": self._copy, "add": self._copy, "arg": self._arg, "workdir": self._workdir,
        }
        return handlers.get(ins.cmd, self._metadata)(stage, ins)

    # -- committing and the cache --------------------------------------------

    def _nop(self, stage: _Stage, comment: str, *, joined: bool = False) -> list[str]:
        """The recorded ``Cmd`` of a step that runs nothing: ``#(nop) `` then the comment.

        Most instructions add the comment as its own word (two spaces in
        history); COPY, ADD and WORKDIR glue it on (one space), as Docker does.
        """
        return [*stage.shell, "#(nop) " + comment] if joined else [*stage.shell, "#(nop) ", comment]

    def _container_config(self, stage: _Stage, cmd: list[str], *, no_entrypoint: bool = False) -> dict[str, Any]:
        config = copy.deepcopy(stage.config)
        config["Cmd"] = cmd
        if no_entrypoint:
            config["Entrypoint"] = None
        return config

    def _probe(self, stage: _Stage, container_config: dict[str, Any]) -> bool:
        """Take the cached result of this step if there is one."""
        if self.options.no_cache:
            return False
        hit = self.cache.lookup(stage.image_id, container_config)
        if hit is None:
            return False
        self._emit(StepCached(self.step, hit[0]))
        stage.image_id, stage.image = hit
        return True

    def _commit(self, stage: _Stage, container_config: dict[str, Any], layer: Layer | None) -> str:
        """Write the image after this step (config, history row, maybe a layer) with the current one as parent."""
        created = format_time(time.time())
        entry: dict[str, Any] = {"created": created, "created_by": " ".join(container_config["Cmd"])}
        if layer is None:
            entry["empty_layer"] = True
        rootfs = stage.image.get("rootfs") or {"type": "layers", "diff_ids": []}
        diff_ids = [*rootfs.get("diff_ids", []), *([layer.diff_id] if layer else [])]
        image: dict[str, Any] = {"architecture": stage.image.get("architecture") or base_config("")["architecture"]}
        if stage.author:
            image["author"] = stage.author
        image.update({
            "config": copy.deepcopy(stage.config), "created": created,
            "history": [*stage.image.get("history", []), entry], "os": stage.image.get("os") or "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        })
        # container_config (the cache key) stays out of the config: Go tools would drop it and change the ID.
        image_id = self.importer.commit_config(image, None, parent=stage.image_id or None,
                                               container_config=container_config)
        self.cache.add(stage.image_id, image_id)
        stage.image_id, stage.image = image_id, image
        return image_id

    # -- FROM ----------------------------------------------------------------

    def _from(self, ins: parser.Instruction, meta_args: dict[str, str | None]) -> str:
        args = BuildArgs(self.options.build_args, meta_args, self.used_args)
        platform = flag_values(ins).get("platform")
        if platform is not None:
            platform = process_word(platform, args.meta_values(), self.escape)
            if platform.lower() not in _SUPPORTED_PLATFORMS:
                raise BuildError(f"platform {platform} is not supported: berth builds linux/amd64 images")
        name = process_word(ins.args[0], args.meta_values(), self.escape)
        if not name:
            raise BuildError(f"base name ({ins.args[0]}) should not be blank")
        image_id, image = self._base(name)
        config = copy.deepcopy(image.get("config") or {})
        if "PATH" not in env_map(config):
            config["Env"] = [*(config.get("Env") or []), DEFAULT_PATH_ENV]
        triggers = config.pop("OnBuild", None) or []
        stage = _Stage(ins.args[2].lower() if len(ins.args) == 3 else None, image_id, image, config, args)
        self.stages.append(stage)
        if triggers:
            self._triggers(stage, triggers, ins.start_line)
        return stage.image_id

    def _base(self, name: str) -> tuple[str, dict[str, Any]]:
        """Image ID and config of a FROM: scratch, an earlier stage, or an image in the store."""
        if name.lower() == "scratch":
            return "", base_config("")
        for stage in self.stages:
            if stage.name is not None and stage.name == name.lower():
                return stage.image_id, copy.deepcopy(stage.image)
        image_id = self.store.images.resolve(name)
        return image_id, self.store.images.config(image_id)

    def _triggers(self, stage: _Stage, triggers: Sequence[str], line: int) -> None:
        """The base image's ONBUILD instructions, run now, before this Dockerfile's next one."""
        plural = "s" if len(triggers) > 1 else ""
        self._emit(BuildMessage(f"# Executing {len(triggers)} build trigger{plural}"))
        for trigger in triggers:
            parsed = parse_dockerfile(trigger).instructions
            if len(parsed) != 1:
                raise line_error(line, "onbuild trigger should be a single expression")
            ins = replace(parsed[0], start_line=line, end_line=line)
            check_instruction(ins, trigger=True)
            if ins.cmd in ("onbuild", "from", "maintainer"):
                raise line_error(line, f"{ins.cmd.upper()} isn't allowed as an ONBUILD trigger")
            self._dispatch(stage, ins)

    # -- config-only instructions ----------------------------------------------

    def _metadata(self, stage: _Stage, ins: parser.Instruction) -> str:
        config = copy.deepcopy(stage.config)
        comment = apply_instruction(config, ins, self.escape, stage.expansion_env())
        if comment is None:
            raise BuildError(f"unknown instruction: {ins.cmd.upper()}")
        if ins.cmd == "entrypoint" and not stage.cmd_set:
            config["Cmd"] = None
        stage.config = config
        if ins.cmd == "maintainer":
            stage.author = ins.args[0]
        container_config = self._container_config(stage, self._nop(stage, comment))
        if ins.cmd == "cmd" and ins.args:
            stage.cmd_set = True
        if self._probe(stage, container_config):
            return stage.image_id
        return self._commit(stage, container_config, None)

    def _arg(self, stage: _Stage, ins: parser.Instruction) -> str:
        parts = []
        for word in ins.args:
            key, sep, value = word.partition("=")
            if sep:
                value = process_word(value, stage.expansion_env(), self.escape)
            stage.args.declare(key, value if sep else None)
            parts.append(f"{key}={value}" if sep else key)
        container_config = self._container_config(stage, self._nop(stage, "ARG " + " ".join(parts)))
        if self._probe(stage, container_config):
            return stage.image_id
        return self._commit(stage, container_config, None)

    def _workdir(self, stage: _Stage, ins: parser.Instruction) -> str:
        """WORKDIR sets the config and makes the dir now, so it is in the image (a layer if it was new)."""
        from ..runtime.rootfs import resolve_in_root

        config = copy.deepcopy(stage.config)
        comment = apply_instruction(config, ins, self.escape, stage.expansion_env())
        stage.config = config
        container_config = self._container_config(stage, self._nop(stage, str(comment), joined=True))
        if self._probe(stage, container_config):
            return stage.image_id
        with _container(self.store, stage.chain_id, init=False) as container:
            path = resolve_in_root(container.rootfs, config["WorkingDir"])
            if os.path.lexists(path) and not os.path.isdir(path):
                raise BuildError(f"Cannot mkdir: {config['WorkingDir']} is not a directory")
            os.makedirs(path, 0o755, exist_ok=True)
            layer = container.commit(self.cancel)
        return self._commit(stage, container_config, layer)

    # -- RUN -----------------------------------------------------------------

    def _run(self, stage: _Stage, ins: parser.Instruction) -> str:
        argv = _run_argv(stage, ins)
        env = env_map(stage.config)
        recorded = [*stage.args.run_prefix(env), *argv]
        container_config = self._container_config(stage, recorded, no_entrypoint=True)
        if self._probe(stage, container_config):
            return stage.image_id
        run_env = [*(stage.config.get("Env") or []), *(f"{k}={v}" for k, v in stage.args.allowed(env).items())]
        from .stepnet import forwarding_warning

        warning = forwarding_warning(self.options.network)
        if warning:
            self._emit(BuildMessage(" ---> " + warning))
        with _container(self.store, stage.chain_id, init=True) as container:
            self._emit(ContainerStarted(container.container_id))
            code = container.run(argv, env=run_env, cwd=stage.config.get("WorkingDir") or "/",
                                 user=stage.config.get("User") or "", output=self._output, cancel=self.cancel,
                                 network=self.options.network)
            if code != 0:
                raise CommandFailed(f"The command '{' '.join(argv)}' returned a non-zero code: {code}", code)
            layer = container.commit(self.cancel)
        self._emit(ContainerRemoved(container.container_id))
        return self._commit(stage, container_config, layer)

    def _output(self, text: str) -> None:
        self._emit(StepOutput(text))

    # -- COPY and ADD ----------------------------------------------------------

    def _copy(self, stage: _Stage, ins: parser.Instruction) -> str:
        flags = flag_values(ins)
        env = stage.expansion_env()
        words = [process_word(word, env, self.escape) for word in ins.args]
        chown = process_word(flags.get("chown", ""), env, self.escape)
        chmod = parse_chmod(process_word(flags["chmod"], env, self.escape)) if "chmod" in flags else None
        *names, dest = words
        with ExitStack() as stack:
            tree = self._source_tree(stack, flags["from"]) if "from" in flags else self.context
            found = sources.collect(stack, tree, names, ins, add=ins.cmd == "add")
            if len(found) > 1 and not dest.endswith("/"):
                raise BuildError(f"When using {ins.cmd.upper()} with more than one source file, "
                                 "the destination must be a directory and end with a /")
            comment = f"{ins.cmd.upper()} {'--chown=' + chown if chown else ''}{source_digest(found)} in {dest} "
            container_config = self._container_config(stage, self._nop(stage, comment, joined=True))
            if self._probe(stage, container_config):
                return stage.image_id
            target = dest if dest.startswith("/") else posixpath.join(stage.config.get("WorkingDir") or "/", dest)
            with _container(self.store, stage.chain_id, init=False) as container:
                from .copy import copy_into, parse_chown

                owner = parse_chown(chown, container.rootfs) if chown else None
                try:
                    copy_into(container.rootfs, CopyPlan(found, target, dest.endswith("/"), owner, chmod))
                except OSError as err:  # the host paths in it are ours, not the Dockerfile's business
                    raise BuildError(f"failed to copy files: {err.strerror or err.__class__.__name__}") from err
                layer = container.commit(self.cancel)
        return self._commit(stage, container_config, layer)

    def _source_tree(self, stack: ExitStack, name: str) -> BuildContext:
        """``--from``: an earlier stage (by name or index) or a store image, mounted read-only for the step."""
        chain: str | None
        stage = next((s for s in self.stages if s.name == name.lower()), None)
        if stage is None and name.isdigit() and int(name) < len(self.stages):
            stage = self.stages[int(name)]
        if stage is not None:
            chain = stage.chain_id
        else:
            config = self.store.images.config(self.store.images.resolve(name))
            chain = _top_chain(config)
        container = stack.enter_context(_container(self.store, chain, init=False))
        return BuildContext(container.rootfs, ignore=False)


def _container(store: StoreContext, parent: str | None, *, init: bool) -> BuildContainer:
    """A step container; its module (mounts, namespaces, layer tars) loads only when a step misses the cache."""
    from .container import BuildContainer

    return BuildContainer(store, parent, init=init)


def _top_chain(image: dict[str, Any]) -> str | None:
    chain: str | None = None
    for diff_id in image.get("rootfs", {}).get("diff_ids", []):
        chain = chain_id_for(chain, diff_id)
    return chain


def _tag_ref(tag: str) -> reference.Reference:
    ref = reference.parse(tag)
    if ref.digest:
        raise BuildError(f"invalid tag {tag!r}: a digest cannot be a tag")
    return ref


_Stages = list[list[parser.Instruction]]


def _split_stages(instructions: Sequence[parser.Instruction]) -> tuple[list[parser.Instruction], _Stages]:
    """The ARGs before the first FROM, then one instruction list per stage (FROM first)."""
    meta: list[parser.Instruction] = []
    stages: list[list[parser.Instruction]] = []
    for ins in instructions:
        if ins.cmd == "from":
            stages.append([ins])
        elif stages:
            stages[-1].append(ins)
        elif ins.cmd == "arg":
            meta.append(ins)
        else:
            raise line_error(ins.start_line, "no build stage in current context")
    if not stages:
        raise BuildError("Dockerfile: no build stage in current context: a Dockerfile needs a FROM")
    return meta, stages


def _run_argv(stage: _Stage, ins: parser.Instruction) -> list[str]:
    """RUN's command: exec form as written, else the shell with the line (heredoc bodies included)."""
    if ins.json_form:
        return list(ins.args)
    command = ins.args[0] if ins.args else ""
    if ins.heredocs:
        command = _heredoc_command(command, ins.heredocs)
    return [*stage.shell, command]


def _heredoc_command(line: str, docs: Sequence[parser.Heredoc]) -> str:
    """``RUN <<EOF`` alone runs the body as the script; otherwise the shell gets the heredocs to read itself."""
    only = parser.parse_heredoc(line.strip())
    if len(docs) == 1 and only is not None and only.name == docs[0].name:
        body = docs[0].content
        return parser.chomp_heredoc_content(body) if docs[0].chomp else body
    return line + "\n" + "".join(doc.content + doc.name + "\n" for doc in docs)
