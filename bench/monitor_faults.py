#!/usr/bin/env python3
"""The monitor's figures for issue 14: restarts in 10 s, a killed monitor's comeback, N containers under a low
soft fd limit, and what each container costs the monitor and the keeper (RSS, fds).

Not a test: run as root, ``python3 bench/monitor_faults.py [--count 1000] [--soft 1024] [--hard 524288]``.
It uses a temporary store under /tmp and removes it (and every container it made) at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from engine import Engine  # noqa: E402
from engine.containers import CreateOptions  # noqa: E402


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def keeper_of(engine: Engine) -> int:
    with open(engine.paths.monitor_file("monitor.lock"), encoding="ascii") as f:
        return int(f.read().strip())


def monitor_of(engine: Engine) -> int | None:
    keeper = keeper_of(engine)
    with open(f"/proc/{keeper}/task/{keeper}/children", encoding="ascii") as f:
        for pid in map(int, f.read().split()):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as g:
                    if b"engine.containers.monitor" in g.read():
                        return pid
            except OSError:
                continue
    return None


def start(engine: Engine, *cmd: str, **kw: object) -> str:
    cid = engine.container_create(CreateOptions(image="busybox", cmd=cmd, network="none", **kw))  # type: ignore[arg-type]
    engine.container_start(cid)
    return cid


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--soft", type=int, default=1024)
    parser.add_argument("--hard", type=int, default=524288)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="berth-bench-monitor-")
    engine = Engine(os.path.join(root, "store"))
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.soft, args.hard))  # what the keeper and monitor inherit
    except ValueError:  # no CAP_SYS_RESOURCE here: the hard limit we have
        args.hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.soft, args.hard))
    try:
        engine.image_bootstrap("busybox:latest")
        flapping = start(engine, "false", restart="always")
        t0 = time.monotonic()
        time.sleep(10.0)
        print(f"restart always false: {engine.store.records.load(flapping).get('RestartCount', 0)} restarts "
              f"in {time.monotonic() - t0:.1f} s (Docker: 100 ms doubling -> 6 by 6.3 s, the 7th at 12.7 s)")
        engine.container_remove(flapping, force=True)

        base = start(engine, "sleep", "3600")
        time.sleep(0.5)
        keeper, monitor = keeper_of(engine), monitor_of(engine)
        assert monitor
        before = {"monitor": (rss_kib(monitor), fds(monitor)), "keeper": (rss_kib(keeper), fds(keeper))}
        t0 = time.monotonic()
        cids = [base]
        failed = 0
        for _ in range(args.count - 1):
            try:
                cids.append(start(engine, "sleep", "3600"))
            except Exception as err:  # noqa: BLE001 - a figure, not a test: count and go on
                failed += 1
                if failed < 3:
                    print(f"start failed: {err}")
        took = time.monotonic() - t0
        time.sleep(1.0)
        running = sum(1 for c in cids if engine.store.records.load(c)["State"]["Running"])
        n = len(cids) - 1
        print(f"{running} containers running under ulimit -Sn {args.soft} -Hn {args.hard} "
              f"({failed} failed; {took / max(n, 1) * 1000:.0f} ms per start)")
        for name, pid in (("monitor", monitor), ("keeper", keeper)):
            rss0, fd0 = before[name]
            rss1, fd1 = rss_kib(pid), fds(pid)
            print(f"{name}: RSS {rss0} -> {rss1} KiB ({(rss1 - rss0) / max(n, 1):.1f} KiB per container), "
                  f"fds {fd0} -> {fd1} ({(fd1 - fd0) / max(n, 1):.2f} per container)")

        t0 = time.monotonic()
        os.kill(monitor, signal.SIGKILL)
        while True:
            new = monitor_of(engine)
            if new and new != monitor and os.path.exists(engine.paths.monitor_file("monitor.sock")):
                try:
                    from engine.containers.client import MonitorClient

                    with MonitorClient(engine.store).request({"op": "ping"}) as channel:
                        reply = channel.reply()
                    if reply and reply.get("pid") == new:
                        break
                except Exception:  # noqa: BLE001 - still starting
                    pass
            time.sleep(0.01)
        print(f"kill -9 of the monitor with {running} containers: a new one answers after "
              f"{time.monotonic() - t0:.2f} s; running {reply.get('running')}")
    finally:
        try:
            os.kill(keeper_of(engine), signal.SIGKILL)  # its containers die with it
        except (OSError, ValueError):
            pass
        from engine.containers.recovery import monitor_alive

        while monitor_alive(engine.store):  # then rm finds stale records, and starts no new keeper to wait on them
            time.sleep(0.05)
        engine.container_remove_many([c.id for c in engine.container_list(all=True)], force=True)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
