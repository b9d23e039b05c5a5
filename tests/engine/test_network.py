"""Bridge networking on real bridges, veths and namespaces: addresses, names, modes, published ports, no leaks.

Traffic goes only between this machine and containers on the test store's own
bridges (or 127.0.0.1); every kernel object the store made is checked gone at
teardown, after the store's own cleanup has run.
"""

from __future__ import annotations

import ipaddress
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from engine.containers import CreateOptions
from engine.errors import (
    BerthError,
    ContainerConflict,
    ContainerStartError,
    InvalidArgument,
)
from engine.network import masquerade, naming, netns
from engine.network.etcfiles import hosts_file, resolv_conf
from engine.network.ports import (
    parse_publish_ranges,
    port_bindings,
)
from engine.network.subnets import host_subnets, overlaps, pick_subnet
from tests.engine.containers_fixtures import clean_containers, run, start_d, stop_monitor


def store_links(root: str) -> list[str]:
    """Interfaces this store made: bridges tagged with its root, and veths of its containers."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        links = ipr.get_links()
    mine = []
    for link in links:
        if (link.get("ifalias") or "") == "berth:" + root:
            mine.append(link.get("ifname"))
    return mine


def veths_of(cids: list[str]) -> list[str]:
    names = os.listdir("/sys/class/net")
    return [n for n in names for cid in cids if n.startswith("vb" + cid[:7])]


def nat_rules_exist(root: str) -> bool:
    """The store's nft table (or iptables chain)."""
    return masquerade.rules_present(root)


def free_subnet() -> str:
    """A /24 in 10.200-250 that nothing on the host routes."""
    used = host_subnets()
    for _ in range(200):
        net = ipaddress.IPv4Network(f"10.{random.randint(200, 250)}.{random.randint(0, 255)}.0/24")
        if overlaps(net, used) is None:
            return str(net)
    raise AssertionError("no free test subnet")


@pytest.fixture
def nengine(engine) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """busybox on a fresh store; afterwards no container, bridge, veth, netns or NAT table of the store remains."""
    engine.image_bootstrap("busybox:latest")
    cids: list[str] = []
    try:
        yield engine
    finally:
        cids = [s.id for s in engine.container_list(all=True)]
        clean_containers(engine)
        left_netns = os.listdir(naming.netns_dir(engine.root)) if os.path.isdir(naming.netns_dir(engine.root)) else []
        engine.network_teardown()
        assert not left_netns, f"containers' removal left netns mounts: {left_netns}"
        assert store_links(engine.root) == []
        _wait_for(lambda: veths_of(cids) == [])  # the kernel frees a dead namespace's veths a moment later
        assert not nat_rules_exist(engine.root)


def ip_of(engine, cid: str, network: str = "bridge") -> str:  # type: ignore[no-untyped-def]
    return engine.container_inspect(cid)["NetworkSettings"]["Networks"][network]["IPAddress"]


HTTPD = "mkdir -p /www && echo served-by-$(hostname) > /www/index.html && exec httpd -f -p {port} -h /www"


# -- pure parts ------------------------------------------------------------------


def test_publish_specs_parse_as_docker_does() -> None:
    assert parse_publish_ranges("8080:80") == [("80/tcp", {"HostIp": "", "HostPort": "8080"})]
    assert parse_publish_ranges("127.0.0.1:8080:80/udp") == [("80/udp", {"HostIp": "127.0.0.1", "HostPort": "8080"})]
    assert parse_publish_ranges("127.0.0.1::80") == [("80/tcp", {"HostIp": "127.0.0.1", "HostPort": ""})]
    assert parse_publish_ranges("80") == [("80/tcp", {"HostIp": "", "HostPort": ""})]
    for bad in ("abc", "0", "70000", "1:2:3:4", "80/sctp", "x.y:80:80"):
        with pytest.raises(InvalidArgument):
            parse_publish_ranges(bad)
    assert parse_publish_ranges("127.0.0.1:8000-8001:80-81/udp") == [
        ("80/udp", {"HostIp": "127.0.0.1", "HostPort": "8000"}),
        ("81/udp", {"HostIp": "127.0.0.1", "HostPort": "8001"})]
    assert [k for k, _ in parse_publish_ranges("80-82")] == ["80/tcp", "81/tcp", "82/tcp"]
    for bad in ("82-80", "8000-8002:80", "8000-8001:80-82", "0-5"):
        with pytest.raises(InvalidArgument):
            parse_publish_ranges(bad)
    assert port_bindings(["8080:80"], True, {"443/tcp": {}, "53/udp": {}}) == {
        "80/tcp": [{"HostIp": "", "HostPort": "8080"}], "443/tcp": [{"HostIp": "", "HostPort": ""}],
        "53/udp": [{"HostIp": "", "HostPort": ""}]}


def test_resolv_conf_drops_loopback_and_falls_back_like_docker() -> None:
    host = "search example.org\nnameserver 127.0.0.53\nnameserver ::1\noptions edns0\n"
    assert resolv_conf(host) == "search example.org\noptions edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"
    assert resolv_conf("nameserver 127.0.0.1\nnameserver 192.0.2.53\n") == "nameserver 192.0.2.53\n"
    assert resolv_conf("nameserver 192.0.2.53\n", dns=["198.51.100.1"]) == "nameserver 198.51.100.1\n"
    with pytest.raises(InvalidArgument):
        resolv_conf("", dns=["not-an-ip"])


def test_hosts_file_lists_own_names_extra_hosts_and_peers() -> None:
    text = hosts_file([("10.1.0.2", ["abc123", "web"])], ["db:10.1.0.9"], [("10.1.0.3", ["peer", "def456"])])
    assert text.startswith("127.0.0.1\tlocalhost\n")
    assert text.endswith("10.1.0.9\tdb\n10.1.0.2\tabc123 web\n10.1.0.3\tpeer def456\n")


def test_subnet_choice_skips_what_the_host_routes() -> None:
    assert str(pick_subnet([])) == "10.88.0.0/16"
    assert str(pick_subnet([ipaddress.IPv4Network("10.88.3.0/24")])) == "10.89.0.0/16"
    assert str(pick_subnet([ipaddress.IPv4Network("10.0.0.0/8")])) == "172.17.0.0/16"


def test_store_names_fit_the_kernel_and_differ_per_store() -> None:
    assert naming.default_bridge_name("/var/lib/berth") == "berth0"
    a, b = naming.default_bridge_name("/tmp/a"), naming.default_bridge_name("/tmp/b")
    assert a != b and len(a) <= 15 and a.startswith("bt")
    assert len(naming.host_veth_name("f" * 64, "e" * 64)) <= 15


# -- the default bridge -------------------------------------------------------------


def test_default_bridge_gives_address_route_hosts_and_resolv(nengine) -> None:  # type: ignore[no-untyped-def]
    cid, code, text = run(nengine, "sh", "-c", "ip -o -4 addr show eth0; ip route; cat /etc/hosts /etc/resolv.conf",
                          network="bridge", name="first")
    assert code == 0, text
    ip = ip_of(nengine, cid)
    rec = nengine.network_inspect("bridge")
    subnet = ipaddress.IPv4Network(rec["IPAM"]["Config"][0]["Subnet"])
    assert ipaddress.IPv4Address(ip) in subnet
    assert f"inet {ip}/{subnet.prefixlen}" in text
    assert f"default via {rec['IPAM']['Config'][0]['Gateway']} dev eth0" in text
    assert f"{ip}\t{cid[:12]} first\n" in text
    nameservers = [ln.split()[1] for ln in text.splitlines() if ln.startswith("nameserver")]
    assert nameservers and not any(ipaddress.ip_address(n).is_loopback for n in nameservers)
    # Exited: no namespace, no veth; the lease stays until rm.
    assert not os.path.exists(naming.netns_path(nengine.root, cid))
    _wait_for(lambda: veths_of([cid]) == [])
    assert nengine.container_inspect(cid)["NetworkSettings"]["SandboxKey"] == ""
    # The store's own bridge, tagged with the store, and its NAT rule.
    assert rec["Options"]["com.docker.network.bridge.name"] in store_links(nengine.root)
    assert nat_rules_exist(nengine.root) == bool(masquerade.tool())  # none on a host with neither tool


def test_two_containers_on_the_bridge_reach_each_other(nengine) -> None:  # type: ignore[no-untyped-def]
    srv = start_d(nengine, "sh", "-c", HTTPD.format(port=8000), network="bridge", name="srv")
    ip = ip_of(nengine, srv)
    _, code, text = run(nengine, "sh", "-c", f"ping -c1 -W2 {ip} >/dev/null && wget -qO- http://{ip}:8000/",
                        network="bridge")
    assert (code, text) == (0, f"served-by-{srv[:12]}\n")
    _, code, text = run(nengine, "sh", "-c", f"echo via-nc | nc -w 2 {ip} 8000 | head -1", network="bridge")
    assert "HTTP/1" in text


def test_host_reaches_container_and_rm_f_leaves_nothing(nengine) -> None:  # type: ignore[no-untyped-def]
    srv = start_d(nengine, "sh", "-c", HTTPD.format(port=8000), network="bridge")
    ip = ip_of(nengine, srv)
    body = _fetch(f"http://{ip}:8000/")
    assert body == f"served-by-{srv[:12]}\n"
    assert netns.exists(naming.netns_path(nengine.root, srv))
    assert veths_of([srv])
    nengine.container_remove(srv, force=True)
    assert not os.path.exists(naming.netns_path(nengine.root, srv))
    _wait_for(lambda: veths_of([srv]) == [])
    assert all(srv not in rec.get("Leases", {}).values() for rec in nengine.network_list())


def test_monitor_killed_leaves_no_namespace_or_veth(nengine) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(nengine, "sleep", "60", network="bridge")
    assert veths_of([cid])
    stop_monitor(nengine)
    nengine.container_list(all=True)  # the next command reconciles
    assert not os.path.exists(naming.netns_path(nengine.root, cid))
    assert nengine.container_inspect(cid)["NetworkSettings"]["SandboxKey"] == ""
    _wait_for(lambda: veths_of([cid]) == [])


def test_modes_none_host_and_container(nengine) -> None:  # type: ignore[no-untyped-def]
    _, code, text = run(nengine, "sh", "-c", "ls /sys/class/net", network="none")
    assert (code, text) == (0, "lo\n")
    _, code, text = run(nengine, "sh", "-c", "ls /sys/class/net", network="host")
    assert sorted(text.split()) == sorted(os.listdir("/sys/class/net")) or "eth0" in text.split()
    srv = start_d(nengine, "sh", "-c", HTTPD.format(port=8001), network="bridge", name="base")
    _, code, text = run(nengine, "wget", "-qO-", "http://127.0.0.1:8001/", network="container:base")
    assert (code, text) == (0, f"served-by-{srv[:12]}\n")
    with pytest.raises(InvalidArgument):
        nengine.container_create(CreateOptions(image="busybox", network="container:base", publish=("80",)))
    stopped = nengine.container_create(CreateOptions(image="busybox", cmd=("true",), network="none"))
    joiner = nengine.container_create(CreateOptions(image="busybox", cmd=("true",), network=f"container:{stopped}"))
    with pytest.raises(BerthError, match="non running container"):
        nengine.container_start(joiner)


def test_ip_hostname_add_host_and_dns(nengine) -> None:  # type: ignore[no-untyped-def]
    subnet = free_subnet()
    nengine.network_create("fixed", subnet=subnet)
    want = str(ipaddress.IPv4Network(subnet)[77])
    cid, code, text = run(nengine, "sh", "-c", "ip -o -4 addr show eth0; hostname; cat /etc/hosts /etc/resolv.conf",
                          network="fixed", ip=want, hostname="box", add_hosts=("db.local:192.0.2.10",),
                          dns=("192.0.2.53",))
    assert code == 0, text
    assert f"inet {want}/24" in text
    assert "\nbox\n" in text
    assert "192.0.2.10\tdb.local\n" in text and f"{want}\tbox " in text
    assert [ln for ln in text.splitlines() if ln.startswith("nameserver")] == ["nameserver 192.0.2.53"]
    with pytest.raises(ContainerConflict, match="Address already in use"):
        nengine.container_create(CreateOptions(image="busybox", network="fixed", ip=want))
    with pytest.raises(InvalidArgument):
        nengine.container_create(CreateOptions(image="busybox", network="bridge", ip=want))
    with pytest.raises(InvalidArgument):
        nengine.container_create(CreateOptions(image="busybox", add_hosts=("nocolon",)))
    nengine.container_remove(cid)
    assert nengine.network_inspect("fixed")["Containers"] == {}


# -- user networks ------------------------------------------------------------------


def test_user_network_names_connect_disconnect_and_rm(nengine) -> None:  # type: ignore[no-untyped-def]
    nid = nengine.network_create("appnet", subnet=free_subnet())
    with pytest.raises(ContainerConflict):
        nengine.network_create("appnet")
    srv = start_d(nengine, "sh", "-c", HTTPD.format(port=8000), network="appnet", name="api")
    _, code, text = run(nengine, "wget", "-qO-", "http://api:8000/", network="appnet", name="client")
    assert (code, text) == (0, f"served-by-{srv[:12]}\n")
    # The server's /etc/hosts learnt the client's name when it was created.
    _, _, hosts = run(nengine, "cat", "/etc/hosts", network="appnet")
    assert "api " in hosts and "client " in hosts
    # Another container on the default bridge cannot resolve "api" until it is connected.
    other = start_d(nengine, "sleep", "60", network="bridge", name="late")
    nengine.network_connect("appnet", "late")
    out = _exec(nengine, other, "sh", "-c", "ip -o -4 addr show eth1 && wget -qO- http://api:8000/")
    assert f"served-by-{srv[:12]}" in out
    nengine.network_disconnect("appnet", "late")
    assert "eth1" not in _exec(nengine, other, "ls", "/sys/class/net")
    with pytest.raises(ContainerConflict, match="active endpoints"):
        nengine.network_remove("appnet")
    inspected = nengine.network_inspect(nid[:12])
    assert {"api", "client"} <= {c["Name"] for c in inspected["Containers"].values()}
    bridge = inspected["Options"]["com.docker.network.bridge.name"]
    for cid in list(inspected["Containers"]):
        nengine.container_remove(cid, force=True)
    assert nengine.network_remove("appnet") == "appnet"
    assert not os.path.exists(f"/sys/class/net/{bridge}")
    nengine.network_create("spare", subnet=free_subnet())
    assert nengine.network_prune() == ["spare"]


@pytest.mark.parametrize("network", ["bridge", "crowd"])
def test_twenty_parallel_creates_get_distinct_addresses(nengine, network) -> None:  # type: ignore[no-untyped-def]
    """20 ``create`` processes at once: on a fresh store (all racing to make the default bridge) and a user net."""
    if network == "crowd":
        nengine.network_create("crowd", subnet=free_subnet())
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    procs = [subprocess.Popen([sys.executable, "-m", "tui.cli", "--root", nengine.root, "create", "--network",
                               network, "busybox", "true"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
             for _ in range(20)]
    cids = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        cids.append(out.decode().strip())
    ips = [ip_of(nengine, cid, network) for cid in cids]
    assert len(set(ips)) == 20
    leases = nengine.network_inspect(network)["Containers"]
    assert sorted(c["IPv4Address"].split("/")[0] for c in leases.values()) == sorted(ips)
    assert [n["Name"] for n in nengine.network_list()].count(network) == 1
    assert len(store_links(nengine.root)) == 1
    for cid in cids:
        nengine.container_remove(cid)
    assert nengine.network_inspect(network)["Containers"] == {}


# -- published ports ----------------------------------------------------------------


def test_published_tcp_port_on_localhost_survives_the_command(nengine) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    done = subprocess.run([sys.executable, "-m", "tui.cli", "--root", nengine.root, "run", "-d", "--name", "web",
                           "-p", "127.0.0.1::80", "busybox", "sh", "-c", HTTPD.format(port=80)],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    cid = done.stdout.strip()
    ports = nengine.container_ports("web")
    [binding] = ports["80/tcp"]
    assert binding["HostIp"] == "127.0.0.1" and int(binding["HostPort"]) > 0
    url = f"http://127.0.0.1:{binding['HostPort']}/"
    assert _fetch(url) == f"served-by-{cid[:12]}\n"
    # Many connections at once, each answered in full.
    results: list[str] = []
    workers = [threading.Thread(target=lambda: results.append(_fetch(url))) for _ in range(10)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert results == [f"served-by-{cid[:12]}\n"] * 10
    inspected = nengine.container_inspect("web")
    assert inspected["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
    assert inspected["NetworkSettings"]["Ports"] == ports
    nengine.container_stop("web", timeout=1)
    with pytest.raises(OSError):
        _fetch(url, timeout=1)
    assert nengine.container_ports("web") == {}


def test_published_udp_port(nengine) -> None:  # type: ignore[no-untyped-def]
    """busybox has no UDP server: a host python echo server inside the container's netns stands in for one."""
    cid = start_d(nengine, "sleep", "60", network="bridge", publish=("127.0.0.1::5353/udp",))
    port = int(nengine.container_ports(cid)["5353/udp"][0]["HostPort"])
    pid = str(nengine.container_inspect(cid)["State"]["Pid"])
    echo = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 5353)); "
            "print('ready', flush=True)\nwhile True:\n d, a = s.recvfrom(100); s.sendto(d.upper(), a)")
    server = subprocess.Popen(["nsenter", "-t", pid, "-n", sys.executable, "-c", echo], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert server.stdout is not None and server.stdout.readline() == "ready\n"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            sock.sendto(b"ping-over-udp", ("127.0.0.1", port))
            assert sock.recvfrom(100)[0] == b"PING-OVER-UDP"
    finally:
        server.kill()
        server.wait()


def test_port_taken_is_a_clear_error_and_nothing_runs(nengine) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        cid = nengine.container_create(CreateOptions(image="busybox", cmd=("sleep", "60"),
                                                     publish=(f"127.0.0.1:{port}:80",)))
        with pytest.raises(ContainerStartError, match="port is already allocated"):
            nengine.container_start(cid)
    assert not nengine.container_inspect(cid)["State"]["Running"]
    assert not os.path.exists(naming.netns_path(nengine.root, cid))
    _wait_for(lambda: veths_of([cid]) == [])


def test_publish_all_uses_exposed_ports(nengine) -> None:  # type: ignore[no-untyped-def]
    cid = start_d(nengine, "sleep", "60", publish=("127.0.0.1::7000",), publish_all=True)
    config = nengine.container_inspect(cid)
    assert config["Config"]["ExposedPorts"] == {"7000/tcp": {}}
    assert list(nengine.container_ports(cid)) == ["7000/tcp"]


# -- helpers ---------------------------------------------------------------------------


def _fetch(url: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _exec(engine, cid: str, *argv: str) -> str:  # type: ignore[no-untyped-def]
    """Output of a command in the container's mount and network namespaces and its root (``-r``: where the
    suite runs in a chroot, the mount namespace alone is the host's tree); ``cat`` may fail."""
    pid = str(engine.container_inspect(cid)["State"]["Pid"])
    done = subprocess.run(["nsenter", "-t", pid, "-n", "-m", "-r", "-w", "--", *argv], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0 or argv[0] == "cat", done.stdout + done.stderr
    return done.stdout


def _wait_for(check, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)



def test_system_check_finds_and_repairs_network_leftovers(nengine) -> None:  # type: ignore[no-untyped-def]
    from engine.network.networks import NetworkStore

    cid = start_d(nengine, "sleep", "60", name="keeper")
    # A crash between "lease taken" and "container recorded", and a netns file whose container is gone.
    store = NetworkStore(nengine.paths)
    ghost = "ab" * 32
    store.allocate(nengine.network_inspect("bridge")["Id"], ghost)
    stale = naming.netns_path(nengine.root, "cd" * 32)
    with open(stale, "w"):
        pass
    os.utime(stale, (time.time() - 60, time.time() - 60))
    kinds = {(p.kind, p.path) for p in nengine.system_check().problems}
    assert ("stale netns", stale) in kinds
    assert any(kind == "orphan address lease" for kind, _ in kinds)
    report = nengine.system_check(repair=True)
    assert report.ok, report.problems
    assert not os.path.exists(stale)
    assert ghost not in nengine.network_list()[0]["Leases"].values()
    # The live container's namespace and lease were left alone.
    assert netns.exists(naming.netns_path(nengine.root, cid))
    assert cid in nengine.network_inspect("bridge")["Containers"]


def test_without_nft_or_iptables_nat_is_skipped_not_failed(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", str(tmp_path))  # a fresh Debian 12 has neither tool
    assert masquerade.tool() == ""
    assert masquerade.apply(str(tmp_path), [("10.99.0.0/16", "btnothing")]) is False
    assert not masquerade.rules_present(str(tmp_path))


def test_nat_rules_come_back_after_a_flush(nengine) -> None:  # type: ignore[no-untyped-def]
    """A reboot (here: deleting the table) loses the rules; the next monitor's first start restores them."""
    if not masquerade.tool():
        pytest.skip("neither nft nor iptables is installed")
    run(nengine, "true")
    assert nat_rules_exist(nengine.root)
    masquerade.remove(nengine.root)
    assert not nat_rules_exist(nengine.root)
    stop_monitor(nengine)
    run(nengine, "true")
    assert nat_rules_exist(nengine.root)


def test_system_check_removes_a_bridge_no_network_owns(nengine) -> None:  # type: ignore[no-untyped-def]
    """A crash between "bridge made" and "network recorded" (or the reverse on rm) leaves a tagged bridge."""
    from engine.network import links

    nengine.network_create("real", subnet=free_subnet())
    orphan = f"bto{random.getrandbits(32):08x}"
    links.ensure_bridge(orphan, f"{ipaddress.IPv4Network(free_subnet())[1]}/24", nengine.root)
    found = [(p.kind, p.path) for p in nengine.system_check().problems]
    assert found == [("orphan bridge", orphan)]
    assert nengine.system_check(repair=True).ok
    assert orphan not in store_links(nengine.root)
    assert len(store_links(nengine.root)) == 1  # the real network's bridge stays


def test_default_subnet_is_configurable_before_first_use(nengine) -> None:  # type: ignore[no-untyped-def]
    subnet = free_subnet()
    nengine.network_create("bridge", subnet=subnet)
    with pytest.raises(ContainerConflict):
        nengine.network_create("bridge", subnet=free_subnet())
    cid, code, _ = run(nengine, "true")
    assert code == 0 and ipaddress.IPv4Address(ip_of(nengine, cid)) in ipaddress.IPv4Network(subnet)
    assert naming.default_bridge_name(nengine.root) in store_links(nengine.root)


def test_restart_right_after_exit_reuses_the_veth_name(nengine) -> None:  # type: ignore[no-untyped-def]
    """The kernel frees a dead namespace's veth a moment after exit; a quick restart must not trip over it."""
    cid = start_d(nengine, "sleep", "60")
    veth = naming.host_veth_name(cid, nengine.network_inspect("bridge")["Id"])
    nengine.container_kill(cid)
    nengine.container_wait(cid)
    # Stand in for the kernel's late cleanup: a link of that name exists when the container starts again.
    if veth not in os.listdir("/sys/class/net"):
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            ipr.link("add", ifname=veth, kind="veth", peer="vq" + cid[:10])
    nengine.container_start(cid)
    assert nengine.container_inspect(cid)["State"]["Running"]
    assert "vq" + cid[:10] not in os.listdir("/sys/class/net")


def test_bridge_container_made_from_inside_a_running_event_loop(nengine) -> None:  # type: ignore[no-untyped-def]
    """The app calls the engine from its asyncio thread; pyroute2 must not trip over that loop."""
    import asyncio

    async def inside() -> tuple[str, int, str]:
        return run(nengine, "sh", "-c", "ip -o -4 addr show eth0", network="bridge")

    cid, code, text = asyncio.run(inside())
    assert code == 0 and f"inet {ip_of(nengine, cid)}/" in text
