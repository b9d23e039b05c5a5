"""``berth build`` as a user types it: the classic builder's lines, exit codes, -q, stdin, prune."""

from __future__ import annotations

import io
import re
import sys
import tarfile
from pathlib import Path

import pytest

from engine.builder.stepnet import FORWARDING_WARNING

DOCKERFILE = "FROM busybox:test\nRUN echo hello from run\nCOPY a.txt /\nCMD [\"sh\"]\n"


@pytest.fixture
def context(berth, busybox_tar: Path, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    status, _, err = berth("import", str(busybox_tar), "busybox:test")
    assert status == 0, err
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "a.txt").write_text("a")
    return ctx


def test_build_prints_steps_like_the_classic_builder(berth, context: Path) -> None:
    status, out, err = berth("build", "-t", "demo:1", "-t", "demo:2", str(context))
    assert status == 0, err
    # Docker prints this before a bridged RUN step on a host that does not forward (this one may not).
    lines = [line for line in out.splitlines() if line != f" ---> {FORWARDING_WARNING}"]
    assert lines[0] == "Step 1/4 : FROM busybox:test"
    assert re.fullmatch(r" ---> [0-9a-f]{12}", lines[1])
    assert lines[2] == "Step 2/4 : RUN echo hello from run"
    assert re.fullmatch(r" ---> Running in [0-9a-f]{12}", lines[3])
    assert lines[4] == "hello from run"
    assert re.fullmatch(r"Removing intermediate container [0-9a-f]{12}", lines[5])
    assert lines[-3:] == [f"Successfully built {lines[-4][6:]}", "Successfully tagged demo:1",
                          "Successfully tagged demo:2"]
    status, out, _ = berth("build", "-t", "demo:1", str(context))
    assert out.count(" ---> Using cache\n") == 3
    status, history, _ = berth("history", "demo:1")
    assert len(history.splitlines()) == 1 + 4 and "/bin/sh -c #(nop)  CMD [\"sh\"]" in history
    status, images, _ = berth("images", "-a")
    assert len(images.splitlines()) == 1 + 5  # busybox, two intermediates, demo:1 and demo:2 share a row each


def test_quiet_prints_only_the_id(berth, context: Path) -> None:
    status, out, _ = berth("build", "-q", str(context))
    assert status == 0 and re.fullmatch(r"sha256:[0-9a-f]{64}\n", out)


def test_failing_run_exits_1_with_dockers_message(berth, context: Path) -> None:
    (context / "Dockerfile").write_text("FROM busybox:test\nRUN echo before; exit 7\n")
    status, out, err = berth("build", str(context))
    assert status == 1
    assert "before\n" in out
    assert err == "The command '/bin/sh -c echo before; exit 7' returned a non-zero code: 7\n"
    status, out, _ = berth("system", "check")
    assert status == 0, out


def test_bad_dockerfile_exits_1_naming_the_line(berth, context: Path) -> None:
    (context / "Dockerfile").write_text("FROM busybox:test\nBOGUS x\n")
    status, out, err = berth("build", str(context))
    assert (status, out) == (1, "")
    assert err == "Error: Dockerfile line 2: unknown instruction: BOGUS\n"


def test_file_flag_build_args_and_target(berth, context: Path, tmp_path: Path) -> None:
    other = tmp_path / "Other.dockerfile"
    other.write_text("FROM busybox:test AS one\nARG WHO\nRUN echo hi $WHO\nFROM one AS two\nRUN exit 1\n")
    status, out, err = berth("build", "-f", str(other), "--build-arg", "WHO=you", "--target", "one", str(context))
    assert status == 0, err
    assert "hi you\n" in out and "Step 3/3" in out


def test_context_from_stdin(berth, context: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(context), arcname=".")
    buf.seek(0)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(buf))
    status, out, err = berth("build", "-t", "fromstdin", "-")
    assert status == 0, err
    assert out.endswith("Successfully tagged fromstdin:latest\n")


def test_image_prune_removes_dangling_builds(berth, context: Path) -> None:
    assert berth("build", "-q", str(context))[0] == 0  # untagged: dangling with its intermediates
    status, out, _ = berth("image", "prune", "-f")
    assert status == 0
    assert out.count("deleted: sha256:") >= 4 and out.rstrip().splitlines()[-1].startswith("Total reclaimed space: ")
    status, images, _ = berth("images", "-a", "-q")
    assert len(images.split()) == 1  # only busybox:test is left


def test_image_prune_asks_first(berth, context: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert berth("build", "-q", str(context))[0] == 0
    before = berth("images", "-a", "-q")[1]
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    status, out, _ = berth("image", "prune")
    assert status == 0 and "Are you sure you want to continue? [y/N]" in out
    assert berth("images", "-a", "-q")[1] == before  # nothing removed on "n"
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    status, out, _ = berth("image", "prune")
    assert status == 0 and "deleted: sha256:" in out


def test_network_flag_sets_the_run_steps_network(berth, context: Path) -> None:
    (context / "Dockerfile").write_text("FROM busybox:test\nRUN echo $(ls /sys/class/net)\n")
    status, out, err = berth("build", "--no-cache", "--network", "none", str(context))
    assert status == 0, err
    assert "\nlo\n" in out
    assert FORWARDING_WARNING not in out  # not bridged: nothing to forward
    status, out, err = berth("build", "--no-cache", "--network", "nosuchnet", str(context))
    assert (status, err) == (1, "Error: Dockerfile line 2: network nosuchnet not found\n")
