"""Outbound NAT for a store's bridge networks: one nftables table (or iptables chain) per store, ours alone.

Rewritten whole from the store's networks whenever one is created or removed,
so teardown is one ``delete table`` and never touches anyone else's rules.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

from . import naming

__all__ = ["apply", "remove", "rules_present", "tool"]

NOT_ROUTED = ("neither nft nor iptables is installed: containers reach the host and each other, but outbound "
              "traffic is not routed")


def tool() -> str:
    """``nft``, ``iptables`` or "" (a fresh Debian 12 has neither)."""
    return "nft" if shutil.which("nft") else "iptables" if shutil.which("iptables") else ""


def _run(argv: Sequence[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), input=stdin, capture_output=True, text=True, check=False)


def apply(root: str, networks: Sequence[tuple[str, str]]) -> bool:
    """Masquerade each (subnet, bridge) leaving by another interface; False when no tool is installed."""
    which, name = tool(), naming.nft_table(root)
    if which == "nft":
        rules = "".join(f'    ip saddr {subnet} oifname != "{bridge}" masquerade\n' for subnet, bridge in networks)
        script = (f"table ip {name} {{}}\ndelete table ip {name}\n"
                  + (f"table ip {name} {{\n  chain postrouting {{\n"
                     "    type nat hook postrouting priority srcnat; policy accept;\n"
                     f"{rules}  }}\n}}\n" if networks else ""))
        done = _run(["nft", "-f", "-"], script)
        if done.returncode:
            raise OSError(f"nft: {done.stderr.strip()}")
        return True
    if which == "iptables":
        chain = name.upper()
        remove(root)
        if networks:
            _run(["iptables", "-t", "nat", "-N", chain])
            for subnet, bridge in networks:
                _run(["iptables", "-t", "nat", "-A", chain, "-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"])
            _run(["iptables", "-t", "nat", "-A", "POSTROUTING", "-j", chain])
        return True
    return False


def remove(root: str) -> None:
    """Drop the store's table (or chain), if any."""
    which, name = tool(), naming.nft_table(root)
    if which == "nft":
        _run(["nft", "delete", "table", "ip", name])
    elif which == "iptables":
        chain = name.upper()
        while _run(["iptables", "-t", "nat", "-D", "POSTROUTING", "-j", chain]).returncode == 0:
            pass
        _run(["iptables", "-t", "nat", "-F", chain])
        _run(["iptables", "-t", "nat", "-X", chain])


def rules_present(root: str) -> bool:
    """Whether the store's table (or chain) exists."""
    which, name = tool(), naming.nft_table(root)
    if which == "nft":
        return _run(["nft", "list", "table", "ip", name]).returncode == 0
    if which == "iptables":
        return _run(["iptables", "-t", "nat", "-S", name.upper()]).returncode == 0
    return False
