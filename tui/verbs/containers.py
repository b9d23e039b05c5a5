"""Container verbs: run, create, start, stop, kill, restart, rm, wait, ps, logs, exec, attach, cp, diff….

Argparse and printing only: columns come from ``tui.format``, the user's terminal from ``tui.terminal``
(imported when a verb needs it: ``ps`` must not pay for termios).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from engine import BerthError, Engine, InvalidArgument

from ..format import (
    command_cell,
    container_size,
    container_status,
    human_size,
    image_cell,
    ports_text,
    short_id,
    since,
    tabulate,
)
from ..rows import CONTAINER_HEADERS, add_inspect_format, container_row, uses_template, write_inspect, write_rows
from .prune import confirm, print_deleted

__all__ = ["register"]


def register(sub: Any) -> None:
    _run_flags(sub.add_parser("run", help="Create and run a new container from an image", add_help=False), True)
    _run_flags(sub.add_parser("create", help="Create a new container", add_help=False), False)
    _simple_verbs(sub)
    _ps_flags(sub.add_parser("ps", help="List containers"))
    container = sub.add_parser("container", help="Manage containers")
    csub = container.add_subparsers(dest="container_verb", metavar="COMMAND", required=True,
                                    parser_class=sub._parser_class)
    _ps_flags(csub.add_parser("ls", aliases=["list", "ps"], help="List containers"))
    _run_flags(csub.add_parser("run", help="Create and run a new container", add_help=False), True)
    _run_flags(csub.add_parser("create", help="Create a new container", add_help=False), False)
    _simple_verbs(csub)
    p = csub.add_parser("prune", help="Remove all stopped containers")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.set_defaults(func=cmd_prune)
    p = csub.add_parser("inspect", help="Display detailed information on containers")
    p.add_argument("names", nargs="+", metavar="CONTAINER")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    add_inspect_format(p)
    p.set_defaults(func=cmd_container_inspect)
    from .stats import (
        register as register_stats,  # ``container stats``; ``stats`` is its own module's verb
    )

    register_stats(csub)


def _simple_verbs(sub: Any) -> None:
    _lifecycle_verbs(sub)
    _output_verbs(sub)
    _more_verbs(sub)


def _lifecycle_verbs(sub: Any) -> None:
    p = sub.add_parser("start", help="Start one or more stopped containers")
    p.add_argument("-a", "--attach", action="store_true", help="Attach STDOUT/STDERR")
    p.add_argument("-i", "--interactive", action="store_true", help="Attach container's STDIN")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.set_defaults(func=cmd_start)
    p = sub.add_parser("stop", help="Stop one or more running containers")
    p.add_argument("-t", "--time", type=int, default=None, help="Seconds to wait for stop before killing it")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.set_defaults(func=cmd_stop)
    p = sub.add_parser("restart", help="Restart one or more containers")
    p.add_argument("-t", "--time", type=int, default=None, help="Seconds to wait for stop before killing it")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.set_defaults(func=cmd_restart)
    p = sub.add_parser("kill", help="Kill one or more running containers")
    p.add_argument("-s", "--signal", default="KILL", help="Signal to send to the container")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.set_defaults(func=cmd_kill)
    for verb, text in (("pause", "Pause all processes within one or more containers"),
                       ("unpause", "Unpause all processes within one or more containers")):
        p = sub.add_parser(verb, help=text)
        p.add_argument("containers", nargs="+", metavar="CONTAINER")
        p.set_defaults(func=cmd_pause if verb == "pause" else cmd_unpause)
    p = sub.add_parser("rm", help="Remove one or more containers")
    p.add_argument("-f", "--force", action="store_true", help="Force the removal of a running container")
    p.add_argument("-v", "--volumes", action="store_true",
                   help="Remove anonymous volumes associated with the container")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.set_defaults(func=cmd_rm)
    p = sub.add_parser("wait", help="Block until containers stop, then print their exit codes")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.set_defaults(func=cmd_wait)


def _output_verbs(sub: Any) -> None:
    p = sub.add_parser("logs", help="Fetch the logs of a container")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    p.add_argument("-n", "--tail", default="all", help='Number of lines to show from the end (default "all")')
    p.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    p.add_argument("--since", default="", help="Show logs since timestamp or relative (e.g. 42m)")
    p.add_argument("--until", default="", help="Show logs before timestamp or relative (e.g. 42m)")
    p.set_defaults(func=cmd_logs)
    p = sub.add_parser("exec", help="Execute a command in a running container")
    p.add_argument("-d", "--detach", action="store_true", help="Detached mode: run command in the background")
    p.add_argument("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
    p.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    p.add_argument("-e", "--env", action="append", default=[], help="Set environment variables")
    p.add_argument("-w", "--workdir", default="", help="Working directory inside the container")
    p.add_argument("-u", "--user", default="", help="Username or UID (format: <name|uid>[:<group|gid>])")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")
    p.set_defaults(func=cmd_exec)


def _more_verbs(sub: Any) -> None:
    p = sub.add_parser("attach", help="Attach to a running container's output (and its terminal, with -t)")
    p.add_argument("--no-stdin", action="store_true", help="Do not attach STDIN")
    p.add_argument("container", metavar="CONTAINER")
    p.set_defaults(func=cmd_attach)
    p = sub.add_parser("cp", help="Copy files/folders between a container and the local filesystem")
    p.add_argument("-a", "--archive", action="store_true", help="Archive mode (copy all uid/gid information)")
    p.add_argument("-L", "--follow-link", action="store_true", help="Always follow symbol link in SRC_PATH")
    p.add_argument("source", metavar="SRC")
    p.add_argument("dest", metavar="DEST")
    p.set_defaults(func=cmd_cp)
    p = sub.add_parser("commit", help="Create a new image from a container's changes")
    p.add_argument("-a", "--author", default="", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    p.add_argument("-c", "--change", action="append", default=[], help="Apply Dockerfile instruction to the image")
    p.add_argument("-m", "--message", default="", help="Commit message")
    p.add_argument("-p", "--pause", type=_bool_flag, default=True, metavar="BOOL",
                   help="Pause container during commit (default true)")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("ref", nargs="?", metavar="REPOSITORY[:TAG]")
    p.set_defaults(func=cmd_commit)
    p = sub.add_parser("rename", help="Rename a container")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("new_name", metavar="NEW_NAME")
    p.set_defaults(func=cmd_rename)
    p = sub.add_parser("top", help="Display the running processes of a container")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("ps_args", nargs=argparse.REMAINDER, metavar="[ps OPTIONS]")
    p.set_defaults(func=cmd_top)
    p = sub.add_parser("diff", help="Inspect changes to files or directories on a container's filesystem")
    p.add_argument("container", metavar="CONTAINER")
    p.set_defaults(func=cmd_diff)


def _run_flags(p: argparse.ArgumentParser, detach: bool) -> None:
    if detach:
        p.add_argument("-d", "--detach", action="store_true", help="Run container in background and print ID")
    add = p.add_argument
    # -h is --hostname, as in Docker, so help is --help only.
    add("--help", action="help", help="Show this help message and exit")
    add("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
    add("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    add("--name", default="", help="Assign a name to the container")
    add("--rm", action="store_true", help="Automatically remove the container when it exits")
    add("-e", "--env", action="append", default=[], help="Set environment variables")
    add("--env-file", action="append", default=[], help="Read in a file of environment variables")
    add("-w", "--workdir", default="", help="Working directory inside the container")
    add("-u", "--user", default="", help="Username or UID (format: <name|uid>[:<group|gid>])")
    add("-h", "--hostname", default="", help="Container host name")
    add("--entrypoint", default=None, help="Overwrite the default ENTRYPOINT of the image")
    add("-l", "--label", action="append", default=[], help="Set meta data on a container")
    add("-v", "--volume", action="append", default=[], help="Bind mount a volume (HOST:CTR[:ro] or NAME:CTR[:ro])")
    add("--network", "--net", default="bridge",
        help="Connect a container to a network (bridge, none, host, container:<name|id>, or a user network)")
    add("--ip", default="", help="IPv4 address (e.g., 172.30.100.104) on a user network")
    add("--add-host", action="append", default=[], help="Add a custom host-to-IP mapping (host:ip)")
    add("--dns", action="append", default=[], help="Set custom DNS servers")
    add("-p", "--publish", action="append", default=[], help="Publish a container's port(s) to the host "
        "([IP:][HOSTPORT:]CTRPORT[/tcp|udp])")
    add("-P", "--publish-all", action="store_true", help="Publish all exposed ports to random ports")
    add("--restart", default="no", help="Restart policy (no, on-failure[:N], always, unless-stopped)")
    add("--stop-signal", default="", help="Signal to stop the container")
    add("--stop-timeout", type=int, default=None, help="Timeout (in seconds) to stop a container")
    add("--read-only", action="store_true", help="Mount the container's root filesystem as read only")
    add("--tmpfs", action="append", default=[], help="Mount a tmpfs directory (PATH[:OPTIONS])")
    add("--log-opt", action="append", default=[], help="Log driver options (max-size=10m, max-file=3)")
    add("-m", "--memory", type=_bytes, default=0, help="Memory limit (e.g. 512m, 1g)")
    add("--cpus", type=float, default=0.0, help="Number of CPUs")
    add("--pids-limit", type=int, default=0, help="Tune container pids limit")
    add("--privileged", action="store_true", help="Give extended privileges to this container")
    add("--security-opt", action="append", default=[], help="Security Options (no-new-privileges, "
        "seccomp=unconfined|PROFILE.json, apparmor=..., label=...)")
    add("image", metavar="IMAGE")
    add("command", nargs=argparse.REMAINDER, metavar="COMMAND")
    p.set_defaults(func=cmd_run if detach else cmd_create)


def _ps_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display container IDs")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    p.add_argument("-n", "--last", type=int, default=-1, help="Show n last created containers (includes all states)")
    p.add_argument("-l", "--latest", action="store_true", help="Show the latest created container")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-f", "--filter", action="append", default=[], help="Filter output based on conditions")
    p.add_argument("--format", help="'json' (one JSON object per container), 'table TEMPLATE' or a Go template")
    p.set_defaults(func=cmd_ps)


# -- create / run ------------------------------------------------------------


def _read_env_file(path: str) -> list[str]:
    """Docker's --env-file: KEY=VALUE lines; a bare KEY takes the value from our environment."""
    import os

    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as err:
        raise InvalidArgument(f"open {path}: {err.strerror}") from err
    out = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" in line:
            out.append(line)
        elif line in os.environ:
            out.append(f"{line}={os.environ[line]}")
    return out


def _options(args: argparse.Namespace) -> Any:
    from engine import CreateOptions

    env = [e for path in args.env_file for e in _read_env_file(path)] + list(args.env)
    labels = dict((item.partition("=")[0], item.partition("=")[2]) for item in args.label)
    entrypoint = None if args.entrypoint is None else tuple(args.entrypoint.split()) if args.entrypoint else ()
    return CreateOptions(
        image=args.image, cmd=tuple(args.command) or None, entrypoint=entrypoint, name=args.name, env=tuple(env),
        workdir=args.workdir, user=args.user, hostname=args.hostname, labels=labels, binds=tuple(args.volume),
        network=args.network, auto_remove=args.rm, restart=args.restart, stop_signal=args.stop_signal,
        stop_timeout=args.stop_timeout, tty=args.tty, open_stdin=args.interactive, memory=args.memory,
        nano_cpus=int(args.cpus * 1e9), pids_limit=args.pids_limit,
        log_opts=dict((o.partition("=")[0], o.partition("=")[2]) for o in args.log_opt),
        read_only=args.read_only, tmpfs=tuple(args.tmpfs),
        ip=args.ip, add_hosts=tuple(args.add_host), dns=tuple(args.dns), publish=tuple(args.publish),
        publish_all=args.publish_all, security_opt=tuple(args.security_opt), privileged=args.privileged,
    )


def _bytes(text: str) -> int:
    from engine import parse_size

    try:
        return parse_size(text)
    except InvalidArgument as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _notices(engine: Engine) -> None:
    """What networking wants said once (a moved default subnet, no NAT tool)."""
    for notice in engine.network_notices():
        print(f"WARNING: {notice}", file=sys.stderr)


def cmd_create(engine: Engine, args: argparse.Namespace) -> int:
    cid = engine.container_create(_options(args))
    _notices(engine)
    print(cid)
    return 0


def cmd_run(engine: Engine, args: argparse.Namespace) -> int:
    from .. import terminal

    cid = engine.container_create(_options(args))
    _notices(engine)
    stdin = 0 if args.interactive and not args.detach and not args.tty else None
    attachment = terminal.start(engine, cid, args.rm, stdin=stdin, attach=not args.detach,
                                console_size=terminal.console_size() if args.tty else None)
    if attachment is None:
        print(cid)
        return 0
    return terminal.stream(attachment, args.interactive)


# -- start, stop, kill, restart, rm, wait ------------------------------------


def _each(names: list[str], action: Callable[[str], object], parallel: bool = False) -> int:
    """Apply ``action`` to every name, printing the name on success and Docker's error line otherwise."""
    results: dict[str, BaseException | None] = {}

    def one(name: str) -> None:
        try:
            action(name)
            results[name] = None
        except BerthError as err:
            results[name] = err

    if parallel and len(names) > 1:
        threads = [threading.Thread(target=one, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for name in names:
            one(name)
    status = 0
    for name in names:
        if results.get(name) is None:
            print(name)
        else:
            print(f"Error: {results[name]}", file=sys.stderr)
            status = 1
    return status


def cmd_start(engine: Engine, args: argparse.Namespace) -> int:
    if args.attach or args.interactive:
        from .. import terminal

        if len(args.containers) != 1:
            raise InvalidArgument("you cannot start and attach multiple containers at once")
        name = args.containers[0]
        tty = engine.container_inspect(name)["Config"].get("Tty")
        stdin = 0 if args.interactive and not tty else None
        attachment = engine.container_start(name, stdin=stdin, attach=True,
                                            console_size=terminal.console_size() if tty else None)
        return terminal.stream(attachment, args.interactive) if attachment is not None else 0
    return _each(args.containers, lambda n: engine.container_start(n))


def cmd_stop(engine: Engine, args: argparse.Namespace) -> int:
    return _each(args.containers, lambda n: engine.container_stop(n, timeout=args.time), parallel=True)


def cmd_restart(engine: Engine, args: argparse.Namespace) -> int:
    return _each(args.containers, lambda n: engine.container_restart(n, timeout=args.time), parallel=True)


def cmd_pause(engine: Engine, args: argparse.Namespace) -> int:
    return _each(args.containers, engine.container_pause)


def cmd_unpause(engine: Engine, args: argparse.Namespace) -> int:
    return _each(args.containers, engine.container_unpause)


def cmd_kill(engine: Engine, args: argparse.Namespace) -> int:
    return _each(args.containers, lambda n: engine.container_kill(n, signal=args.signal))


def cmd_rm(engine: Engine, args: argparse.Namespace) -> int:
    status = 0
    for name, err in zip(args.containers, engine.container_remove_many(args.containers, force=args.force,
                                                                       volumes=args.volumes), strict=True):
        if err is None:
            print(name)
        else:
            print(f"Error: {err}", file=sys.stderr)
            status = 1
    return status


def cmd_wait(engine: Engine, args: argparse.Namespace) -> int:
    status = 0
    for name in args.containers:
        try:
            print(engine.container_wait(name), flush=True)
        except BerthError as err:
            print(f"Error: {err}", file=sys.stderr)
            status = 1
    return status


# -- ps ----------------------------------------------------------------------


def _ps_cells(s: Any, no_trunc: bool) -> dict[str, str]:
    return {
        "ID": s.id if no_trunc else short_id(s.id), "Image": image_cell(s.image, no_trunc),
        "Command": command_cell(s.command, no_trunc), "RunningFor": since(s.created), "Status": container_status(s),
        "Ports": ports_text(s.ports), "Names": s.name,
    }


def cmd_ps(engine: Engine, args: argparse.Namespace) -> int:
    last = 1 if args.latest else args.last
    rows = engine.container_list(all=args.all, filters=args.filter, last=last, size=args.size)
    if args.quiet:
        for s in rows:
            print(s.id if args.no_trunc else short_id(s.id))
        return 0
    if args.format == "json":
        for s in rows:
            print(json.dumps(_ps_json(s, args), sort_keys=True, ensure_ascii=False))
        return 0
    if uses_template(args.format):
        write_rows(args.format, (container_row(s, args.no_trunc, args.size) for s in rows), CONTAINER_HEADERS)
        return 0
    header = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    keys = ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"]
    table = []
    for s in rows:
        cells = _ps_cells(s, args.no_trunc)
        table.append([cells[k] for k in keys] + ([container_size(s)] if args.size else []))
    print(tabulate(header + (["SIZE"] if args.size else []), table))
    return 0


def _ps_json(s: Any, args: argparse.Namespace) -> dict[str, str]:
    cells = _ps_cells(s, args.no_trunc)
    created = time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(s.created))
    cells.update(CreatedAt=created, Labels=",".join(f"{k}={v}" for k, v in s.labels.items()), LocalVolumes="0",
                 Mounts=",".join(s.mounts), Networks=",".join(s.networks), State=s.state,
                 Size=container_size(s) if args.size else "0B")
    return cells


# -- logs, exec, attach, cp, commit, diff, inspect ---------------------------

_RELATIVE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_time_arg(text: str, now: float | None = None) -> float:
    """``--since``/``--until``: RFC 3339, a Unix timestamp, or a duration ago (``42m``, ``1h30m``, ``10s``)."""
    if not text:
        return 0.0
    now = time.time() if now is None else now
    m = _RELATIVE.match(text)
    if m and any(m.groups()):
        hours, minutes, seconds = (float(g or 0) for g in m.groups())
        return now - (hours * 3600 + minutes * 60 + seconds)
    try:
        return float(text)
    except ValueError:
        pass
    from engine import parse_time

    stamp = parse_time(text if re.search(r"(Z|[+-]\d\d:\d\d)$", text) else text + "Z")
    if not stamp:
        raise InvalidArgument(f"invalid time value {text!r}: use RFC 3339, a Unix timestamp or a duration (42m)")
    return stamp


def cmd_logs(engine: Engine, args: argparse.Namespace) -> int:
    from ..terminal import write_chunks

    tail = -1 if args.tail == "all" else int(args.tail) if args.tail.lstrip("-").isdigit() else -2
    if tail == -2:
        raise InvalidArgument(f'invalid --tail value "{args.tail}": a number or "all"')
    chunks = engine.container_log_chunks(args.container, follow=args.follow, tail=tail,
                                         since=parse_time_arg(args.since), until=parse_time_arg(args.until),
                                         timestamps=args.timestamps)
    write_chunks(chunks, flush=args.follow)
    return 0


def cmd_exec(engine: Engine, args: argparse.Namespace) -> int:
    from ..terminal import nothing, raw_mode, real_fd

    sys.stdout.flush()
    stdin = 0 if args.interactive and not args.detach else None
    tty = args.tty and not args.detach
    with raw_mode(0) if tty and stdin is not None else nothing():
        return engine.container_exec(args.container, list(args.command), env=list(args.env), workdir=args.workdir,
                                     user=args.user, detach=args.detach, stdin=stdin, tty=tty,
                                     stdout=sys.stdout.fileno() if real_fd(sys.stdout) else None,
                                     stderr=sys.stderr.fileno() if real_fd(sys.stderr) else None)


def cmd_attach(engine: Engine, args: argparse.Namespace) -> int:
    from ..terminal import stream

    attachment = engine.container_attach(args.container)
    return stream(attachment, interactive=not args.no_stdin and attachment.terminal is not None)


def cmd_cp(engine: Engine, args: argparse.Namespace) -> int:
    """``-`` as SRC reads a tar from stdin, as DEST writes one to stdout."""
    engine.container_copy(args.source, args.dest, follow_link=args.follow_link, archive=args.archive,
                          stdin=sys.stdin.buffer, stdout=sys.stdout.buffer)
    sys.stdout.flush()
    return 0


def _bool_flag(text: str) -> bool:
    if text.lower() in ("1", "t", "true"):
        return True
    if text.lower() in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def cmd_commit(engine: Engine, args: argparse.Namespace) -> int:
    from engine import config_changes

    changes = config_changes(args.change) if args.change else None
    print(engine.container_commit(args.container, args.ref, message=args.message, author=args.author,
                                  changes=changes, pause=args.pause))
    return 0


def cmd_rename(engine: Engine, args: argparse.Namespace) -> int:
    engine.container_rename(args.container, args.new_name)
    return 0


def cmd_top(engine: Engine, args: argparse.Namespace) -> int:
    header, rows = engine.container_top(args.container, list(args.ps_args))
    print(tabulate(header, rows))
    return 0


def cmd_prune(engine: Engine, args: argparse.Namespace) -> int:
    if not args.force and not confirm("WARNING! This will remove all stopped containers."):
        return 0
    removed, reclaimed = engine.container_prune()
    print_deleted("Containers", removed)
    print(f"Total reclaimed space: {human_size(reclaimed)}")
    return 0


def cmd_diff(engine: Engine, args: argparse.Namespace) -> int:
    for change in engine.container_changes(args.container):
        print(f"{change.kind} {change.path}")
    return 0


def cmd_container_inspect(engine: Engine, args: argparse.Namespace) -> int:
    found, status = [], 0
    for name in args.names:
        try:
            found.append(engine.container_inspect(name, size=args.size))
        except BerthError as err:
            print(f"Error: {err}", file=sys.stderr)
            status = 1
    write_inspect(args.format, found)
    return status
