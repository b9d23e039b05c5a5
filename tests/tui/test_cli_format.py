"""``--format`` on the listing and inspect verbs, with docker's documented examples, through the real CLI."""

from __future__ import annotations

import json
import re

import pytest

from tests.engine.containers_fixtures import cengine  # noqa: F401


@pytest.fixture
def web(cengine, berth) -> str:  # type: ignore[no-untyped-def]
    """A created container ``web`` with two labels; its full ID."""
    status, out, err = berth("create", "--name", "web", "-l", "com.example.tier=web", "-l", "owner=ops",
                             "busybox", "sh")
    assert status == 0, err
    return out.strip()


def test_ps_table_of_ids_and_labels(berth, web: str) -> None:
    status, out, err = berth("ps", "-a", "--format", "table {{.ID}}\\t{{.Labels}}")
    assert (status, err) == (0, "")
    assert out == ("CONTAINER ID   LABELS\n"
                   f"{web[:12]}   com.example.tier=web,owner=ops\n")


def test_ps_plain_template_json_and_label_method(berth, web: str) -> None:
    assert berth("ps", "-a", "--format", "{{.Names}}") == (0, "web\n", "")
    assert berth("ps", "-a", "--format", '{{.Names}}: {{.Label "owner"}}|{{.Label "nope"}}|{{.State}}')[1] == \
        "web: ops||created\n"
    assert berth("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}")[1] == f'{web} "sh"\n'
    created = berth("ps", "-a", "--format", "{{.CreatedAt}}")[1]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC\n", created)
    row = json.loads(berth("ps", "-a", "--format", "{{json .}}")[1])
    assert row["Names"] == "web" and row["ID"] == web[:12] and row["CreatedAt"] == created.strip()
    assert berth("ps", "--format", "{{.Names}}")[1] == ""  # only running ones, none


def test_ps_without_template_keeps_its_table(berth, web: str) -> None:
    assert berth("ps", "-a", "--format", "table") == berth("ps", "-a")


def test_images_documented_examples(berth, cengine) -> None:  # type: ignore[no-untyped-def]
    image_id = cengine.image_inspect("busybox:latest")["Id"]
    assert berth("images", "--format", "{{.Repository}}: {{.Tag}}") == (0, "busybox: latest\n", "")
    out = berth("images", "--format", "table {{.ID}}\\t{{.Repository}}\\t{{.Tag}}")[1]
    assert out == f"IMAGE ID       REPOSITORY   TAG\n{image_id[7:19]}   busybox      latest\n"


def test_inspect_templates(berth, web: str) -> None:
    assert berth("inspect", "-f", "{{.State.Status}}", "web") == (0, "created\n", "")
    assert berth("container", "inspect", "--format", "{{.State.Running}} {{.Name}}", "web")[1] == "false /web\n"
    labels = berth("inspect", "--format", "{{json .Config.Labels}}", "web")[1]
    assert json.loads(labels) == {"com.example.tier": "web", "owner": "ops"} and labels.count("\n") == 1
    assert berth("inspect", "-f", "{{.Id}}", "web", "web")[1] == f"{web}\n{web}\n"
    assert berth("image", "inspect", "-f", "{{index .RepoTags 0}}", "busybox")[1] == "busybox:latest\n"


def test_inspect_range_over_mounts(berth, cengine) -> None:  # type: ignore[no-untyped-def]
    assert berth("create", "--name", "vol", "-v", "data:/data", "busybox", "sh")[0] == 0
    out = berth("inspect", "-f", "{{range .Mounts}}{{.Name}} -> {{.Destination}};{{end}}", "vol")[1]
    assert out == "data -> /data;\n"


def test_inspect_without_format_is_unchanged(berth, web: str) -> None:
    out = berth("inspect", "web")[1]
    assert json.loads(out)[0]["Id"] == web and out.startswith("[\n    {\n")


def test_bad_templates_are_one_error_line(berth, web: str) -> None:
    status, out, err = berth("ps", "-a", "--format", "{{.Names")
    assert (status, out) == (1, "") and err.startswith("Error: template parsing error: ") and err.count("\n") == 1
    status, out, err = berth("inspect", "-f", "{{.State.Status", "web")
    assert (status, out) == (1, "") and err.startswith("Error: template parsing error: ") and err.count("\n") == 1
    status, out, err = berth("ps", "-a", "--format", "{{.Nope}}")
    assert (status, out) == (1, "") and err.count("\n") == 1 and "can't evaluate field Nope" in err
    status, _, err = berth("images", "--format", "{{.Nope}}")
    assert status == 1 and err.startswith("Error: template parsing error: ") and err.count("\n") == 1


def test_volume_ls_and_inspect(berth, store_root) -> None:  # type: ignore[no-untyped-def]
    assert berth("volume", "create", "--label", "a=b", "v1")[0] == 0
    assert berth("volume", "create", "v2")[0] == 0
    assert berth("volume", "ls", "--format", "table {{.Name}}\\t{{.Driver}}\\t{{.Labels}}")[1] == (
        "VOLUME NAME   DRIVER    LABELS\n"
        "v1            local     a=b\n"
        "v2            local     \n")
    line = berth("volume", "ls", "--format", "json")[1].splitlines()[0]
    assert line == ('{"Driver":"local","Labels":"a=b","Links":"N/A","Mountpoint":"'
                    f'{store_root}/volumes/v1/_data","Name":"v1","Scope":"local","Size":"N/A"}}')
    assert berth("volume", "inspect", "-f", "{{.Name}}={{.Labels.a}}", "v1") == (0, "v1=b\n", "")
    assert berth("volume", "ls", "--format", "table") == berth("volume", "ls")


def test_network_ls_and_inspect(berth, store_root) -> None:  # type: ignore[no-untyped-def]
    assert berth("network", "create", "--label", "x=y", "side")[0] == 0
    out = berth("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Labels}} {{.IPv6}}")[1]
    assert "side bridge x=y false\n" in out and "none null  false\n" in out
    table = berth("network", "ls", "--format", "table {{.Name}}\\t{{.CreatedAt}}")[1].splitlines()
    assert table[0] == "NAME      CREATED AT"
    assert any(re.fullmatch(r"side      \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC", row) for row in table)
    assert berth("network", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Labels.x}}", "side") == \
        (0, "side bridge y\n", "")


def test_history_formats(berth, cengine) -> None:  # type: ignore[no-untyped-def]
    image_id = cengine.image_inspect("busybox:latest")["Id"]
    assert berth("history", "--format", "{{.ID}}|{{.Size}}", "busybox")[1].startswith(image_id[7:19] + "|")
    out = berth("history", "--format", "table {{.ID}}\\t{{.CreatedSince}}", "busybox")[1].splitlines()
    assert out[0] == "IMAGE          CREATED" and out[1].startswith(image_id[7:19] + "   ")
    row = json.loads(berth("history", "--format", "json", "busybox")[1].splitlines()[0])
    assert sorted(row) == ["Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["CreatedAt"])


def test_system_df_formats(berth, store_root) -> None:  # type: ignore[no-untyped-def]
    assert berth("volume", "create", "v1")[0] == 0
    assert berth("system", "df", "--format", "{{.Type}}: {{.TotalCount}} {{.Size}}")[1] == (
        "Images: 0 0B\nContainers: 0 0B\nLocal Volumes: 1 0B\nBuild Cache: 0 0B\n")
    assert berth("system", "df", "--format", "json")[1].splitlines()[2] == \
        '{"Active":"0","Reclaimable":"0B","Size":"0B","TotalCount":"1","Type":"Local Volumes"}'
    assert berth("system", "df", "--format", "table {{.Type}}\\t{{.Active}}")[1].splitlines()[:2] == \
        ["TYPE            ACTIVE", "Images          0"]


def test_events_formats(berth, store_root) -> None:  # type: ignore[no-untyped-def]
    assert berth("volume", "create", "v1")[0] == 0
    window = ("--since", "1h", "--until", "0s")
    assert berth("events", *window, "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}") == \
        (0, "volume create v1\n", "")
    msg = json.loads(berth("events", *window, "--format", "json")[1])
    assert (msg["Type"], msg["Action"], msg["Actor"], msg["scope"]) == \
        ("volume", "create", {"ID": "v1", "Attributes": {"name": "v1"}}, "local")
    assert msg["timeNano"] // 10**9 == msg["time"] and "status" not in msg
    assert re.fullmatch(r"\S+Z volume create v1 \(name=v1\)\n", berth("events", *window)[1])
    status, out, err = berth("events", *window, "--format", "{{.Type")
    assert (status, out) == (1, "") and err.startswith("Error: template parsing error: ")


def test_stats_template_goes_through_the_evaluator(cengine, berth) -> None:  # type: ignore[no-untyped-def]
    assert berth("run", "-d", "--name", "busy", "busybox", "sleep", "100")[0] == 0
    assert berth("stats", "--no-stream", "--format", "{{.Name | upper}} {{printf \"%s\" .PIDs}}", "busy") == \
        (0, "BUSY 1\n", "")
