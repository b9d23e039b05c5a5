"""The builder on a real store: layers, history, the classic builder's CREATED BY strings, RUN, errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.builder.builder import CommandFailed
from engine.builder.progress import (
    ContainerStarted,
    StepCached,
    StepDone,
    StepFailed,
    StepStarted,
)
from engine.errors import BuildError, Cancelled
from tests.conftest import mounts_under
from tests.engine.build_helpers import (
    BASE,
    build,
    created_by,
    file_in_image,
    import_base,
    make_context,
    raw_config,
)

REPO = Path(__file__).resolve().parents[2]
XENIAL = REPO / "examples" / "xenial-like"


@pytest.fixture
def base(engine, busybox_tar: Path) -> str:  # type: ignore[no-untyped-def]
    return import_base(engine, busybox_tar)


def _check_clean(engine) -> None:  # type: ignore[no-untyped-def]
    report = engine.system_check()
    assert report.ok, report.problems
    assert not os.listdir(engine.paths.mounts) if os.path.isdir(engine.paths.mounts) else True
    assert not mounts_under(Path(engine.root))


# -- the seed's walkthrough ----------------------------------------------------


def test_xenial_like_history_has_six_rows(engine, tmp_path: Path) -> None:
    """FROM scratch, ADD a root tarball, four RUN, CMD: six history rows as the seed shows."""
    context = tmp_path / "xenial-like"
    context.mkdir()
    (context / "Dockerfile").write_text((XENIAL / "Dockerfile").read_text())
    subprocess.run([sys.executable, str(XENIAL / "make-rootfs.py"), str(context / "xenial-like-rootfs.tar.gz")],
                   check=True, capture_output=True)
    image_id, events = build(engine, context, tags=["xenial-like:test"])
    rows = engine.image_history("xenial-like:test")
    assert len(rows) == 6
    assert rows[0].created_by == '/bin/sh -c #(nop)  CMD ["/bin/sh"]' and rows[0].size == 0 and rows[0].empty_layer
    assert [r.created_by.split(" ", 2)[2][:12] for r in rows[1:5]] == [
        "mkdir -p /ru", "sed -i 's/^#", "rm -rf /var/", "set -xe \t\t&&"]
    add = rows[5]
    assert add.created_by.startswith("/bin/sh -c #(nop) ADD file:") and add.created_by.endswith(" in / ")
    assert len(add.created_by.split("file:")[1].split()[0]) == 64
    add_layer = engine.store.layers.get(add.chain_id)
    assert add.size == add_layer.size > 1_000_000  # the unpacked size, not the gzip's
    assert [r.id for r in rows][0] == image_id
    assert all(r.id != "<missing>" for r in rows)  # intermediate images are kept and linked
    assert file_in_image(engine, image_id, "/run/systemd/container") == b"docker\n"
    assert b"\ndeb http://archive.ubuntu.com/ubuntu/ xenial universe" in file_in_image(
        engine, image_id, "/etc/apt/sources.list")
    assert [e.instruction.split()[0] for e in events.of(StepStarted)] == [
        "FROM", "ADD", "RUN", "RUN", "RUN", "RUN", "CMD"]
    _check_clean(engine)


# -- layers and history --------------------------------------------------------


def test_each_run_is_a_layer_and_deletions_are_whiteouts(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {})
    image_id, _ = build(engine, context, f"FROM {BASE}\nRUN echo hi > /hello\nRUN rm /etc/group\nRUN true\n")
    config = raw_config(engine, image_id)
    assert len(config["rootfs"]["diff_ids"]) == 3  # base + 2 RUN; `true` changed nothing
    assert config["history"][-1] == {"created": config["history"][-1]["created"],
                                     "created_by": "/bin/sh -c true", "empty_layer": True}
    whiteout_layer = engine.store.layers.chain(engine.store.images.top_layer(config))[-1]
    etc = os.path.join(engine.paths.diff_dir(whiteout_layer.cache_id), "etc")
    st = os.lstat(os.path.join(etc, "group"))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert sorted(os.listdir(etc)) == ["group"]  # the init layer's mount points stayed out
    history = engine.image_history(image_id)
    assert [h.created_by for h in history[:3]] == ["/bin/sh -c true", "/bin/sh -c rm /etc/group",
                                                   "/bin/sh -c echo hi > /hello"]
    assert history[-1].comment.startswith("Imported from")


def test_created_by_strings_match_the_classic_builder(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {"f.txt": "x"})
    dockerfile = "\n".join([
        f"FROM {BASE}",
        "MAINTAINER Jane <j@example.com>",
        "ENV A=1 B=${A:-x}",
        'LABEL one="1 2" two=$A',
        "EXPOSE 80 443/udp",
        "VOLUME /data /logs",
        "USER root",
        "STOPSIGNAL SIGQUIT",
        "HEALTHCHECK --interval=5m --timeout=3s CMD wget -q localhost || exit 1",
        "ARG V=3",
        "ONBUILD RUN echo triggered",
        "WORKDIR /app",
        "COPY --chown=1:1 f.txt .",
        'ENTRYPOINT ["/bin/sh", "-c"]',
        "CMD echo hi",
        'SHELL ["/bin/sh", "-e", "-c"]',
        "RUN echo $V",
    ])
    image_id, _ = build(engine, context, dockerfile)
    rows = created_by(engine, image_id)[1:]
    assert rows[:12] == [
        "/bin/sh -c #(nop)  MAINTAINER Jane <j@example.com>",
        "/bin/sh -c #(nop)  ENV A=1 B=x",
        "/bin/sh -c #(nop)  LABEL one=1 2 two=1",
        "/bin/sh -c #(nop)  EXPOSE 80 443/udp",
        "/bin/sh -c #(nop)  VOLUME [/data /logs]",
        "/bin/sh -c #(nop)  USER root",
        "/bin/sh -c #(nop)  STOPSIGNAL SIGQUIT",
        '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "wget -q localhost || exit 1"] "5m0s" "3s" "0s" \'\\x00\'}',
        "/bin/sh -c #(nop)  ARG V=3",
        "/bin/sh -c #(nop)  ONBUILD RUN echo triggered",
        "/bin/sh -c #(nop) WORKDIR /app",
        rows[11],
    ]
    assert rows[11].startswith("/bin/sh -c #(nop) COPY --chown=1:1file:") and rows[11].endswith(" in . ")
    assert rows[12:] == [
        '/bin/sh -c #(nop)  ENTRYPOINT ["/bin/sh" "-c"]',
        '/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "echo hi"]',
        "/bin/sh -e -c #(nop)  SHELL [/bin/sh -e -c]",  # the new shell records it, as in Docker
        "|1 V=3 /bin/sh -e -c echo $V",
    ]
    config = raw_config(engine, image_id)
    assert config["author"] == "Jane <j@example.com>"
    run_config = config["config"]
    assert run_config["Env"][-2:] == ["A=1", "B=x"] and run_config["Labels"] == {"one": "1 2", "two": "1"}
    assert run_config["ExposedPorts"] == {"80/tcp": {}, "443/udp": {}}
    assert run_config["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q localhost || exit 1"],
                                         "Interval": 300_000_000_000, "Timeout": 3_000_000_000}
    assert run_config["WorkingDir"] == "/app" and run_config["OnBuild"] == ["RUN echo triggered"]
    assert run_config["Cmd"] == ["/bin/sh", "-c", "echo hi"] and run_config["Entrypoint"] == ["/bin/sh", "-c"]
    step = json.loads(engine.store.imagedb.get_container_config(engine.image_resolve(image_id)))
    assert step["Entrypoint"] is None and "container_config" not in config  # the cache key lives beside the config


def test_entrypoint_resets_an_inherited_cmd(engine, base: str, tmp_path: Path) -> None:
    image_id, _ = build(engine, make_context(tmp_path / "c", {}), f'FROM {BASE}\nENTRYPOINT ["/bin/echo"]\n')
    assert "Cmd" not in raw_config(engine, image_id)["config"]  # Go's omitempty, as the OCI struct has it


def test_env_sees_values_from_before_the_instruction(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {})
    dockerfile = f"FROM {BASE}\nENV A=1 B=${{A:-x}}\nENV C=${{A:+set}} D=\\$A\nRUN echo \"$A $B $C $D\" > /out\n"
    image_id, _ = build(engine, context, dockerfile)
    assert file_in_image(engine, image_id, "/out") == b"1 x set $A\n"


def test_run_uses_workdir_user_env_and_shell(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {})
    dockerfile = (f"FROM {BASE}\nWORKDIR /w\nWORKDIR sub\nUSER nobody\nENV X=y\n"
                  'SHELL ["/bin/sh", "-c"]\nRUN echo "$(pwd) $(id -u) $X $HOME" > /tmp/o; cat /tmp/o\n')
    image_id, events = build(engine, context, dockerfile)
    assert "/w/sub 65534 y /home\n" in events.text
    assert events.of(ContainerStarted)


def test_heredoc_run_and_copy(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {})
    dockerfile = (f"FROM {BASE}\n"
                  "RUN <<EOF\necho one > /one\necho two >> /one\nEOF\n"
                  "RUN cat <<-EOT > /two\n\thello\n\tEOT\n"
                  "COPY <<EOF /three\nthree\nEOF\n")
    image_id, _ = build(engine, context, dockerfile)
    assert file_in_image(engine, image_id, "/one") == b"one\ntwo\n"
    assert file_in_image(engine, image_id, "/two") == b"hello\n"
    assert file_in_image(engine, image_id, "/three") == b"three\n"


def test_exec_form_run_and_missing_command(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {})
    image_id, _ = build(engine, context, f'FROM {BASE}\nRUN ["/bin/sh", "-c", "echo x > /x"]\n')
    assert created_by(engine, image_id)[-1] == "/bin/sh -c echo x > /x"
    with pytest.raises(CommandFailed, match="The command 'nope' returned a non-zero code: 127"):
        build(engine, context, f'FROM {BASE}\nRUN ["nope"]\n')
    _check_clean(engine)


# -- args ------------------------------------------------------------------------


def test_build_args_meta_args_and_the_run_prefix(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {})
    dockerfile = ("ARG IMG=busybox\nARG TAG\nFROM $IMG:$TAG\nARG TAG\nARG GREETING=hello\nARG NOVALUE\n"
                  "ENV ENVD=e\nARG ENVD=ignored\n"
                  "RUN echo \"$GREETING $TAG $ENVD\" > /g\nRUN echo $HTTP_PROXY > /p\n")
    image_id, events = build(engine, context, dockerfile,
                             build_args={"TAG": "test", "GREETING": "hi", "HTTP_PROXY": "http://p", "UNUSED": "1"})
    assert file_in_image(engine, image_id, "/g") == b"hi test e\n"
    assert file_in_image(engine, image_id, "/p") == b"http://p\n"
    history = created_by(engine, image_id)
    assert history[-2] == '|2 GREETING=hi TAG=test /bin/sh -c echo "$GREETING $TAG $ENVD" > /g'
    assert history[-1] == "|2 GREETING=hi TAG=test /bin/sh -c echo $HTTP_PROXY > /p"
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in events.text
    assert "HTTP_PROXY" not in str(raw_config(engine, image_id)["config"])


def test_arg_before_from_is_not_seen_by_the_stage(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {})
    image_id, _ = build(engine, context, f"ARG X=meta\nFROM {BASE}\nRUN echo \"[$X]\" > /x\n")
    assert file_in_image(engine, image_id, "/x") == b"[]\n"


# -- stages and ONBUILD ----------------------------------------------------------


def test_multi_stage_copy_from_and_target(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {})
    dockerfile = (f"FROM {BASE} AS builder\nRUN mkdir /out && echo built > /out/artifact\n"
                  "FROM scratch\nCOPY --from=builder /out/artifact /artifact\n"
                  "COPY --from=0 /bin/busybox /bin/\n"
                  "FROM builder AS third\nRUN echo third > /third\n")
    image_id, _ = build(engine, context, dockerfile, tags=["multi:1"])
    assert file_in_image(engine, image_id, "/third") == b"third\n"
    middle, _ = build(engine, context, dockerfile.replace("FROM scratch", "FROM scratch AS mid"), target="mid")
    assert file_in_image(engine, middle, "/artifact") == b"built\n"
    assert len(raw_config(engine, middle)["rootfs"]["diff_ids"]) == 2
    with pytest.raises(BuildError, match="failed to reach build target nope"):
        build(engine, context, target="nope")


def test_onbuild_triggers_run_in_the_child_build(engine, base: str, tmp_path: Path) -> None:
    parent_ctx = make_context(tmp_path / "p", {})
    build(engine, parent_ctx, f"FROM {BASE}\nONBUILD RUN echo from-trigger > /t\n", tags=["onbuild:parent"])
    child, events = build(engine, make_context(tmp_path / "c", {}), "FROM onbuild:parent\nCMD [\"sh\"]\n")
    assert "# Executing 1 build trigger" in events.text
    assert file_in_image(engine, child, "/t") == b"from-trigger\n"
    assert raw_config(engine, child)["config"].get("OnBuild") is None


# -- cache -------------------------------------------------------------------------


def test_second_build_is_all_cache_and_same_id(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {"a.txt": "a", "b.txt": "b"})
    dockerfile = (f"FROM {BASE}\nRUN echo 1 > /one\nCOPY a.txt /\nCOPY b.txt /\nRUN cat /a.txt /b.txt > /ab\n"
                  "CMD [\"sh\"]\n")
    first, _ = build(engine, context, dockerfile)
    layers_before = sorted(engine.store.layers.list())
    second, events = build(engine, context)
    assert second == first
    assert len(events.of(StepCached)) == 5 and " ---> Using cache\n" in events.text
    assert sorted(engine.store.layers.list()) == layers_before
    os.utime(context / "a.txt", (1, 1))  # mtime alone is no change
    assert build(engine, context)[0] == first
    (context / "b.txt").write_text("B")  # rebuilds from the first COPY that includes it
    third, events = build(engine, context)
    assert third != first
    cached = {e.step for e in events.of(StepCached)}
    assert cached == {2, 3}
    assert file_in_image(engine, third, "/ab") == b"aB"
    fresh, events = build(engine, context, no_cache=True)
    assert fresh != third and not events.of(StepCached)


def test_cache_keys_on_mode_and_build_args(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {"s.sh": "echo"})
    dockerfile = f"FROM {BASE}\nARG V\nCOPY s.sh /\nRUN echo $V > /v\n"
    first, _ = build(engine, context, dockerfile, build_args={"V": "1"})
    again, events = build(engine, context, build_args={"V": "2"})
    assert {e.step for e in events.of(StepCached)} == {2, 3}
    (context / "s.sh").chmod(0o755)
    _, events = build(engine, context, build_args={"V": "1"})
    assert {e.step for e in events.of(StepCached)} == {2}


# -- failures ------------------------------------------------------------------------


def test_failing_run_leaves_no_half_made_layer(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {})
    layers = sorted(engine.store.layers.list())
    with pytest.raises(CommandFailed) as caught:
        build(engine, context, f"FROM {BASE}\nRUN echo partial > /p && echo oops && exit 3\n")
    assert str(caught.value) == ("The command '/bin/sh -c echo partial > /p && echo oops && exit 3' "
                                 "returned a non-zero code: 3")
    assert caught.value.exit_code == 1
    assert sorted(engine.store.layers.list()) == layers
    _check_clean(engine)


def test_bad_dockerfiles_name_the_line(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {})
    cases = {
        f"FROM {BASE}\n\nFOO bar\n": "Dockerfile line 3: unknown instruction: FOO",
        f"FROM {BASE}\nCOPY onlyone\n": "Dockerfile line 2: COPY requires at least two arguments",
        f"FROM {BASE}\nRUN --mount=type=cache echo\n": "Dockerfile line 2: Unknown flag: mount",
        "RUN echo\n": "Dockerfile line 1: no build stage in current context",
        f"FROM {BASE}\nCOPY missing /\n": "Dockerfile line 2: file not found in build context",
        f"FROM {BASE}\nENV A=${{B:?unset}}\n": "Dockerfile line 2: ",
        "FROM nosuchimage:1\n": "Dockerfile line 1: No such image: nosuchimage:1",
        f"FROM {BASE}\nSTOPSIGNAL SIGNOPE\n": "Dockerfile line 2: Invalid signal: SIGNOPE",
        f"FROM {BASE}\nRUN <<EOF\necho\n": "Dockerfile line 2: unterminated heredoc",
    }
    for dockerfile, message in cases.items():
        with pytest.raises(BuildError) as caught:
            build(engine, context, dockerfile)
            pytest.fail(f"built {dockerfile!r}")
        assert str(caught.value).startswith(message), (dockerfile, str(caught.value))
    _check_clean(engine)


def test_cancel_stops_the_run_container(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {})
    (context / "Dockerfile").write_text(f"FROM {BASE}\nRUN echo started; sleep 30\n")
    cancel = threading.Event()
    seen: list[object] = []

    def progress(event: object) -> None:
        seen.append(event)
        if "started" in str(getattr(event, "text", "")):
            cancel.set()

    started = time.monotonic()
    with pytest.raises(Cancelled):
        engine.image_build(str(context), progress=progress, cancel=cancel)
    assert time.monotonic() - started < 25  # the step's sleep 30 was cut short, not waited for
    assert any(isinstance(e, StepFailed) for e in seen)
    _check_clean(engine)


def test_ctrl_c_during_run_leaves_the_store_consistent(store_root: Path, busybox_tar: Path, tmp_path: Path) -> None:
    """A real SIGINT to a real `berth build` process while its RUN sleeps."""
    from engine import Engine

    engine = Engine(str(store_root))
    import_base(engine, busybox_tar)
    context = make_context(tmp_path / "ctx", {"Dockerfile": f"FROM {BASE}\nRUN echo started; sleep 30\n"})
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "--root", str(store_root), "build", str(context)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "started" in line:
                break
        proc.send_signal(2)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    _check_clean(engine)


def test_step_events_carry_ids(engine, base: str, tmp_path: Path) -> None:
    image_id, events = build(engine, make_context(tmp_path / "c", {}), f"FROM {BASE}\nCMD [\"sh\"]\n")
    done = events.of(StepDone)
    assert [d.step for d in done] == [1, 2] and done[-1].image_id == image_id
    assert done[0].image_id == engine.image_resolve(BASE)
    assert events.text.endswith(f"Successfully built {image_id[7:19]}\n")


def test_platform_flag_and_copy_from_a_store_image(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {})
    image_id, _ = build(engine, context, f"FROM --platform=linux/amd64 scratch\nCOPY --from={BASE} /etc/passwd /p\n")
    assert file_in_image(engine, image_id, "/p").startswith(b"root:x:0:0:")
    with pytest.raises(BuildError, match="Dockerfile line 1: platform linux/s390x is not supported"):
        build(engine, context, "FROM --platform=linux/s390x scratch\nCMD [\"x\"]\n")
    with pytest.raises(BuildError, match="Dockerfile line 1: No image was generated|No image was generated"):
        build(engine, context, "FROM scratch\n")


def test_run_as_an_unknown_user_fails_cleanly(engine, base: str, tmp_path: Path) -> None:
    context = make_context(tmp_path / "ctx", {})
    with pytest.raises(CommandFailed, match="returned a non-zero code: 125"):
        build(engine, context, f"FROM {BASE}\nUSER ghost\nRUN true\n")
    _check_clean(engine)
