"""Standalone check of the context-tar unpacking on any Python, with the stdlib only (no pytest, no pyroute2).

    PYTHONPATH=. /root/.pyenv/versions/3.13.0/bin/python tests/engine/untar_check.py

tarfile's extraction filters differ between 3.11.2, 3.11.4+, 3.12 and 3.13; ``engine.builder.untar`` must not
depend on them. Each hostile tar goes through ``BuildContext.from_stream``; the canary outside the context
must keep its content, owner and mode, and the outcome must be the one Docker's chrooted untar gives.
Prints one line per case and exits 1 on any difference.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile


def _tar(*members: tuple[str, str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.uid, info.gid, info.mode = 1000, 1000, 0o4777
            if kind == "f":
                info.size = len(payload.encode())
                tf.addfile(info, io.BytesIO(payload.encode()))
                continue
            info.type = tarfile.SYMTYPE if kind == "s" else tarfile.LNKTYPE
            info.linkname = payload
            tf.addfile(info)
    return buf.getvalue()


def _state(root: str) -> list[tuple[str, int, int, str]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            digest = hashlib.sha256(open(path, "rb").read()).hexdigest() if os.path.isfile(path) else ""
            out.append((path, st.st_mode, st.st_uid, digest))
    return out


def main() -> int:
    base = tempfile.mkdtemp(prefix="berth-untar-check-")
    canary = os.path.join(base, "canary")
    os.makedirs(os.path.join(canary, "sub"))
    secret = os.path.join(canary, "secret")
    with open(secret, "w") as f:
        f.write("do not touch\n")
    os.chmod(secret, 0o600)
    before = _state(canary)
    climb = "../" * 12
    cases = {
        "hard link to an absolute host path": (_tar(("hl", "h", secret)),
                                               f"unable to prepare context: link {secret} /hl: "
                                               "no such file or directory"),
        "hard link climbing out": (_tar(("hl", "h", climb + secret.lstrip("/"))),
                                   f"unable to prepare context: link {secret} /hl: no such file or directory"),
        "hard link through a symlink": (_tar(("via", "s", canary), ("hl", "h", "via/secret")),
                                        "unable to prepare context: link /via/secret /hl: no such file or directory"),
        "file through a symlink": (_tar(("via", "s", canary), ("via/x", "f", "x")), "ok"),
        "absolute and climbing names": (_tar((secret, "f", "x"), (climb + secret.lstrip("/"), "f", "y")), "ok"),
    }
    failed = 0
    try:
        failed = _run(cases, canary, before)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"Python {sys.version.split()[0]}: {len(cases) - failed}/{len(cases)} cases as Docker "
          "with the canary untouched")
    return 1 if failed else 0


def _run(cases: dict[str, tuple[bytes, str]], canary: str, before: list[tuple[str, int, int, str]]) -> int:
    from engine.builder.context import BuildContext
    from engine.errors import BuildError

    failed = 0
    for name, (data, expected) in cases.items():
        try:
            with BuildContext.from_stream(io.BytesIO(data)):
                outcome = "ok"
        except BuildError as err:
            outcome = str(err)
        untouched = _state(canary) == before
        good = outcome == expected and untouched
        failed += not good
        print(f"{'ok  ' if good else 'FAIL'} {name}: {outcome}{'' if untouched else ' (THE CANARY CHANGED)'}")
    return failed


if __name__ == "__main__":
    sys.exit(main())
