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


#: Entry-point group through which other packages add commands (the web app adds ``serve``),
#: so that the engine never imports them.
PLUGIN_GROUP = "gridmap.commands"


def _plugins() -> dict[str, Any]:
    """Entry points of :data:`PLUGIN_GROUP` by command name (not loaded yet)."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP)}


class _Group(click.Group):
    """A command group that turns gridmap errors into clean messages.

    Commands of other installed packages (:data:`PLUGIN_GROUP` entry points) are listed with
    the built-in ones and imported only when run or asked for help.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_plugins()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in (plugins := _plugins()):
            command = plugins[name].load()
        return command

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
    "--barriers",
    default="default",
    show_default=True,
    metavar="MODE|CLASS=MODE,...",
    help="Crossing the river (water) or an arterial road: forbid, penalise or ignore, for both "
    "or per class (water=forbid,arterial=penalise). default: forbid the river where each "
    "community's land allows it, penalise arterials.",
)
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
    barriers: str,
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
    from gridmap.partition import resolve_barriers
    from gridmap.plan import make_plan, partition_units, write_plan

    modes = resolve_barriers(barriers)  # a typo is refused before any work
    if out.suffix.lower() not in io.WRITE_FORMATS:
        raise UserError(
            f"{out}: cannot write a plan as {out.suffix or 'a file without extension'}; "
            f"end --out in {', '.join(io.WRITE_FORMATS)}."
        )
    ctx = click.get_current_context()
    given = [
        f"--{name[:3] if name != 'target' else name}"
        for name in ("target", "minimum", "maximum")
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    ]
    if given and (grids is not None or per_community):
        raise UserError(
            f"{' and '.join(given)} set the households per grid, while --grids or "
            "--per-community set the number of grids: give one or the other."
        )
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
        if barriers.strip().lower() != "default":
            raise UserError("--barriers needs a workspace's roads and water; units mode has none.")
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
                progress=advance, barriers=modes,
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
    "--barriers",
    default="default",
    show_default=True,
    metavar="MODE|CLASS=MODE,...",
    help="Crossing the river (water) or an arterial road, read as by partition: forbid (no "
    "unit moves across; a grid across keeps its larger side), penalise (a move leaving a "
    "crossing costs households) or ignore, for both or per class (water=forbid,"
    "arterial=penalise). default: forbid the river where each community's land allows it, "
    "penalise arterials.",
)
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
    barriers: str,
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
    from gridmap.partition import resolve_barriers
    from gridmap.plan import read_plan, write_plan
    from gridmap.redraw import redraw

    modes = resolve_barriers(barriers)  # a typo is refused before any work
    _check_out(out, force)
    before = read_plan(previous, id_column=id_column)
    layers = io.read_workspace(workspace)
    codes = [c.strip() for c in (locked or "").split(",") if c.strip()]
    with _progress(f"Redrawing {previous.name}") as advance:
        result = redraw(
            layers, before, weight=weight, target=target, minimum=minimum, maximum=maximum,
            locked=codes, progress=advance, barriers=modes,
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


# ------------------------------------------------------------------ the workspace store


def _os_user() -> str:
    """The OS user name (the default --actor), or ``gridmap`` when it cannot be found."""
    import getpass

    try:
        return getpass.getuser() or "gridmap"
    except (KeyError, OSError):  # no user name in the environment or the password database
        return "gridmap"


def _actor_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--actor NAME``: who makes the change, kept in the workspace's audit log."""
    return click.option(
        "--actor",
        default=_os_user,
        show_default="your OS user name",
        help="Who makes the change, for the workspace's audit log.",
    )(command)


def _workspace(path: Path, actor: str = "gridmap") -> Any:
    """Open a workspace store (a GeoPackage made by `gridmap sample` or Workspace.create)."""
    from gridmap.store import Workspace

    return Workspace(path, actor=actor)


#: Import kinds, export choices and mapping presets (kept equal to gridmap.transfer's, which
#: is imported only when a command runs).
IMPORT_KINDS = ("households", "buildings", "incidents")
EXPORT_CHOICES = ("grids", "aggregates", "incidents", "households")
MAPPING_PRESETS = ("open311-nyc",)


@cli.command("import")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--as",
    "kind",
    type=click.Choice(IMPORT_KINDS),
    required=True,
    help="What the file holds: households, buildings or incidents.",
)
@click.option(
    "--skip-bad",
    is_flag=True,
    help="Import the good rows of a file with bad rows and list the skipped ones (by default a "
    "file with bad rows imports nothing).",
)
@click.option(
    "--mapping",
    type=click.Choice(MAPPING_PRESETS),
    help="Read a file with other columns through a preset: open311-nyc for NYC 311 service "
    "requests (as incidents).",
)
@_read_options
@click.option("--all-rows", is_flag=True, help="List every skipped row, not just the first ten.")
@_actor_option
def import_command(
    workspace: Path,
    file: Path,
    kind: str,
    skip_bad: bool,
    mapping: str | None,
    layer: str | None,
    read_options: dict[str, str],
    all_rows: bool,
    actor: str,
) -> None:
    """Import households, buildings or incidents from FILE into the WORKSPACE store.

    FILE is a CSV with lon/lat columns, a GeoJSON or a GeoPackage. Every row is checked
    against the layer's columns and allowed values; a file with bad rows imports nothing
    unless --skip-bad is given. Rows whose id is in the workspace already are left as they
    are, and a file imported before is recognised by its SHA-256, so importing twice adds
    nothing twice. Incidents get the grid of the published plan. Exits with 1 when bad rows
    stopped the import.
    """
    from gridmap.errors import MAX_ROWS_SHOWN
    from gridmap.transfer import BadRowsError, import_file

    limit = sys.maxsize if all_rows else MAX_ROWS_SHOWN
    ws = _workspace(workspace, actor)
    try:
        report = import_file(
            ws, file, kind, skip_bad=skip_bad, mapping=mapping, layer=layer, **read_options
        )
    except BadRowsError as error:
        for problem in error.problems:
            click.echo(f"ERROR: {problem.describe(limit)}", err=True)
        click.echo(
            f"{len(error.rows)} bad row(s): nothing was imported from {file}. Correct them, "
            "or pass --skip-bad to import the good rows.",
            err=True,
        )
        sys.exit(EXIT_DATA_ERRORS)
    if report.already_imported:
        click.echo(
            f"{file} was imported already (same content, SHA-256 {report.sha256[:12]}...): "
            "nothing to do."
        )
        return
    _print_problems(report.problems)
    skipped = report.skipped_rows
    rows = [
        ("rows read", report.rows_read),
        ("imported", report.imported),
        ("already present", report.already_present),
        ("skipped", len(skipped)),
    ]
    click.echo(_table(rows, [f"{kind}", "rows"]))
    if skipped:
        click.echo("")
        click.echo("Skipped rows:")
        for row in skipped[:limit]:
            click.echo(f"  row {row}: {report.skipped[row]}")
        if len(skipped) > limit:
            click.echo(f"  ... and {len(skipped) - limit} more (--all-rows lists them).")
    if report.grid_flags:
        flags = ", ".join(f"{name} {count}" for name, count in report.grid_flags.items())
        click.echo(f"Grids of the imported incidents: {flags}.")
    click.echo(f"Imported {report.imported} {kind} into {workspace}.")


@cli.command("export")
@click.argument("workspace", type=click.Path(path_type=Path))
@click.argument("what", type=click.Choice(EXPORT_CHOICES))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write: .geojson (RFC 7946), .gpkg or .csv, in lon/lat.",
)
@click.option("--plan", "plan_id", type=int, help="The plan's id (default: the published plan).")
@click.option(
    "--households",
    "include_households",
    is_flag=True,
    help="Allow exporting household-level data, which is personal (needed for WHAT=households).",
)
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def export_command(
    workspace: Path,
    what: str,
    out: Path,
    plan_id: int | None,
    include_households: bool,
    force: bool,
) -> None:
    """Write WHAT from the WORKSPACE store to a file.

    WHAT is grids (of a plan), aggregates (per grid: households, persons, buildings,
    incidents by status and category, median hours to close), incidents (with their grid
    code) or households (only with --households: household-level data is personal).
    """
    from gridmap.transfer import export

    _check_out(out, force)
    count = export(
        _workspace(workspace), what, out, plan_id=plan_id, include_households=include_households
    )
    click.echo(f"Wrote {count} feature(s) ({what}) to {out}.")


@cli.group("plans", invoke_without_command=True)
@click.argument("workspace", type=click.Path(path_type=Path))
@click.pass_context
def plans_group(ctx: click.Context, workspace: Path) -> None:
    """List, make, keep, publish and archive the plan versions of WORKSPACE.

    A plan is kept as a draft (`new` partitions the workspace, `save` keeps a plan file),
    then published: the published plan gives incidents their grids, and publishing
    another archives it. Without a subcommand, the plans are listed.
    """
    ctx.obj = {"workspace": workspace}
    if ctx.invoked_subcommand is None:
        ctx.invoke(plans_list)


@plans_group.command("list")
@click.pass_context
def plans_list(ctx: click.Context) -> None:
    """List every plan version: status, author, times, grids and key metrics."""
    ws = _workspace(ctx.obj["workspace"])
    table = ws.plans()
    if table.empty:
        click.echo("No plans yet. Make one with `gridmap plans WORKSPACE new`.")
        return
    rows = [
        (r.plan_id, r.version, r.status, r.author, r.created_at, _cell(r.published_at),
         r.grids, _cell(r.in_range_share), _cell(r.mean_polsby_popper), r.note)
        for r in table.itertuples(index=False)
    ]  # fmt: skip
    headers = ["plan", "version", "status", "author", "created", "published", "grids",
               "in range", "mean PP", "note"]  # fmt: skip
    click.echo(_table(rows, headers))


@plans_group.command("publish")
@click.argument("plan_id", type=int)
@_actor_option
@click.pass_context
def plans_publish(ctx: click.Context, plan_id: int, actor: str) -> None:
    """Publish the draft PLAN_ID: the published plan is archived and open incidents move."""
    ws = _workspace(ctx.obj["workspace"], actor)
    moved = ws.publish(plan_id)
    record = ws.plan(plan_id)
    click.echo(
        f"Published plan {plan_id} (version {record.version}); "
        f"{moved} incident(s) given a new grid."
    )


@plans_group.command("archive")
@click.argument("plan_id", type=int)
@_actor_option
@click.pass_context
def plans_archive(ctx: click.Context, plan_id: int, actor: str) -> None:
    """Archive the draft PLAN_ID (a published plan is archived by publishing another)."""
    ws = _workspace(ctx.obj["workspace"], actor)
    ws.archive(plan_id)
    click.echo(f"Archived plan {plan_id}.")


@plans_group.command("save")
@click.argument("plan_file", type=click.Path(path_type=Path))
@click.option("--id", "id_column", help="Column naming the grids in PLAN_FILE (default: code).")
@click.option("--note", default="", help="A remark kept with the plan.")
@_actor_option
@click.pass_context
def plans_save(
    ctx: click.Context, plan_file: Path, id_column: str | None, note: str, actor: str
) -> None:
    """Keep PLAN_FILE as a new draft: a plan written by `gridmap partition` or any grids.

    A gridmap plan GeoPackage keeps its building assignments and metrics; for other grid
    polygons each building goes to the grid holding most of it.
    """
    from gridmap.transfer import save_plan_file

    ws = _workspace(ctx.obj["workspace"], actor)
    plan_id = save_plan_file(ws, plan_file, id_column=id_column, note=note)
    record = ws.plan(plan_id)
    click.echo(
        f"Saved {plan_file} as draft plan {plan_id} (version {record.version}). "
        f"Publish it with `gridmap plans {ctx.obj['workspace']} publish {plan_id}`."
    )


@plans_group.command("new")
@_range_options
@click.option("--grids", type=int, help="Number of grids instead of a target.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the partitioner.")
@click.option("--note", default="", help="A remark kept with the plan.")
@click.option("--publish", "publish_now", is_flag=True, help="Publish the new plan at once.")
@_actor_option
@click.pass_context
def plans_new(
    ctx: click.Context,
    weight: str,
    target: float,
    minimum: float,
    maximum: float,
    grids: int | None,
    seed: int,
    note: str,
    publish_now: bool,
    actor: str,
) -> None:
    """Partition the workspace (as `gridmap partition` does) and keep the plan as a draft."""
    from gridmap.plan import make_plan

    ws = _workspace(ctx.obj["workspace"], actor)
    with _progress("Partitioning") as advance:
        plan = make_plan(
            ws.layers(), target=target, minimum=minimum, maximum=maximum, grids=grids,
            weight=weight, seed=seed, progress=advance,
        )  # fmt: skip
    _print_problems(plan.problems)
    plan_id = ws.save_plan(plan, note=note)
    click.echo(_summary_table(plan.summary))
    click.echo(f"Saved {len(plan.grids)} grids as draft plan {plan_id}.")
    if publish_now:
        moved = ws.publish(plan_id)
        click.echo(f"Published plan {plan_id}; {moved} incident(s) given a new grid.")


def _incidents_module() -> Any:
    try:
        from gridmap import incidents
    except ImportError as error:  # pragma: no cover - an installation without the module
        raise UserError(f"incident commands are not available: {error}.") from None
    return incidents


#: Columns `gridmap incidents list` shows.
INCIDENT_LIST_COLUMNS = ("id", "status", "category", "priority", "grid_code", "handling_level",
                         "reported_at", "closed_at")  # fmt: skip


@cli.group("incidents", invoke_without_command=True)
@click.argument("workspace", type=click.Path(path_type=Path))
@click.pass_context
def incidents_group(ctx: click.Context, workspace: Path) -> None:
    """List incidents of WORKSPACE, move them through their lifecycle, count them per grid.

    Statuses: reported -> accepted -> in_progress -> resolved -> closed, or rejected /
    duplicate. Without a subcommand, the newest incidents are listed.
    """
    ctx.obj = {"workspace": workspace}
    if ctx.invoked_subcommand is None:
        ctx.invoke(incidents_list)


@incidents_group.command("list")
@click.option("--status", multiple=True, help="Keep this status (repeat for several).")
@click.option("--category", multiple=True, help="Keep this category (repeat for several).")
@click.option("--grid", multiple=True, help="Keep this grid code (repeat for several).")
@click.option("--since", help="Reported at or after this date/time, e.g. 2025-11-01.")
@click.option("--until", help="Reported before this date/time.")
@click.option("--open", "open_only", is_flag=True, help="Only open incidents.")
@click.option(
    "--limit", type=click.IntRange(min=0), default=20, show_default=True,
    help="Show at most this many, newest first (0: all).",
)  # fmt: skip
@click.pass_context
def incidents_list(
    ctx: click.Context,
    status: tuple[str, ...] = (),
    category: tuple[str, ...] = (),
    grid: tuple[str, ...] = (),
    since: str | None = None,
    until: str | None = None,
    open_only: bool = False,
    limit: int = 20,
) -> None:
    """List incidents, newest first, filtered by status, category, grid and time."""
    module = _incidents_module()
    ws = _workspace(ctx.obj["workspace"])
    filters = dict(
        status=list(status) or None, category=list(category) or None, grid=list(grid) or None,
        since=since, until=until, open_only=open_only,
    )  # fmt: skip
    # only the rows shown are read (paged in SQLite); the total is counted there
    shown = module.incidents(ws, **filters, newest_first=True, limit=limit or None)
    if shown.empty:
        click.echo("No incidents match.")
        return
    total = len(shown) if not limit else module.incident_count(ws, **filters)
    columns = [c for c in INCIDENT_LIST_COLUMNS if c in shown.columns]
    rows = [[_cell(v) for v in r] for r in shown[columns].itertuples(index=False)]
    click.echo(_table(rows, columns))
    click.echo(f"{len(shown)} of {total} incident(s) shown.")


@incidents_group.command("transition")
@click.argument("incident_id")
@click.argument("status")
@click.option("--note", default="", help="A remark kept with the change.")
@click.option("--at", help="When it happened (default: now), e.g. 2025-11-03T14:00.")
@_actor_option
@click.pass_context
def incidents_transition(
    ctx: click.Context, incident_id: str, status: str, note: str, at: str | None, actor: str
) -> None:
    """Move incident INCIDENT_ID to STATUS (one its current status allows)."""
    module = _incidents_module()
    ws = _workspace(ctx.obj["workspace"], actor)
    event = module.transition(ws, incident_id, status, actor=actor, note=note, at=at)
    before = event.get("from_status") if isinstance(event, dict) else None
    click.echo(
        f"Incident {incident_id}: {before or '?'} -> {status}"
        + (f" at {event.get('at')}" if isinstance(event, dict) and event.get("at") else "")
        + "."
    )


@incidents_group.command("escalate")
@click.argument("incident_id")
@click.option("--note", default="", help="Why, kept in the audit log.")
@_actor_option
@click.pass_context
def incidents_escalate(ctx: click.Context, incident_id: str, note: str, actor: str) -> None:
    """Hand incident INCIDENT_ID one level up: grid -> community -> street."""
    module = _incidents_module()
    ws = _workspace(ctx.obj["workspace"], actor)
    level = module.escalate(ws, incident_id, actor=actor, note=note)
    click.echo(f"Incident {incident_id} is now handled by the {level}.")


#: Columns `gridmap incidents stats` shows (all are written with --out).
STATS_COLUMNS = ("code", "community", "period", "households", "total", "open",
                 "per_1000_households", "median_hours_to_close", "p90_hours_to_close",
                 "sla_share")  # fmt: skip


@incidents_group.command("stats")
@click.option(
    "--period", type=click.Choice(["month", "week", "all"]), default="all", show_default=True,
    help="Count per month, per ISO week, or over the whole time.",
)  # fmt: skip
@click.option(
    "--by", type=click.Choice(["grid", "community"]), default="grid", show_default=True,
    help="Count per grid or per community of the published plan.",
)  # fmt: skip
@click.option("--since", help="Count incidents reported at or after this date/time.")
@click.option("--until", help="Count incidents reported before this date/time.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every column to this CSV file.",
)  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
@click.pass_context
def incidents_stats(
    ctx: click.Context,
    period: str,
    by: str,
    since: str | None,
    until: str | None,
    out: Path | None,
    force: bool,
) -> None:
    """Incidents per grid (or community) of the published plan: counts and time to close."""
    from gridmap import io

    module = _incidents_module()
    _check_out(out, force)
    ws = _workspace(ctx.obj["workspace"])
    table = module.stats(
        ws, period=None if period == "all" else period, by=by, since=since, until=until
    )
    columns = [c for c in STATS_COLUMNS if c in table.columns]
    rows = [[_cell(v) for v in r] for r in table[columns].itertuples(index=False)]
    click.echo(_table(rows, [c.replace("_", " ") for c in columns]))
    if "total" in table.columns and "closed" in table.columns:
        click.echo(f"{int(table['total'].sum())} incident(s), {int(table['closed'].sum())} closed.")
    if out is not None:
        io.write_csv(table, out)
        click.echo(f"Wrote {len(table)} row(s) to {out}.")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``gridmap`` command (the console-script entry point)."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="gridmap")


if __name__ == "__main__":
    main()


@cli.group("users", invoke_without_command=True)
@click.argument("workspace", type=click.Path(path_type=Path))
@click.pass_context
def users_group(ctx: click.Context, workspace: Path) -> None:
    """Manage who may log in to the web app for WORKSPACE, and the API tokens of intake clients.

    Roles: viewer (maps, grids, aggregates), editor (also redraws, publishes, moves incidents
    and exports household data), admin (also users). Without a subcommand, users are listed.
    """
    ctx.obj = {"workspace": workspace}
    if ctx.invoked_subcommand is None:
        ctx.invoke(users_list)


@users_group.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """List the users and the API tokens (never their secrets)."""
    from gridmap import accounts

    ws = _workspace(ctx.obj["workspace"])
    table = accounts.users(ws)
    if table.empty:
        click.echo("No users yet. Add one with `gridmap users WORKSPACE add NAME --role admin`.")
    else:
        rows = [(r.name, r.role, r.created_at, "disabled" if r.disabled else "active")
                for r in table.itertuples(index=False)]  # fmt: skip
        click.echo(_table(rows, ["user", "role", "created", "state"]))
    live = accounts.tokens(ws)
    if not live.empty:
        rows = [(r.label, r.role, r.created_at, r.created_by, r.revoked_at or "live")
                for r in live.itertuples(index=False)]  # fmt: skip
        click.echo("\n" + _table(rows, ["token", "role", "created", "by", "state"]))


@users_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["viewer", "editor", "admin"]),
    default="viewer",
    show_default=True,
    help="What the user may do.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of asking for it.",
)
@click.option("--replace", is_flag=True, help="Reset the password and role of an existing user.")
@_actor_option
@click.pass_context
def users_add(
    ctx: click.Context, name: str, role: str, password_stdin: bool, replace: bool, actor: str
) -> None:
    """Add user NAME (the password is asked for twice, or read with --password-stdin)."""
    from gridmap import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    ws = _workspace(ctx.obj["workspace"], actor)
    account = accounts.add_user(ws, name, password, role, replace=replace)
    click.echo(f"User {account.name} ({account.role}) can log in now.")


@users_group.command("remove")
@click.argument("name")
@_actor_option
@click.pass_context
def users_remove(ctx: click.Context, name: str, actor: str) -> None:
    """Disable user NAME: no more log-ins (kept for the audit log)."""
    from gridmap import accounts

    accounts.remove_user(_workspace(ctx.obj["workspace"], actor), name)
    click.echo(f"User {name} is disabled.")


@users_group.command("token")
@click.argument("label")
@click.option(
    "--role",
    type=click.Choice(["intake", "viewer", "editor", "admin"]),
    default="intake",
    show_default=True,
    help="intake: report incidents only.",
)
@_actor_option
@click.pass_context
def users_token(ctx: click.Context, label: str, role: str, actor: str) -> None:
    """Create an API token for an intake client named LABEL; it is shown only once."""
    from gridmap import accounts

    token = accounts.create_token(_workspace(ctx.obj["workspace"], actor), label, role, by=actor)
    click.echo(f"Token for {label} ({role}); keep it, it is not shown again:\n{token}")


@users_group.command("revoke")
@click.argument("label")
@_actor_option
@click.pass_context
def users_revoke(ctx: click.Context, label: str, actor: str) -> None:
    """Revoke the API tokens labelled LABEL."""
    from gridmap import accounts

    count = accounts.revoke_token(_workspace(ctx.obj["workspace"], actor), label, by=actor)
    if not count:
        raise UserError(f"no live token is labelled {label!r}; list them: gridmap users WORKSPACE")
    click.echo(f"Revoked {count} token(s) labelled {label}.")
