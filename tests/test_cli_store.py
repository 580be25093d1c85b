"""The workspace-store commands: import, export, plans and incidents (through click's runner)."""

from __future__ import annotations

import json
import shutil

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from gridmap.cli import EXPORT_CHOICES, IMPORT_KINDS, MAPPING_PRESETS, cli
from gridmap.store import Workspace

NYC_FILE = "nyc/nyc_311_animal_requests_2025Q1.csv"
STORE_COMMANDS = ("import", "export", "plans", "incidents")


@pytest.fixture(scope="module")
def base(sample_workspace, tmp_path_factory):
    """The sample street with its default plan published (made once per module)."""
    from gridmap.plan import make_plan

    path = tmp_path_factory.mktemp("cli_store") / "street.gpkg"
    shutil.copy(sample_workspace, path)
    ws = Workspace(path, actor="setup")
    ws.publish(ws.save_plan(make_plan(ws.layers()), note="first"))
    ws.close()
    return path


@pytest.fixture
def street(base, tmp_path):
    copy = tmp_path / "street.gpkg"
    shutil.copy(base, copy)
    return copy


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def _clean_failure(result, code=2):
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "unexpected error" not in result.output


def _households_csv(path, sample_layers, ids):
    buildings = sample_layers["buildings"].to_crs(4326).iloc[: len(ids)]
    points = buildings.geometry.representative_point()
    pd.DataFrame(
        {"id": ids, "persons": 3, "building_id": buildings["id"].to_numpy(),
         "lon": points.x.to_numpy(), "lat": points.y.to_numpy()}
    ).to_csv(path, index=False)  # fmt: skip
    return path


def _audit_actors(path, action):
    ws = Workspace(path)
    try:
        log = ws.audit_log()
    finally:
        ws.close()
    return log.loc[log["action"] == action, "actor"].tolist()


# ------------------------------------------------------------------------------ help


def _commands():
    for name in STORE_COMMANDS:
        command = cli.commands[name]
        yield (name,), command
        for sub, subcommand in getattr(command, "commands", {}).items():
            yield (name, sub), subcommand


@pytest.mark.parametrize("path,command", list(_commands()), ids=lambda v: str(v))
def test_every_store_command_and_option_has_help(path, command):
    assert command.help and command.help.strip()
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{' '.join(path)} {param.opts[0]} has no help text"
    args = ["x.gpkg", path[1], "--help"] if len(path) == 2 else ["--help"]
    result = run(path[0], *args)
    assert result.exit_code == 0 and "Usage:" in result.output


def test_cli_choices_match_the_library():
    from gridmap.transfer import EXPORTS, MAPPINGS
    from gridmap.transfer import IMPORT_KINDS as KINDS

    assert IMPORT_KINDS == KINDS and EXPORT_CHOICES == EXPORTS
    assert set(MAPPING_PRESETS) == set(MAPPINGS)


# ------------------------------------------------------------------------------ import


def test_import_prints_counts_and_is_idempotent(street, sample_layers, tmp_path):
    path = _households_csv(tmp_path / "h.csv", sample_layers, ["HC1", "HC2", "HC3"])
    result = run("import", street, path, "--as", "households", "--actor", "alice")
    assert result.exit_code == 0, result.output
    assert "rows read        3" in result.output and "imported         3" in result.output
    assert "Imported 3 households" in result.output
    assert _audit_actors(street, "import") == ["alice"]
    again = run("import", street, path, "--as", "households")
    assert again.exit_code == 0 and "imported already" in again.output


def test_import_with_bad_rows_exits_1_and_names_them(street, sample_layers, tmp_path):
    path = _households_csv(tmp_path / "h.csv", sample_layers, ["HB1", "HB2", "HB3", "HB4"])
    table = pd.read_csv(path, dtype=str)
    table.loc[1, "persons"] = "many"
    table.loc[3, "lon"] = None
    table.to_csv(path, index=False)
    result = run("import", street, path, "--as", "households")
    _clean_failure(result, code=1)
    assert "row 2" in result.output and "'persons' must hold numbers" in result.output
    assert "row 4" in result.output and "no coordinates" in result.output
    assert "nothing was imported" in result.output and "--skip-bad" in result.output
    skipped = run("import", street, path, "--as", "households", "--skip-bad")
    assert skipped.exit_code == 0, skipped.output
    assert "imported         2" in skipped.output and "skipped          2" in skipped.output
    assert "row 2: column 'persons'" in skipped.output and "row 4: no coordinates" in skipped.output


def test_import_nyc_311_with_the_preset(street, shared_data):
    path = shared_data / NYC_FILE
    refused = run("import", street, path, "--as", "incidents", "--mapping", "open311-nyc")
    _clean_failure(refused, code=1)
    assert "62 bad row(s)" in refused.output
    result = run(
        "import", street, path, "--as", "incidents", "--mapping", "open311-nyc", "--skip-bad"
    )
    assert result.exit_code == 0, result.output
    assert "imported         4907" in result.output and "skipped          62" in result.output
    assert "and 52 more" in result.output and "unassigned 4907" in result.output


def test_import_errors_are_clean(street, tmp_path):
    _clean_failure(run("import", street, tmp_path / "nowhere.csv", "--as", "incidents"))
    _clean_failure(run("import", tmp_path / "none.gpkg", street, "--as", "incidents"))
    bad = tmp_path / "bad.csv"
    bad.write_text("id,lon,lat\nX,104.1,30.64\n", encoding="utf-8")
    result = run("import", street, bad, "--as", "households")
    _clean_failure(result)
    assert "required column 'persons'" in result.output
    _clean_failure(run("import", street, bad, "--as", "roads"))  # not an import kind


# ------------------------------------------------------------------------------ export


@pytest.mark.parametrize("what,ext", [("grids", "geojson"), ("aggregates", "csv"),
                                      ("incidents", "gpkg")])  # fmt: skip
def test_export_writes_each_what(street, tmp_path, what, ext):
    out = tmp_path / f"{what}.{ext}"
    result = run("export", street, what, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"({what}) to {out}" in result.output and out.exists()
    if ext == "geojson":
        doc = json.loads(out.read_text(encoding="utf-8"))
        assert "crs" not in doc and len(doc["features"]) == 97
    again = run("export", street, what, "--out", out)
    _clean_failure(again)
    assert "--force" in again.output
    assert run("export", street, what, "--out", out, "--force").exit_code == 0


def test_export_households_needs_the_flag(street, tmp_path):
    out = tmp_path / "households.csv"
    refused = run("export", street, "households", "--out", out)
    _clean_failure(refused)
    assert "personal" in refused.output and "--households" in refused.output
    assert not out.exists()
    result = run("export", street, "households", "--out", out, "--households")
    assert result.exit_code == 0 and out.exists()


def test_export_errors_are_clean(street, tmp_path):
    _clean_failure(run("export", street, "grids", "--out", tmp_path / "g.xlsx"))
    _clean_failure(run("export", street, "grids", "--out", tmp_path / "g.csv", "--plan", 99))
    _clean_failure(run("export", street, "members", "--out", tmp_path / "m.csv"))


# ------------------------------------------------------------------------------ plans


def test_plans_list_publish_archive_and_save(street, sample_plan, tmp_path):
    from gridmap.plan import write_plan

    listed = run("plans", street)
    assert listed.exit_code == 0 and "published" in listed.output and "first" in listed.output
    assert run("plans", street, "list").output == listed.output

    plan_file = tmp_path / "plan.gpkg"
    write_plan(sample_plan, plan_file)
    saved = run("plans", street, "save", plan_file, "--note", "from file", "--actor", "bob")
    assert saved.exit_code == 0, saved.output
    assert "draft plan 2" in saved.output
    third = run("plans", street, "save", plan_file)
    assert "draft plan 3" in third.output
    assert "nan" not in run("plans", street, "list").output  # drafts: a blank publish time

    published = run("plans", street, "publish", 2, "--actor", "carol")
    assert published.exit_code == 0 and "Published plan 2" in published.output
    archived = run("plans", street, "archive", 3)
    assert archived.exit_code == 0 and "Archived plan 3" in archived.output
    table = run("plans", street, "list").output
    assert "bob" in table and "from file" in table
    assert _audit_actors(street, "publish")[0] == "carol"

    _clean_failure(run("plans", street, "publish", 1))  # archived: not a draft
    _clean_failure(run("plans", street, "archive", 2))  # published
    missing = run("plans", street, "publish", 99)
    _clean_failure(missing)
    assert "no plan 99" in missing.output
    _clean_failure(run("plans", tmp_path / "none.gpkg", "list"))
    _clean_failure(run("plans", street, "save", tmp_path / "none.gpkg"))


def test_plans_new_partitions_and_publishes(street):
    result = run("plans", street, "new", "--grids", 60, "--publish", "--note", "sixty")
    assert result.exit_code == 0, result.output
    assert "Saved 60 grids as draft plan 2" in result.output and "Published plan 2" in result.output
    ws = Workspace(street)
    try:
        assert ws.published().plan_id == 2 and len(ws.plan_grids(2)) == 60
    finally:
        ws.close()


# ------------------------------------------------------------------------------ incidents


def test_incidents_list_transition_escalate_and_stats(street, tmp_path):
    listed = run("incidents", street, "list", "--status", "reported", "--limit", 5)
    assert listed.exit_code == 0, listed.output
    assert "5 of" in listed.output
    first = listed.output.splitlines()[2].split()[0]
    assert first.startswith("E")
    from gridmap import incidents as engine

    ws = Workspace(street)
    try:
        reported = engine.incidents(ws, status="reported")
    finally:
        ws.close()
    newest = reported.sort_values("reported_at", kind="stable").iloc[::-1]
    shown = [line.split()[0] for line in listed.output.splitlines()[2:7]]
    assert shown == newest["id"].head(5).tolist()  # the newest five, newest first
    assert f"5 of {len(reported)} incident(s) shown." in listed.output

    accepted = run("incidents", street, "transition", first, "accepted", "--actor", "dave")
    assert accepted.exit_code == 0, accepted.output
    assert f"Incident {first}: reported -> accepted" in accepted.output
    refused = run("incidents", street, "transition", first, "closed")
    _clean_failure(refused)
    unknown = run("incidents", street, "transition", "NO-SUCH-ID", "accepted")
    _clean_failure(unknown)

    escalated = run("incidents", street, "escalate", first, "--note", "needs the community")
    assert escalated.exit_code == 0 and "community" in escalated.output

    only = run("incidents", street, "list", "--status", "accepted", "--limit", 0)
    assert first in only.output
    _clean_failure(run("incidents", street, "list", "--status", "sleeping"))
    _clean_failure(run("incidents", street, "list", "--since", "not a date"))

    out = tmp_path / "stats.csv"
    stats = run("incidents", street, "stats", "--out", out)
    assert stats.exit_code == 0, stats.output
    assert "median hours to close" in stats.output and out.exists()
    table = pd.read_csv(out, dtype={"code": str})
    assert len(table) >= 97 and (table["total"] >= 0).all()
    monthly = run("incidents", street, "stats", "--period", "month", "--by", "community")
    assert monthly.exit_code == 0 and "period" in monthly.output


def test_incident_commands_without_a_published_plan(sample_workspace, tmp_path):
    bare = tmp_path / "bare.gpkg"
    shutil.copy(sample_workspace, bare)
    result = run("incidents", bare, "stats")
    _clean_failure(result)
    assert "publish" in result.output
    assert run("incidents", bare).exit_code == 0  # listing needs no plan
