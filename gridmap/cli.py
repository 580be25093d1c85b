"""The ``gridmap`` command: generate the sample street, validate data, and (later) partition.

Errors meant for users are printed as one clear message, never a traceback; set the
environment variable ``GRIDMAP_DEBUG=1`` to see the traceback of an unexpected error.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from gridmap import __version__
from gridmap.errors import GridmapError
from gridmap.schema import LAYERS

#: Exit codes: 0 fine, 1 the data has errors, 2 the command could not run, 3 a bug.
EXIT_DATA_ERRORS = 1
EXIT_USAGE = 2
EXIT_BUG = 3

DEFAULT_SAMPLE = Path("sample_street.gpkg")


class UserError(click.ClickException):
    """An error the user can fix, printed without a traceback."""

    exit_code = EXIT_USAGE


class _Group(click.Group):
    """A command group that turns gridmap errors into clean messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GridmapError as exc:
            raise UserError(str(exc)) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as exc:  # noqa: BLE001 - last line of defence for users
            if os.environ.get("GRIDMAP_DEBUG"):
                traceback.print_exc()
            message = (
                f"unexpected error: {type(exc).__name__}: {exc}\n"
                "This is a bug in gridmap. Run again with GRIDMAP_DEBUG=1 to see the details "
                "and report them with the command you ran."
            )
            error = UserError(message)
            error.exit_code = EXIT_BUG
            raise error from exc


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int, str], None]]:
    """A click progress bar on stderr; yields ``advance(step, steps, label)``.

    The bar is drawn once the number of steps is known, at the first call.
    """
    bars: list[Any] = []

    def advance(step: int, steps: int, item: str) -> None:
        if not bars:
            bar = click.progressbar(
                length=steps, label=label, file=sys.stderr, show_pos=True,
                item_show_func=lambda shown: shown or "",
            )  # fmt: skip
            bars.append(bar.__enter__())
        bar = bars[0]
        if bar.length != steps:
            bar.length = steps
        bar.update(max(0, step - bar.pos), item)

    try:
        yield advance
    finally:
        if bars:
            bars[0].update(bars[0].length - bars[0].pos)
            bars[0].__exit__(None, None, None)


def _table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """Format rows as a plain-text table with a header line."""
    text = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in text) for i in range(len(headers))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in text]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gridmap")
def cli() -> None:
    """gridmap: divide a street into balanced management grids and map its incidents.

    Start with `gridmap validate sample_data/sample_street.gpkg` to see the committed
    sample street, or `gridmap sample` to generate one.
    """


@cli.command()
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_SAMPLE,
    show_default=True,
    help="GeoPackage to write.",
)
@click.option("--seed", type=int, default=None, help="Random seed (default: the sample's seed).")
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def sample(out: Path, seed: int | None, force: bool) -> None:
    """Generate the synthetic sample street as a workspace GeoPackage.

    The same seed always gives the same file, byte for byte.
    """
    if out.suffix.lower() != ".gpkg":
        raise UserError(f"{out}: a workspace is a GeoPackage; give --out a name ending in .gpkg.")
    if out.exists() and not force:
        raise UserError(f"{out} exists already. Pass --force to overwrite it.")
    if not out.parent.exists():
        raise UserError(f"folder {out.parent} does not exist. Create it or choose another --out.")
    from gridmap.sample import DEFAULT_SEED, SAMPLE_STEPS, write_sample

    seed = DEFAULT_SEED if seed is None else seed
    with _progress(f"Generating sample street (seed {seed})") as advance:

        def step(name: str) -> None:
            advance(SAMPLE_STEPS.index(name), len(SAMPLE_STEPS), name)

        counts = write_sample(out, seed=seed, progress=step)
    click.echo(_table(sorted(counts.items()), ["layer", "features"]))
    click.echo(f"Wrote {out} ({out.stat().st_size / 1e6:.1f} MB).")


def _format_bounds(bounds: tuple[float, float, float, float] | None) -> str:
    if bounds is None:
        return ""
    return "{:.4f},{:.4f} .. {:.4f},{:.4f}".format(*bounds)


_READ_OPTION_NAMES = ("layer", "crs", "lon", "lat", "x", "y", "coords", "encoding")


def _read_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options that say how to read a data file; the command gets them as one dict.

    The wrapped command receives ``layer`` and ``read_options`` (the keyword arguments of
    :func:`gridmap.io.read_layer` that the user gave).
    """

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in _READ_OPTION_NAMES}
        layer = given.pop("layer")
        if given["coords"] == "wgs84":
            del given["coords"]
        read_options = {k: v for k, v in given.items() if v is not None}
        return command(layer=layer, read_options=read_options, **kwargs)

    options = [
        click.option("--layer", help="The layer of the file to read."),
        click.option("--crs", help="CRS of a file that has none, e.g. EPSG:4547."),
        click.option("--lon", help="Longitude column of a CSV (detected if not given)."),
        click.option("--lat", help="Latitude column of a CSV (detected if not given)."),
        click.option("--x", help="Projected x column of a CSV (with --y and --crs)."),
        click.option("--y", help="Projected y column of a CSV (with --x and --crs)."),
        click.option(
            "--coords",
            type=click.Choice(["wgs84", "gcj02", "bd09"]),
            default="wgs84",
            show_default=True,
            help="Coordinate system of lon/lat data: gcj02 for AMap/Tencent, bd09 for Baidu.",
        ),
        click.option("--encoding", help="Text encoding of a CSV or shapefile, e.g. gb18030."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@_read_options
@click.option(
    "--as",
    "kind",
    type=click.Choice(list(LAYERS)),
    help="Check the layer against this gridmap layer's columns.",
)
@click.option(
    "--all-rows", is_flag=True, help="List every row of each problem, not just the first ten."
)
def validate(
    path: Path,
    layer: str | None,
    read_options: dict[str, str],
    kind: str | None,
    all_rows: bool,
) -> None:
    """Check a workspace or any data file and list every problem found.

    Prints a table of layers (features, geometry, CRS, extent) and each problem with the
    file, layer, rows and fix. Exits with 1 when the data cannot be used as it is.
    """
    from gridmap.errors import MAX_ROWS_SHOWN
    from gridmap.layers import validate_path

    limit = sys.maxsize if all_rows else MAX_ROWS_SHOWN
    with _progress(f"Validating {path.name}") as advance:
        report = validate_path(path, layer=layer, kind=kind, progress=advance, **read_options)
    rows = [
        (s.name, s.kind or "-", s.features, s.geometry_type or "(table)", s.crs or "-",
         s.repaired or "", _format_bounds(s.bounds))
        for s in report.layers
    ]  # fmt: skip
    click.echo(_table(rows, ["layer", "as", "features", "geometry", "crs", "repaired", "extent"]))
    click.echo("")
    if not report.problems:
        click.echo("No problems found.")
    labels = {"error": "ERROR", "warning": "WARNING", "info": "note"}
    for severity in ("error", "warning", "info"):
        for problem in (p for p in report.problems if p.severity == severity):
            click.echo(f"{labels[severity]}: {problem.describe(limit)}")
    click.echo("")
    verdict = "cannot be used as it is" if report.errors else "is usable"
    click.echo(
        f"{len(report.errors)} error(s), {len(report.warnings)} warning(s): {path} {verdict}."
    )
    if report.errors:
        sys.exit(EXIT_DATA_ERRORS)


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@_read_options
@click.option("--force", is_flag=True, help="Overwrite TARGET if it exists.")
def convert(
    source: Path, target: Path, layer: str | None, read_options: dict[str, str], force: bool
) -> None:
    """Convert SOURCE to TARGET in WGS84 lon/lat: .geojson (RFC 7946), .gpkg or .csv.

    SOURCE is any file gridmap reads; lon/lat taken from AMap/Tencent (--coords gcj02) or
    Baidu (--coords bd09) are shifted back to WGS84 on the way.
    """
    from gridmap import io
    from gridmap.crs import to_wgs84

    if target.exists() and not force:
        raise UserError(f"{target} exists already. Pass --force to overwrite it.")
    data = io.read_layer(source, layer, **read_options)
    for note in data.attrs.get("problems", []):
        click.echo(f"{note.severity}: {note}", err=True)
    if getattr(data, "crs", None) is not None:
        data = to_wgs84(data)
    io.write_layer(data, target, layer=layer)
    click.echo(f"Wrote {len(data)} feature(s) to {target}.")


@cli.command()
@click.argument("workspace", required=False, type=click.Path(path_type=Path))
@click.option(
    "--units",
    "units_file",
    type=click.Path(path_type=Path),
    help="Units mode: partition these polygons (blocks, tracts) instead of a workspace.",
)
@click.option(
    "--weight",
    default=None,
    help="Column to balance: households (default) or persons; in units mode, any numeric column.",
)
@click.option("--target", type=float, default=400, show_default=True, help="Households per grid.")
@click.option(
    "--min",
    "minimum",
    type=float,
    default=300,
    show_default=True,
    help="Fewest households a grid may hold.",
)
@click.option(
    "--max",
    "maximum",
    type=float,
    default=500,
    show_default=True,
    help="Most households a grid may hold.",
)
@click.option("--grids", type=int, help="Number of grids instead of a target.")
@click.option(
    "--per-community",
    metavar="CODE=N,...",
    help="Number of grids of each community instead of a target, e.g. 001=12,002=9 "
    "(full codes or their last 3 digits; every community named).",
)
@click.option("--nest", help="Units mode: column whose values grids must nest in.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the partitioner.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Plan to write: .gpkg, .geojson or .csv.",
)
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def partition(
    workspace: Path | None,
    units_file: Path | None,
    weight: str | None,
    target: float,
    minimum: float,
    maximum: float,
    grids: int | None,
    per_community: str | None,
    nest: str | None,
    seed: int,
    out: Path,
    force: bool,
) -> None:
    """Divide a street into balanced, contiguous, compact grids and write the plan.

    WORKSPACE mode: grids of --min..--max households (target --target), or --grids grids,
    nested in communities, following roads and the river, never splitting a building.
    Units mode (--units FILE --weight COLUMN --grids K [--nest COLUMN]): partition polygons
    that already carry counts.
    """  # fmt: skip
    from gridmap import io
    from gridmap.plan import make_plan, partition_units, write_plan

    if (workspace is None) == (units_file is None):
        raise UserError("give either a WORKSPACE or --units FILE (not both).")
    if out.exists() and not force:
        raise UserError(f"{out} exists already. Pass --force to overwrite it.")
    counts = _parse_counts(per_community) if per_community else None
    if counts is not None and grids is not None:
        raise UserError("give --grids or --per-community, not both.")
    if units_file is not None:
        if counts is not None:
            raise UserError("--per-community is for a workspace; in units mode use --grids.")
        if grids is None or weight is None:
            raise UserError("units mode needs --weight COLUMN and --grids K.")
        units = io.read_layer(units_file)
        with _progress(f"Partitioning {units_file.name}") as advance:
            advance(0, 1, "partition")
            plan = partition_units(units, weight=weight, grids=grids, nest=nest, seed=seed)
    else:
        layers = io.read_workspace(workspace)
        with _progress(f"Partitioning {workspace.name}") as advance:
            plan = make_plan(
                layers, target=target, minimum=minimum, maximum=maximum, grids=grids,
                per_community=counts, weight=weight or "households", seed=seed,
                progress=advance,
            )  # fmt: skip
    for problem in plan.problems:
        click.echo(f"{problem.severity}: {problem}", err=True)
    write_plan(plan, out)
    click.echo(_summary_table(plan.summary))
    click.echo(f"Wrote {len(plan.grids)} grids to {out}.")


def _parse_counts(text: str) -> dict[str, int]:
    """Parse ``--per-community``: comma-separated ``CODE=N`` pairs."""
    counts: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        code, sep, number = item.partition("=")
        if not sep or not code.strip() or not number.strip().isdigit():
            raise UserError(
                f"--per-community: cannot read {item!r}; write CODE=N pairs, e.g. 001=12,002=9."
            )
        counts[code.strip()] = int(number)
    if not counts:
        raise UserError("--per-community is empty; write CODE=N pairs, e.g. 001=12,002=9.")
    return counts


@cli.command()
@click.argument("plan", type=click.Path(path_type=Path))
@click.argument("points", type=click.Path(path_type=Path))
@_read_options
@click.option("--id", "id_column", help="Column naming the grids in PLAN (default: code).")
@click.option(
    "--tolerance",
    type=float,
    default=30.0,
    show_default=True,
    help="Metres within which a point outside every grid is snapped to the nearest grid.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write: POINTS with grid_code, grid_flag and grid_distance_m columns "
    "(.geojson, .gpkg or .csv, lon/lat).",
)
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def assign(
    plan: Path,
    points: Path,
    layer: str | None,
    read_options: dict[str, str],
    id_column: str | None,
    tolerance: float,
    out: Path,
    force: bool,
) -> None:
    """Give every point of POINTS the code of the grid holding it.

    PLAN is a gridmap plan or any polygon file of grids. POINTS is any file gridmap reads
    (CSV with lon/lat, GeoJSON, GeoPackage; any CRS; --coords gcj02/bd09 for lon/lat from
    Chinese map services). Each point gets grid_code, grid_flag (inside, snapped: outside
    but within --tolerance of a grid, unassigned, invalid: no coordinates) and
    grid_distance_m; polygons (buildings) go to the grid holding most of them (grid_share).
    Prints the count per flag.
    """
    import geopandas as gpd
    import numpy as np

    from gridmap import io
    from gridmap.crs import to_wgs84
    from gridmap.index import GridIndex
    from gridmap.plan import read_plan

    _check_out(out, force)
    grids = read_plan(plan, id_column=id_column)
    data = io.read_layer(points, layer, **read_options)
    if not isinstance(data, gpd.GeoDataFrame):
        raise UserError(f"{points} has no coordinates to assign: give a point file.")
    for note in data.attrs.get("problems", []):
        click.echo(f"{note.severity}: {note}", err=True)
    index = GridIndex(grids, tolerance=tolerance)
    kinds = set(data.geom_type.dropna())
    if kinds and kinds <= {"Polygon", "MultiPolygon"}:
        codes, share = index.assign_polygons(data)
        data = data.assign(grid_code=codes, grid_share=np.round(share, 4))
        counts = {"assigned": int(sum(c is not None for c in codes))}
        counts["outside every grid"] = len(codes) - counts["assigned"]
    else:
        if len(data) > 200_000:
            with click.progressbar(length=len(data), label="Assigning", file=sys.stderr) as bar:
                done = [0]

                def advance(finished: int, total: int) -> None:
                    bar.update(finished - done[0])
                    done[0] = finished

                result = index.assign_points(data, chunk=200_000, progress=advance)
        else:
            result = index.assign_points(data)
        columns = result.to_frame()
        data = data.assign(**{name: columns[name].to_numpy() for name in columns.columns})
        counts = result.counts()
    click.echo(_table([(flag, count) for flag, count in counts.items()], ["flag", "points"]))
    if "invalid" in counts and counts["invalid"]:
        click.echo(f"{counts['invalid']} point(s) have no usable coordinates (grid_flag invalid).")
    io.write_layer(to_wgs84(data), out)
    click.echo(f"Wrote {len(data)} feature(s) to {out}.")


def _range_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --weight, --target, --min and --max (households per grid) to a command."""
    for option in reversed(
        [
            click.option("--weight", type=click.Choice(["households", "persons"]),
                         default="households", show_default=True, help="What grids balance."),
            click.option("--target", type=float, default=400, show_default=True,
                         help="Households per grid wanted."),
            click.option("--min", "minimum", type=float, default=300, show_default=True,
                         help="Fewest households a grid may hold."),
            click.option("--max", "maximum", type=float, default=500, show_default=True,
                         help="Most households a grid may hold."),
        ]
    ):  # fmt: skip
        command = option(command)
    return command


def _check_out(out: Path | None, force: bool) -> None:
    if out is not None and out.exists() and not force:
        raise UserError(f"{out} exists already. Pass --force to overwrite it.")


def _print_problems(problems: Sequence[Any]) -> None:
    for problem in problems:
        click.echo(f"{problem.severity}: {problem}", err=True)


@cli.command("import-plan")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.argument("grids_file", type=click.Path(path_type=Path))
@click.option("--id", "id_column", help="Column naming each grid (default: code).")
@_range_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write today's plan, mapped onto units, as a gridmap plan (.gpkg, .geojson, .csv).",
)
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def import_plan_command(
    workspace: Path,
    grids_file: Path,
    id_column: str | None,
    weight: str,
    target: float,
    minimum: float,
    maximum: float,
    out: Path | None,
    force: bool,
) -> None:
    """Read today's hand-drawn grids and report how they measure up.

    GRIDS_FILE holds the street office's grid polygons (GeoJSON, GeoPackage, Shapefile; any
    CRS). They are mapped onto the street's units (each unit to the grid holding most of it);
    the report lists gaps, overlaps and slivers in the drawing, buildings cut by its lines,
    grids crossing community lines, grids out of range, and the plan's metrics.
    """
    from gridmap import io
    from gridmap.plan import read_plan, write_plan
    from gridmap.redraw import import_plan

    _check_out(out, force)
    drawn = read_plan(grids_file, id_column=id_column)
    layers = io.read_workspace(workspace)
    with _progress(f"Importing {grids_file.name}") as advance:
        imported = import_plan(
            layers, drawn, weight=weight, target=target, minimum=minimum, maximum=maximum,
            progress=advance,
        )  # fmt: skip
    _print_problems(imported.problems)
    check = imported.check
    click.echo(
        _table(
            [
                ("drawn grids", len(drawn.grids)),
                ("gaps (m2)", f"{check.gaps['area_m2'].sum():,.0f} in {len(check.gaps)}"),
                (
                    "overlaps (m2)",
                    f"{check.overlaps['area_m2'].sum():,.0f} in {len(check.overlaps)}",
                ),
                ("slivers", f"{check.slivers} ({check.sliver_m2:,.0f} m2)"),
                ("buildings cut", len(check.buildings_cut)),
                ("grids crossing communities", len(check.crossing)),
            ],
            ["drawing", "found"],
        )
    )
    click.echo(_summary_table(imported.plan.summary))
    if out is not None:
        write_plan(imported.plan, out)
        click.echo(f"Wrote {len(imported.plan.grids)} grids to {out}.")


@cli.command("redraw")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.option(
    "--from",
    "previous",
    type=click.Path(path_type=Path),
    required=True,
    help="The previous plan: a gridmap plan file, or drawn grid polygons.",
)
@click.option("--id", "id_column", help="Column naming each grid in --from (default: code).")
@_range_options
@click.option("--lock", "locked", help="Grid codes to keep exactly as they are, comma-separated.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The redrawn plan to write: .gpkg, .geojson or .csv.",
)
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def redraw_command(
    workspace: Path,
    previous: Path,
    id_column: str | None,
    weight: str,
    target: float,
    minimum: float,
    maximum: float,
    locked: str | None,
    out: Path,
    force: bool,
) -> None:
    """Rebalance a previous plan, moving as few households as possible.

    Use it when households have changed (a new compound, a block torn down): every grid is
    brought into --min..--max, in one piece and inside one community; surviving grids keep
    their codes. Prints the households moved, the grids changed, added and retired, and the
    plan's metrics.
    """
    from gridmap import io
    from gridmap.plan import read_plan, write_plan
    from gridmap.redraw import redraw

    _check_out(out, force)
    before = read_plan(previous, id_column=id_column)
    layers = io.read_workspace(workspace)
    codes = [c.strip() for c in (locked or "").split(",") if c.strip()]
    with _progress(f"Redrawing {previous.name}") as advance:
        result = redraw(
            layers, before, weight=weight, target=target, minimum=minimum, maximum=maximum,
            locked=codes, progress=advance,
        )  # fmt: skip
    _print_problems(result.problems)
    click.echo(
        _table(
            [
                ("households moved", f"{result.households_moved} "
                 f"({100 * result.share_moved:.1f} % of {result.households_before})"),
                ("new households", result.new_households),
                ("grids changed", len(result.grids_changed)),
                ("grids added", ", ".join(result.added) or "-"),
                ("grids retired", ", ".join(result.retired) or "-"),
            ],
            ["change", "value"],
        )
    )  # fmt: skip
    click.echo(_summary_table(result.plan.summary))
    write_plan(result.plan, out)
    click.echo(f"Wrote {len(result.plan.grids)} grids to {out}.")


#: Flows listed by `gridmap compare`.
COMPARE_TOP_FLOWS = 10


@cli.command()
@click.argument("workspace", type=click.Path(path_type=Path))
@click.argument("before", type=click.Path(path_type=Path))
@click.argument("after", type=click.Path(path_type=Path))
@click.option(
    "--id",
    "id_column",
    metavar="COLUMN",
    help="Column naming the grids in hand-drawn plan files (default: code); a file without "
    "it, such as a gridmap plan, is read by code.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the changes: .csv (buildings that change grid, with _flows, _grids, _summary "
    "and _incidents CSVs beside it) or .geojson (their footprints, lon/lat).",
)
@click.option(
    "--households",
    "include_households",
    is_flag=True,
    help="Also list the households that change grid (in OUT_households.csv with a .csv OUT).",
)
@click.option("--force", is_flag=True, help="Overwrite OUT and its companion files if they exist.")
def compare(
    workspace: Path,
    before: Path,
    after: Path,
    id_column: str | None,
    out: Path | None,
    include_households: bool,
    force: bool,
) -> None:
    """Compare two plans of a street: which buildings, households and incidents change grid.

    WORKSPACE is the street's GeoPackage; BEFORE and AFTER are plan files (a GeoPackage written
    by `gridmap partition`, or any grid polygons: GeoJSON, Shapefile...). Prints the summary
    (grids kept, changed, added and retired; households moved; the plan metrics) and the
    largest flows of households between grids.
    """
    from gridmap import io
    from gridmap.compare import compare_plans

    if out is not None:
        if out.suffix.lower() not in (".csv", ".geojson", ".json"):
            raise UserError(f"{out}: give --out a name ending in .csv or .geojson.")
        if out.exists() and not force:
            raise UserError(f"{out} exists already. Pass --force to overwrite it.")
        if not out.parent.is_dir():
            raise UserError(
                f"folder {out.parent} does not exist. Create it or choose another --out."
            )
    layers = io.read_workspace(workspace)
    plans = [_read_plan_file(path, id_column) for path in (before, after)]
    result = compare_plans(*plans, layers, include_households=include_households)
    for problem in result.problems:
        click.echo(f"{problem.severity}: {problem}", err=True)
    if out is not None and not force:
        existing = [str(p) for p in result.output_paths(out) if p.exists()]
        if existing:
            raise UserError(f"{', '.join(existing)} exist(s) already. Pass --force to overwrite.")
    rows = [
        (row.metric.replace("_", " "), *(_cell(v) for v in (row.before, row.after, row.change)))
        for row in result.summary.itertuples(index=False)
    ]
    click.echo(_table(rows, ["metric", "before", "after", "change"]))
    flows = result.flows.head(COMPARE_TOP_FLOWS)
    click.echo("")
    if flows.empty:
        click.echo("Nothing changes grid.")
    else:
        click.echo(f"Largest flows ({len(flows)} of {len(result.flows)}):")
        rows = [
            (_cell(r.before) or "(no grid)", _cell(r.after) or "(no grid)",
             r.households, _cell(r.persons), r.buildings, r.incidents)
            for r in flows.itertuples(index=False)
        ]  # fmt: skip
        headers = ["from", "to", "households", "persons", "buildings", "incidents"]
        click.echo(_table(rows, headers))
    if out is not None:
        written = result.write(out)
        click.echo(f"Wrote {', '.join(str(p) for p in written)}.")


def _read_plan_file(path: Path, id_column: str | None) -> Any:
    """Read a plan file, by ``id_column`` when the file has that column, else by ``code``."""
    from gridmap.errors import InputError
    from gridmap.plan import read_plan

    if id_column is None:
        return read_plan(path)
    try:
        return read_plan(path, id_column=id_column)
    except InputError as first:
        try:
            plan = read_plan(path)
        except InputError:
            raise first from None
        if id_column in plan.grids.columns:
            raise first from None  # the column is there but its ids are unusable
        return plan


def _cell(value: Any) -> str:
    """A value for a table: blank when missing (None, NaN, NA), 4 significant digits for floats."""
    from pandas import isna

    if value is None or (not isinstance(value, str) and isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _summary_table(summary: dict[str, Any]) -> str:
    """The plan's metrics as a two-column table."""
    rows = []
    for key, value in summary.items():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue  # not measured for this request (no range in --grids mode)
        if isinstance(value, float):
            value = f"{value:.4g}"
        rows.append((key.replace("_", " "), value))
    return _table(rows, ["metric", "value"])


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``gridmap`` command (the console-script entry point)."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="gridmap")


if __name__ == "__main__":
    main()
