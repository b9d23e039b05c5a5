#!/usr/bin/env python3
"""Make xenial-like-rootfs.tar.gz: a busybox root with the apt files the xenial Dockerfile touches.

Usage: python3 make-rootfs.py [OUTPUT]   (needs Debian's busybox-static)
"""

from __future__ import annotations

import os
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from engine.importer import BUSYBOX_PATH, make_busybox_rootfs  # noqa: E402

TARBALL = "xenial-like-rootfs.tar.gz"
SOURCES_LIST = """\
deb http://archive.ubuntu.com/ubuntu/ xenial main restricted
deb http://archive.ubuntu.com/ubuntu/ xenial-updates main restricted
# deb http://archive.ubuntu.com/ubuntu/ xenial universe
# deb http://archive.ubuntu.com/ubuntu/ xenial-updates universe
deb http://security.ubuntu.com/ubuntu/ xenial-security main restricted
# deb http://security.ubuntu.com/ubuntu/ xenial-security universe
"""
# Stand-ins for the package lists the real image ships and its Dockerfile deletes.
APT_LISTS = ("archive.ubuntu.com_ubuntu_dists_xenial_InRelease", "lock")


def add_apt_files(rootfs: str) -> None:
    """/etc/apt/sources.list with commented universe lines, and a non-empty /var/lib/apt/lists."""
    os.makedirs(os.path.join(rootfs, "etc", "apt"), exist_ok=True)
    with open(os.path.join(rootfs, "etc", "apt", "sources.list"), "w", encoding="utf-8") as f:
        f.write(SOURCES_LIST)
    lists = os.path.join(rootfs, "var", "lib", "apt", "lists", "partial")
    os.makedirs(lists, exist_ok=True)
    for name in APT_LISTS:
        with open(os.path.join(rootfs, "var", "lib", "apt", "lists", name), "w", encoding="utf-8") as f:
            f.write("Origin: Ubuntu\n" * (64 if name != "lock" else 0))
    os.makedirs(os.path.join(rootfs, "usr", "sbin"), exist_ok=True)


def make_tarball(out: str, busybox: str = BUSYBOX_PATH) -> str:
    """Write the gzipped root tarball to ``out`` and return its path."""
    with tempfile.TemporaryDirectory(prefix="xenial-like-") as tmp:
        rootfs = os.path.join(tmp, "rootfs")
        make_busybox_rootfs(rootfs, busybox)
        add_apt_files(rootfs)
        with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(os.listdir(rootfs)):
                tar.add(os.path.join(rootfs, name), arcname=name)
    return out


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, TARBALL)
    print(make_tarball(target))
