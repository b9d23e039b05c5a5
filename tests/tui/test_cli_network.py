"""The ``network`` and ``port`` verbs and the run flags of #6, through the real command line."""

from __future__ import annotations

import json
import socket
import time
import urllib.request

import pytest

from engine.network import naming
from tests.engine.containers_fixtures import cengine  # noqa: F401
from tests.engine.test_network import free_subnet, store_links

pytestmark = pytest.mark.usefixtures("cengine")  # busybox, and every container removed afterwards


def test_network_verbs_round_trip(engine, berth) -> None:  # type: ignore[no-untyped-def]
    subnet = free_subnet()
    status, out, err = berth("network", "create", "--subnet", subnet, "--label", "team=a", "front")
    assert status == 0, err
    nid = out.strip()
    assert len(nid) == 64
    out = berth("network", "ls")[1]
    assert out.splitlines()[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [ln.split()[1:] for ln in out.splitlines()[1:]] == [["front", "bridge", "local"], ["host", "host", "local"],
                                                               ["none", "null", "local"]]
    assert berth("network", "ls", "-q")[1].split()[0] == nid[:12]
    out = berth("network", "inspect", "front")[1]
    [obj] = json.loads(out)
    assert obj["IPAM"]["Config"] == [{"Subnet": subnet, "Gateway": subnet.replace(".0/24", ".1")}]
    assert obj["Labels"] == {"team": "a"} and obj["Containers"] == {} and "Leases" not in obj
    assert berth("run", "-d", "--network", "front", "--name", "member", "busybox", "sleep", "60")[0] == 0
    status, _, err = berth("network", "rm", "front")
    assert status == 1 and "has active endpoints" in err
    assert berth("rm", "-f", "member")[0] == 0
    assert berth("network", "rm", "front") == (0, "front\n", "")
    assert berth("network", "inspect", "front")[0] == 1
    assert berth("network", "create", "--subnet", subnet, "spare")[0] == 0
    assert berth("network", "prune", "-f") == (0, "Deleted Networks:\nspare\n", "")


def test_network_bad_input_is_one_error_line(engine, berth) -> None:  # type: ignore[no-untyped-def]
    subnet = free_subnet()
    cases = [
        (("network", "create", "--subnet", "10.1.2.3/33", "x"), 1),
        (("network", "create", "bad name!"), 1),
        (("network", "create", "--driver", "overlay", "x"), 1),
        (("network", "create", "host"), 1),
        (("network", "rm", "bridge"), 1),
        (("network", "connect", "nosuch", "nosuch"), 1),
        (("run", "--rm", "-p", "99999:80", "busybox", "true"), 1),
        (("run", "--rm", "--add-host", "nohostip", "busybox", "true"), 1),
        (("run", "--rm", "--dns", "not-an-ip", "busybox", "true"), 1),
        (("run", "--rm", "--ip", "10.0.0.5", "busybox", "true"), 1),
        (("run", "--rm", "--network", "container:nosuch", "busybox", "true"), 1),
        (("port", "nosuch"), 1),
    ]
    assert berth("network", "create", "--subnet", subnet, "taken")[0] == 0
    cases.append((("network", "create", "--subnet", subnet, "clash"), 1))
    for argv, code in cases:
        status, _, err = berth(*argv)
        assert status == code, (argv, err)
        assert err.startswith("Error: ") and err.count("\n") == 1 and "Traceback" not in err, (argv, err)


def test_published_port_in_ps_port_and_inspect(engine, berth) -> None:  # type: ignore[no-untyped-def]
    status, _, err = berth("run", "-d", "--name", "web", "-p", "127.0.0.1::80", "busybox", "sh", "-c",
                             "mkdir /w && echo ok > /w/index.html && exec httpd -f -p 80 -h /w")
    assert status == 0, err
    out = berth("port", "web")[1]
    key, _, hostport = out.strip().partition(" -> ")
    assert key == "80/tcp" and hostport.startswith("127.0.0.1:")
    assert berth("port", "web", "80")[1].strip() == hostport
    assert berth("port", "web", "81")[0] == 1
    row = next(ln for ln in berth("ps")[1].splitlines() if ln.endswith(" web"))
    assert f"{hostport}->80/tcp" in row
    [obj] = json.loads(berth("inspect", "web")[1])
    assert obj["NetworkSettings"]["Ports"]["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": hostport.split(":")[1]}]
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://{hostport}/", timeout=5) as response:
                assert response.read() == b"ok\n"
            break
        except OSError:
            time.sleep(0.05)
    else:
        raise AssertionError("published port never answered")


def test_port_taken_fails_run_with_docker_message(engine, berth) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        status, _, err = berth("run", "--rm", "-p", f"127.0.0.1:{port}:80", "busybox", "true")
    assert status == 125
    assert err == (f"Error: driver failed programming external connectivity: Bind for 127.0.0.1:{port} failed: "
                   "port is already allocated\n")
    assert berth("ps", "-aq")[1] == ""


def test_network_none_shows_only_lo_and_default_is_bridge(engine, berth) -> None:  # type: ignore[no-untyped-def]
    assert berth("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net") == (0, "lo\n", "")
    status, out, _ = berth("run", "--rm", "busybox", "ls", "/sys/class/net")
    assert (status, out) == (0, "eth0\nlo\n")
    bridge = naming.default_bridge_name(engine.root)
    assert bridge in store_links(engine.root)


def test_pyroute2_is_imported_only_where_networks_are_made(engine, berth) -> None:  # type: ignore[no-untyped-def]
    """~150 ms of import: ``images``, ``ps`` and a ``create`` on an existing network never pay it."""
    import subprocess
    import sys

    assert berth("create", "busybox", "true")[0] == 0  # makes the default network (this process may import it)
    probe = ("import sys; from tui.cli import main; code = main(sys.argv[1:]); "
             "print(code, 'pyroute2' in sys.modules)")
    for argv in (["images"], ["ps", "-a"], ["create", "busybox", "true"], ["network", "ls"]):
        done = subprocess.run([sys.executable, "-c", probe, "--root", engine.root, *argv], capture_output=True,
                              text=True, check=False, timeout=60)
        assert done.stdout.splitlines()[-1] == "0 False", (argv, done.stdout, done.stderr)


def test_ps_filters_by_network_and_published_port(engine, berth) -> None:  # type: ignore[no-untyped-def]
    assert berth("network", "create", "--subnet", free_subnet(), "side")[0] == 0
    assert berth("run", "-d", "--name", "on-side", "--network", "side", "busybox", "sleep", "60")[0] == 0
    assert berth("run", "-d", "--name", "pub", "-p", "127.0.0.1::7070", "busybox", "sleep", "60")[0] == 0
    assert berth("ps", "--format", "json", "-f", "network=side")[1].count("on-side") == 1
    names = [json.loads(line)["Names"]
             for line in berth("ps", "--format", "json", "-f", "publish=7070")[1].splitlines()]
    assert names == ["pub"]
    assert berth("ps", "-q", "-f", "publish=7071")[1] == ""
