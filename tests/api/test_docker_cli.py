"""The docker CLI (Debian's docker.io 20.10 at /usr/bin/docker, as CI installs it) against berth's socket."""

from __future__ import annotations

import os
import subprocess

import pytest

from . import conftest

DOCKER = "/usr/bin/docker"
NEWER = "/usr/local/bin/docker"
"""A newer CLI when the machine has one (28 here): run through the hijacked attach with it too."""

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(not os.access(DOCKER, os.X_OK), reason=f"no docker CLI at {DOCKER}")]


def docker(server: conftest.Server, *argv: str, binary: str = DOCKER, stdin: str | None = None,
           check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent",
           "DOCKER_HOST": server.url, "DOCKER_CONFIG": os.path.dirname(server.socket)}
    done = subprocess.run([binary, *argv], env=env, input=stdin, capture_output=True, text=True, timeout=60,
                          check=False)
    if check:
        assert done.returncode == 0, f"docker {' '.join(argv)}: {done.returncode}\n{done.stdout}{done.stderr}"
    return done


def test_version(server: conftest.Server) -> None:
    out = docker(server, "version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}}")
    assert out.stdout.split() == ["1.51", "1.24", "linux"]


@pytest.mark.parametrize("binary", [DOCKER, NEWER])
def test_run_rm_prints_through_attach(server: conftest.Server, binary: str) -> None:
    if not os.access(binary, os.X_OK):
        pytest.skip(f"no docker CLI at {binary}")
    done = docker(server, "run", "--rm", "busybox", "echo", "hi", binary=binary)
    assert done.stdout == "hi\n"
    failed = docker(server, "run", "--rm", "busybox", "sh", "-c", "echo oops >&2; exit 3", binary=binary, check=False)
    assert (failed.returncode, failed.stdout, failed.stderr) == (3, "", "oops\n")
    assert server.engine.container_list(all=True) == []  # --rm: wait?condition=removed held until it went


def test_run_interactive_reads_stdin(server: conftest.Server) -> None:
    assert docker(server, "run", "-i", "--rm", "busybox", "tr", "a-z", "A-Z", stdin="hello\n").stdout == "HELLO\n"


def test_ps_logs_inspect_rm(server: conftest.Server) -> None:
    cid = docker(server, "run", "-d", "--name", "web", "-l", "tier=front", "busybox", "sh", "-c",
                 "echo one; echo two >&2; sleep 60").stdout.strip()
    assert len(cid) == 64
    ps = docker(server, "ps", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.Status}}").stdout.split("\n")[0]
    assert ps.startswith(f"{cid[:12]} web busybox Up ")
    logs = docker(server, "logs", "web")
    assert (logs.stdout, logs.stderr) == ("one\n", "two\n")
    inspect = docker(server, "inspect", "-f", "{{.State.Status}} {{index .Config.Labels \"tier\"}}", "web")
    assert inspect.stdout == "running front\n"
    assert docker(server, "inspect", "-f", "{{.Id}}", "busybox").stdout.startswith("sha256:")  # falls to images
    docker(server, "stop", "-t", "1", "web")
    assert "Exited (" in docker(server, "ps", "-a", "--format", "{{.Status}}").stdout
    assert docker(server, "rm", "-f", "web").stdout == "web\n"
    assert docker(server, "ps", "-a", "-q").stdout == ""
    missing = docker(server, "logs", "web", check=False)
    assert missing.returncode == 1 and "No such container: web" in missing.stderr


def test_images_and_tag(server: conftest.Server) -> None:
    docker(server, "tag", "busybox", "mybox:v1")
    rows = docker(server, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert sorted(rows) == ["busybox:latest", "mybox:v1"]
    assert "Untagged: mybox:v1" in docker(server, "rmi", "mybox:v1").stdout
