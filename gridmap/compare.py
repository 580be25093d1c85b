"""Compare two plans of the same street: which buildings, households and incidents change grid.

:func:`compare_plans` places every building of the workspace in a grid of each plan (by the
plan's own assignments, else by the largest overlap of its footprint with the grid polygons),
lets households follow their building and places incidents by the grid containing them.  Both
plans are measured the same way, so the per-grid counts compare like with like even when one
plan is a hand-drawn polygon file.

The result, a :class:`PlanComparison`, holds the per-building changes, the flows between pairs
of grids, the grids side by side with their status (kept, changed, added, retired) and a
summary table, and writes the changes as CSV or as RFC 7946 GeoJSON.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap import io
from gridmap.errors import InputError, Problem
from gridmap.metrics import plan_summary
from gridmap.plan import Plan, PlanFile, overlap_codes

#: The two sides of a comparison, in order.
SIDES = ("before", "after")

#: What happened to a grid between the two plans.
GRID_STATUSES = ("kept", "changed", "added", "retired")

#: Companion CSV files that :meth:`PlanComparison.to_csv` writes beside the main file, as
#: ``<stem>_<part>.csv``.
CSV_PARTS = ("flows", "grids", "summary", "incidents", "households")

_GRID_CODE = re.compile(r"\d{15}")

#: How a building (and its households) differs between the plans: in both plans and in
#: another grid, only in the after plan (a new building), only in the before plan.
BUILDING_CHANGES = ("moved", "new", "removed")

#: Summary metrics of the plans themselves that are not compared (counted again here).
_RECOUNTED = ("grids",)


@dataclass
class PlanComparison:
    """Two plans of one street compared: what changes grid, and how the grids differ.

    Attributes
    ----------
    buildings
        One row per workspace building, in layer order: ``building_id``, ``before`` and
        ``after`` (grid codes, ``None`` outside every grid or not in that plan),
        ``households``, ``persons`` (nullable; unknown without a households layer),
        ``change`` (``moved``, ``new``: not in the before plan's assignments, ``removed``: not
        in the after plan's, or ``""``) and ``changed`` (moved between grids).
    flows
        One row per pair of grids that something moves between (``before != after``):
        ``before``, ``after``, ``buildings``, ``households``, ``persons`` and ``incidents``
        moved, sorted by households moved (most first).
    grids
        One row per grid code of either plan: ``code``, ``status`` (see
        :data:`GRID_STATUSES`), then ``households``, ``persons``, ``buildings``, ``incidents``
        (with an incidents layer) and ``polsby_popper`` (when the plan has it) each with a
        ``_before`` and ``_after`` suffix; empty (NA) on the side where the grid does not exist.
    summary
        ``metric``, ``before``, ``after``, ``change``: grid counts, what moved (in ``change``),
        households in and outside grids, and the plan metrics both plans carry.
    households
        ``household_id``, ``building_id``, ``before``, ``after``, ``changed``; only when asked
        for (``include_households=True``), else ``None``.
    incidents
        ``incident_id``, ``category``, ``status``, ``before``, ``after``, ``changed``; ``None``
        when the workspace has no incidents layer.
    problems
        Warnings found on the way (buildings outside every grid, buildings missing from a
        plan's assignments...).
    footprints
        The building footprints, aligned with ``buildings`` (for :meth:`to_geojson`).
    """

    buildings: pd.DataFrame
    flows: pd.DataFrame
    grids: pd.DataFrame
    summary: pd.DataFrame
    households: pd.DataFrame | None = None
    incidents: pd.DataFrame | None = None
    problems: list[Problem] = field(default_factory=list)
    footprints: gpd.GeoSeries | None = field(default=None, repr=False)

    def metric(self, name: str, column: str = "change") -> Any:
        """One value of :attr:`summary`, e.g. ``metric("households_moved")``.

        Raises
        ------
        KeyError
            When the summary has no such metric.
        """
        rows = self.summary.loc[self.summary["metric"] == name, column]
        if rows.empty:
            raise KeyError(name)
        return rows.iloc[0]

    def changed_buildings(self) -> pd.DataFrame:
        """Buildings moved, new or removed: ids, grids, counts and ``change``."""
        changed = (self.buildings["change"] != "").to_numpy(dtype=bool)
        return self.buildings.loc[changed].drop(columns="changed")

    def output_paths(self, path: str | os.PathLike[str]) -> list[Path]:
        """The files :meth:`write` would write for ``path`` (to check before overwriting)."""
        p = Path(path)
        if _is_geojson(p):
            return [p]
        parts = ["flows", "grids", "summary"]
        if self.incidents is not None:
            parts.append("incidents")
        if self.households is not None:
            parts.append("households")
        return [p, *(_companion(p, part) for part in parts)]

    def to_csv(self, path: str | os.PathLike[str]) -> list[Path]:
        """Write the changes as UTF-8 CSV files; returns the paths written.

        ``path`` gets the buildings that change grid (``building_id``, ``before``, ``after``,
        ``households``, ``persons``).  Beside it, named ``<stem>_<part>.csv``:
        ``_flows`` (:attr:`flows`), ``_grids`` (:attr:`grids`), ``_summary``
        (:attr:`summary`), ``_incidents`` (the incidents that change grid, with an incidents
        layer) and ``_households`` (the households that change grid, when they were
        compared).  Each file is replaced atomically, and ``path`` is written last.

        Raises
        ------
        InputError
            When the folder does not exist.
        """
        p = Path(path)
        if not p.parent.is_dir():
            raise InputError(
                f"the folder {p.parent} does not exist.",
                file=str(path),
                fix="create the folder first, or write to an existing one.",
            )
        tables: dict[str, pd.DataFrame] = {
            "flows": self.flows,
            "grids": self.grids,
            "summary": self.summary,
        }
        if self.incidents is not None:
            tables["incidents"] = _only_changed(self.incidents)
        if self.households is not None:
            tables["households"] = _only_changed(self.households)
        written = []
        for part, table in tables.items():
            target = _companion(p, part)
            io.write_csv(table, target)
            written.append(target)
        io.write_csv(self.changed_buildings(), p)
        return [p, *written]

    def to_geojson(self, path: str | os.PathLike[str]) -> None:
        """Write the footprints of the buildings that change grid as RFC 7946 GeoJSON.

        Each feature has ``building_id``, ``before``, ``after``, ``households``, ``persons``
        and ``change`` (``moved``, ``new``, ``removed``); coordinates are lon/lat (EPSG:4326)
        and the file is replaced atomically.

        Raises
        ------
        InputError
            When the footprints are unknown or have no CRS, or the folder does not exist.
        """
        if self.footprints is None:
            raise InputError(
                "this comparison holds no building footprints to write.",
                fix="write it as CSV, or compare with compare_plans (which keeps them).",
            )
        changed = (self.buildings["change"] != "").to_numpy(dtype=bool)
        table = self.buildings.loc[changed].drop(columns="changed")
        geometry = self.footprints[changed]
        features = gpd.GeoDataFrame(
            table.reset_index(drop=True),
            geometry=geometry.reset_index(drop=True).array,
            crs=self.footprints.crs,
        )
        io.write_geojson(features, path)

    def write(self, path: str | os.PathLike[str]) -> list[Path]:
        """Write the changes by extension: ``.geojson``/``.json`` or ``.csv``.

        Returns
        -------
        list of Path
            The files written (see :meth:`to_csv` and :meth:`to_geojson`).

        Raises
        ------
        InputError
            For another extension, or as the writers raise.
        """
        p = Path(path)
        if _is_geojson(p):
            self.to_geojson(p)
            return [p]
        if p.suffix.lower() == ".csv":
            return self.to_csv(p)
        raise InputError(
            f"cannot write a comparison as {p.suffix or 'a file without extension'}.",
            file=str(path),
            fix="end the file name in .csv (tables) or .geojson (building footprints).",
        )


def _is_geojson(p: Path) -> bool:
    return p.suffix.lower() in (".geojson", ".json")


def _companion(p: Path, part: str) -> Path:
    return p.with_name(f"{p.stem}_{part}{p.suffix or '.csv'}")


def _only_changed(table: pd.DataFrame) -> pd.DataFrame:
    if "change" in table.columns:  # households: moved, new or removed
        return table.loc[(table["change"] != "").to_numpy(dtype=bool)].drop(columns="changed")
    return table.loc[table["changed"].to_numpy(dtype=bool)].drop(columns="changed")


# -------------------------------------------------------------------------------- the sides


@dataclass
class _Side:
    """One plan, reduced to what the comparison needs."""

    name: str
    label: str
    grids: gpd.GeoDataFrame
    codes: list[str]
    assignments: pd.Series | None
    summary: dict[str, Any]


def _side(plan: Plan | PlanFile, name: str) -> _Side:
    if isinstance(plan, Plan):
        label = f"the {name} plan"
        grids = plan.grids
        codes = plan.building_codes()
        assignments = codes if len(codes) else None
        summary = dict(plan.summary)
    elif isinstance(plan, PlanFile):
        label = f"the {name} plan ({plan.source})"
        grids = plan.grids
        assignments = plan.assignments
        summary = dict(plan.info.get("summary") or {})
    else:
        raise TypeError(
            f"{name} must be a gridmap.plan.Plan or a PlanFile (read_plan), "
            f"not {type(plan).__name__}"
        )
    if "code" not in grids.columns:
        raise InputError(
            f"{label} has no 'code' column naming its grids.",
            fix="read plan files with gridmap.plan.read_plan (id_column= for another column).",
        )
    if grids.crs is None:
        raise InputError(
            f"{label} has no CRS, so its grids cannot be laid over the buildings.",
            fix="set the plan file's CRS (gridmap convert PLAN OUT --crs EPSG:...).",
        )
    codes = [str(c) for c in grids["code"]]
    return _Side(name, label, grids, codes, assignments, summary)


def _check_same_street(sides: list[_Side], street_code: str | None) -> None:
    """Refuse plans whose 15-digit grid codes belong to another street (or to two streets)."""
    prefixes: dict[str, set[str]] = {}
    for side in sides:
        if side.codes and all(_GRID_CODE.fullmatch(c) for c in side.codes):
            prefixes[side.name] = found = {c[:9] for c in side.codes}
            if street_code is not None and found != {street_code}:
                raise InputError(
                    f"the grid codes of {side.label} belong to street "
                    f"{', '.join(sorted(found))}, but the workspace is street {street_code}.",
                    fix="compare two plans of the workspace's street (or give its workspace).",
                )
    if len(prefixes) == 2 and prefixes["before"] != prefixes["after"]:
        raise InputError(
            "the plans are of different streets: the before plan's codes start with "
            f"{', '.join(sorted(prefixes['before']))}, the after plan's with "
            f"{', '.join(sorted(prefixes['after']))}.",
            fix="compare two plans of the same street.",
        )


def _street_code(layers: Mapping[str, Any]) -> str | None:
    street = layers.get("street")
    if isinstance(street, pd.DataFrame) and "code" in street.columns and len(street):
        code = str(street["code"].iloc[0]).strip()
        return code if re.fullmatch(r"\d{9}", code) else None
    return None


def _as_codes(values: np.ndarray) -> np.ndarray:
    """Object array of codes as text, with ``None`` for missing values."""
    out = np.full(len(values), None, dtype=object)
    present = ~pd.isna(values)
    out[present] = [str(v) for v in values[present]]
    return out


def _place_buildings(
    side: _Side, ids: np.ndarray, footprints: gpd.GeoSeries, problems: list[Problem]
) -> tuple[np.ndarray, np.ndarray]:
    """Grid code of every building on one side, and the buildings its plan does not hold.

    A building missing from the side's assignments (when it has some) is not in that plan:
    its code is ``None``.  Otherwise ``None`` means outside every grid.
    """
    codes = np.full(len(ids), None, dtype=object)
    assigned = np.zeros(len(ids), dtype=bool)
    absent = np.zeros(len(ids), dtype=bool)
    if side.assignments is not None and len(side.assignments):
        table = side.assignments.copy()
        table.index = table.index.astype(str)
        table = table[~table.index.duplicated(keep="first")]
        assigned = np.isin(ids, table.index.to_numpy())
        codes[assigned] = _as_codes(table.reindex(ids[assigned]).to_numpy(dtype=object))
        missing = int((~assigned).sum())
        if missing == len(ids):
            problems.append(
                Problem(
                    "warning",
                    f"{side.label} assigns none of the workspace's buildings (other building "
                    "ids); every building was placed by its footprint's overlap with the grids.",
                    "check that the plan was made from this workspace.",
                )
            )
        elif missing:
            absent = ~assigned
            counted = "new" if side.name == "before" else "removed"
            problems.append(
                Problem(
                    "warning" if side.name == "after" else "info",
                    f"{missing} building(s) of the workspace are not in {side.label}'s "
                    f"assignments (added since?); they and their households are counted as "
                    f"{counted}, not moved.",
                    "make the plan again from the current workspace to assign them.",
                    layer="buildings",
                    rows=np.flatnonzero(~assigned).tolist(),
                )
            )
    rest = np.flatnonzero(~assigned & ~absent)
    if len(rest):
        geoms = footprints.iloc[rest]
        present = ~(geoms.isna() | geoms.is_empty).to_numpy()
        if present.any():
            codes[rest[present]] = _as_codes(overlap_codes(geoms[present], side.grids)[0])
    if len(ids) and all(code is None for code in codes):
        raise InputError(
            f"none of the workspace's {len(ids)} buildings lies in a grid of {side.label}: "
            "it is a plan of another street, or its coordinates are off.",
            fix="compare two plans of the workspace's street; check the plan file's CRS "
            "(gridmap validate PLAN).",
        )
    return codes, absent


def _place_points(side: _Side, points: gpd.GeoSeries) -> np.ndarray:
    """The code of the grid holding each point (``None`` outside every grid or no geometry)."""
    codes = np.full(len(points), None, dtype=object)
    present = ~(points.isna() | points.is_empty).to_numpy()
    if present.any():
        codes[present] = _as_codes(overlap_codes(points[present], side.grids)[0])
    return codes


def _changed(before: Any, after: Any) -> np.ndarray:
    """Elementwise ``before != after`` of two code columns; missing on both sides is no change."""
    before = np.asarray(before, dtype=object)
    after = np.asarray(after, dtype=object)
    lost, gone = pd.isna(before), pd.isna(after)
    same = np.zeros(len(before), dtype=bool)
    both = ~lost & ~gone
    same[both] = before[both] == after[both]
    return ~(same | (lost & gone))


def _code_column(codes: np.ndarray) -> pd.Series:
    """Grid codes as an object column holding ``None`` (not NaN) outside every grid."""
    return pd.Series(_as_codes(np.asarray(codes, dtype=object)), dtype=object)


# -------------------------------------------------------------------------------- the layers


def _buildings(layers: Mapping[str, Any]) -> gpd.GeoDataFrame:
    if not isinstance(layers, Mapping):
        raise TypeError(
            f"layers must be the dict of gridmap.io.read_workspace, not {type(layers).__name__}"
        )
    buildings = layers.get("buildings")
    if not isinstance(buildings, gpd.GeoDataFrame) or not len(buildings):
        raise InputError(
            "the workspace has no buildings layer (or it is empty); plans are compared by the "
            "buildings, households and incidents that change grid.",
            layer="buildings",
            fix="give the workspace of the street the plans divide (gridmap validate WORKSPACE).",
        )
    if "id" not in buildings.columns:
        raise InputError(
            "the buildings layer has no 'id' column.",
            layer="buildings",
            fix="add the building ids (see gridmap validate WORKSPACE).",
        )
    if buildings.crs is None:
        raise InputError(
            "the buildings layer has no CRS.",
            layer="buildings",
            fix="set the layer's CRS (see gridmap validate WORKSPACE).",
        )
    ids = buildings["id"].astype("string")
    bad = np.flatnonzero((ids.isna() | ids.duplicated(keep=False)).to_numpy())
    if bad.size:
        raise InputError(
            f"{bad.size} building(s) have an empty or repeated 'id'.",
            layer="buildings",
            rows=bad.tolist(),
            fix="give every building its own id (see gridmap validate WORKSPACE).",
        )
    return buildings


def _building_counts(
    layers: Mapping[str, Any], ids: np.ndarray, buildings: gpd.GeoDataFrame
) -> tuple[np.ndarray, Any, int]:
    """Households and persons of every building, and the households with no known building.

    With a households layer, a building's households are the points naming it (as the
    partition counts them); without, the buildings' ``households`` column.
    """
    households = layers.get("households")
    persons = pd.array([pd.NA] * len(ids), dtype="Int64")
    if isinstance(households, pd.DataFrame) and "building_id" in households.columns:
        building = households["building_id"].astype("string")
        linked = building.isin(ids).fillna(False).to_numpy(dtype=bool)
        counts = building[linked].value_counts()
        count = pd.Series(ids).map(counts).fillna(0).to_numpy(dtype=np.int64)
        if "persons" in households.columns:
            per = pd.to_numeric(households["persons"], errors="coerce").fillna(0)
            sums = per[linked].groupby(building[linked].to_numpy()).sum()
            persons = pd.array(
                pd.Series(ids).map(sums).fillna(0).round().astype(np.int64), dtype="Int64"
            )
        return count, persons, int((~linked).sum())
    if "households" in buildings.columns:
        count = pd.to_numeric(buildings["households"], errors="coerce").fillna(0)
        count = count.round().astype(np.int64).to_numpy()
    else:
        count = np.zeros(len(ids), dtype=np.int64)
    if "persons" in buildings.columns:
        persons = pd.array(pd.to_numeric(buildings["persons"], errors="coerce"), dtype="Int64")
    loose = len(households) if isinstance(households, pd.DataFrame) else 0
    return count, persons, loose


def _households_table(
    layers: Mapping[str, Any], sides: list[_Side], buildings: pd.DataFrame
) -> pd.DataFrame:
    """Every household with its grid on each side: by its building, else by its point."""
    columns = ["household_id", "building_id", "before", "after", "change", "changed"]
    households = layers.get("households")
    if not isinstance(households, pd.DataFrame) or not len(households):
        return pd.DataFrame(
            {c: pd.Series(dtype=bool if c == "changed" else object) for c in columns}
        )
    if "id" in households.columns:
        hh_ids = households["id"].astype(str).to_numpy(dtype=object)
    else:
        hh_ids = np.array([str(i + 1) for i in range(len(households))], dtype=object)
    if "building_id" in households.columns:
        building = _as_codes(households["building_id"].to_numpy(dtype=object))
    else:
        building = np.full(len(households), None, dtype=object)
    table = pd.DataFrame({"household_id": hh_ids, "building_id": building})
    by_building = buildings.set_index("building_id")
    ids = set(by_building.index)
    known = np.array([b is not None and b in ids for b in building], dtype=bool)
    for side in sides:
        codes = np.full(len(households), None, dtype=object)
        codes[known] = _as_codes(
            by_building[side.name].reindex(building[known]).to_numpy(dtype=object)
        )
        if (~known).any() and isinstance(households, gpd.GeoDataFrame):
            loose = households.geometry.iloc[np.flatnonzero(~known)]
            codes[~known] = _place_points(side, loose)
        table[side.name] = _code_column(codes)
    change = np.where(_changed(table["before"], table["after"]), "moved", "").astype(object)
    if known.any():  # households follow their building: new and removed with it
        change[known] = by_building["change"].reindex(building[known]).to_numpy(dtype=object)
    table["change"] = change
    table["changed"] = change == "moved"
    return table


def _incidents_table(layers: Mapping[str, Any], sides: list[_Side]) -> pd.DataFrame | None:
    incidents = layers.get("incidents")
    if not isinstance(incidents, gpd.GeoDataFrame):
        return None
    n = len(incidents)
    if "id" in incidents.columns:
        ids = incidents["id"].astype(str).to_numpy(dtype=object)
    else:
        ids = np.array([str(i + 1) for i in range(n)], dtype=object)
    table = pd.DataFrame({"incident_id": ids})
    for column in ("category", "status"):
        values = incidents[column] if column in incidents.columns else [None] * n
        table[column] = pd.Series(np.asarray(values, dtype=object), dtype=object)
    for side in sides:
        table[side.name] = _code_column(_place_points(side, incidents.geometry))
    table["changed"] = _changed(table["before"], table["after"])
    return table


# -------------------------------------------------------------------------------- the tables


_NONE = "\0none"  # stands for "no grid" while grouping


def _flows(buildings: pd.DataFrame, incidents: pd.DataFrame | None) -> pd.DataFrame:
    """Buildings, households, persons and incidents moved per (before, after) pair."""
    keys = ["before", "after"]
    moved = buildings.loc[buildings["changed"].to_numpy(dtype=bool)]
    moved = moved.assign(**{k: moved[k].fillna(_NONE) for k in keys})
    grouped = moved.groupby(keys, sort=False)
    flows = pd.DataFrame(
        {
            "buildings": grouped.size(),
            "households": grouped["households"].sum(),
            "persons": grouped["persons"].sum(min_count=1).astype("Int64"),
        }
    )
    if incidents is not None:
        changed = incidents.loc[incidents["changed"].to_numpy(dtype=bool)]
        changed = changed.assign(**{k: changed[k].fillna(_NONE) for k in keys})
        counts = changed.groupby(keys, sort=False).size().rename("incidents")
        flows = flows.join(counts, how="outer")
    else:
        flows["incidents"] = 0
    flows = flows.reset_index()
    for column in ("buildings", "households", "incidents"):
        flows[column] = flows[column].fillna(0).astype(np.int64)
    flows["persons"] = flows["persons"].astype("Int64")
    if buildings["persons"].notna().any():  # persons known: a flow of incidents only moves 0
        flows["persons"] = flows["persons"].fillna(0)
    for key in keys:
        values = flows[key].to_numpy(dtype=object)
        flows[key] = _code_column(np.where(values == _NONE, None, values))
    flows = flows[[*keys, "buildings", "households", "persons", "incidents"]]
    keyed = flows.assign(_b=flows["before"].fillna(""), _a=flows["after"].fillna(""))
    order = keyed.sort_values(
        ["households", "buildings", "incidents", "_b", "_a"],
        ascending=[False, False, False, True, True],
        kind="stable",
    ).index
    return flows.loc[order].reset_index(drop=True)


def _grids(
    sides: list[_Side], buildings: pd.DataFrame, incidents: pd.DataFrame | None
) -> pd.DataFrame:
    """The grids of both plans side by side, with their status."""
    present = {side.name: set(side.codes) | set(buildings[side.name].dropna()) for side in sides}
    codes = sorted(present["before"] | present["after"])
    moved = buildings.loc[(buildings["change"] != "").to_numpy(dtype=bool)]
    touched = set(moved["before"].dropna()) | set(moved["after"].dropna())
    status = []
    for code in codes:
        if code in present["before"] and code in present["after"]:
            status.append("changed" if code in touched else "kept")
        else:
            status.append("added" if code in present["after"] else "retired")
    table = pd.DataFrame({"code": codes, "status": status})
    index = pd.Index(codes)
    columns: dict[str, Any] = {}
    persons_known = bool(buildings["persons"].notna().any())
    for side in sides:
        exists = index.isin(list(present[side.name]))
        grouped = buildings.groupby(side.name)
        counts = {
            "households": grouped["households"].sum(),
            "persons": grouped["persons"].sum(),
            "buildings": grouped.size(),
        }
        if incidents is not None:
            counts["incidents"] = incidents.groupby(side.name).size()
        for metric, values in counts.items():
            column = pd.Series(values.reindex(index).fillna(0).to_numpy(), dtype="Int64")
            column[~exists | (metric == "persons" and not persons_known)] = pd.NA
            columns[f"{metric}_{side.name}"] = column
        if "polsby_popper" in side.grids.columns:
            pp = pd.Series(
                pd.to_numeric(side.grids["polsby_popper"], errors="coerce").to_numpy(),
                index=side.codes,
            )
            columns[f"polsby_popper_{side.name}"] = pp.reindex(index).to_numpy(dtype=float)
    order = ["households", "persons", "buildings", "incidents", "polsby_popper"]
    for metric in order:
        for side in SIDES:
            name = f"{metric}_{side}"
            if name in columns:
                table[name] = columns[name]
    return table


def _total(values: pd.Series) -> int | None:
    """Sum of a nullable count column; ``None`` when no value is known."""
    return int(values.sum()) if values.notna().any() else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool | np.bool_) or value is None:
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        value = float(value)
        return value if math.isfinite(value) else None
    return None


def _metric_order(keys: list[str]) -> list[str]:
    """Plan metrics in the order of :func:`gridmap.metrics.plan_summary` (files sort them)."""
    known = list(plan_summary(gpd.GeoDataFrame(geometry=[], crs="EPSG:3857")))
    return sorted(keys, key=lambda key: known.index(key) if key in known else len(known))


def _summary(
    sides: list[_Side],
    buildings: pd.DataFrame,
    incidents: pd.DataFrame | None,
    grids: pd.DataFrame,
) -> pd.DataFrame:
    rows: list[tuple[str, Any, Any, Any]] = []
    counts = [int((grids[f"households_{s}"].notna()).sum()) for s in SIDES]
    rows.append(("grids", counts[0], counts[1], counts[1] - counts[0]))
    for status in GRID_STATUSES:
        rows.append((f"grids_{status}", None, None, int((grids["status"] == status).sum())))
    moved = buildings.loc[buildings["changed"].to_numpy(dtype=bool)]
    total = int(buildings["households"].sum())
    households_moved = int(moved["households"].sum())
    rows += [
        ("buildings_moved", None, None, len(moved)),
        ("households_moved", None, None, households_moved),
        ("share_households_moved", None, None, households_moved / total if total else None),
        ("persons_moved", None, None, _total(moved["persons"])),
    ]
    for change in BUILDING_CHANGES[1:]:  # in one plan only: new or removed, never moved
        which = buildings.loc[(buildings["change"] == change).to_numpy(dtype=bool)]
        rows += [
            (f"buildings_{change}", None, None, len(which)),
            (f"households_{change}", None, None, int(which["households"].sum())),
        ]
    if incidents is not None:
        rows.append(("incidents_changing_grid", None, None, int(incidents["changed"].sum())))
    inside = [int(buildings.loc[buildings[s].notna(), "households"].sum()) for s in SIDES]
    rows.append(("households_in_grids", inside[0], inside[1], inside[1] - inside[0]))
    outside = [total - n for n in inside]
    rows.append(("households_outside_grids", outside[0], outside[1], outside[1] - outside[0]))
    before, after = (side.summary for side in sides)
    for key in _metric_order([key for key in before if key in after]):
        if key in _RECOUNTED:
            continue
        b, a = _number(before[key]), _number(after[key])
        if b is None and a is None:
            continue
        rows.append((key, b, a, a - b if a is not None and b is not None else None))
    table = pd.DataFrame(rows, columns=["metric", "before", "after", "change"], dtype=object)
    return table.astype({"metric": str})


# -------------------------------------------------------------------------------- the entry


def compare_plans(
    before: Plan | PlanFile,
    after: Plan | PlanFile,
    layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame],
    *,
    include_households: bool = False,
) -> PlanComparison:
    """Compare two plans of the same street: who and what changes grid.

    Parameters
    ----------
    before, after
        The plans: a :class:`gridmap.plan.Plan` or a :class:`gridmap.plan.PlanFile` (from
        :func:`gridmap.plan.read_plan`: a gridmap plan or anybody's grid polygons).
    layers
        The workspace layers of the street (:func:`gridmap.io.read_workspace`).
    include_households
        Also list every household with its grid on each side (household-level data: off by
        default).  Household counts always come from the buildings.

    Returns
    -------
    PlanComparison

    Notes
    -----
    A building is placed by the plan's own assignments (a :class:`~gridmap.plan.Plan`, or a
    plan GeoPackage written by gridmap), else in the grid holding the largest part of its
    footprint.  Households follow their building; a household naming no known building is
    placed by its point (in the household table only: grid counts come from the buildings).
    An incident is in the grid containing its point.  A grid is ``kept`` when it has the same
    code and the same buildings in both plans, ``changed`` when the same code has other
    buildings, ``added`` or ``retired`` when its code is in only one plan.

    Raises
    ------
    InputError
        When the workspace has no buildings, or the plans are of another street (grid codes of
        another street, no building inside any grid) or have no CRS.
    """
    buildings_layer = _buildings(layers)
    sides = [_side(before, "before"), _side(after, "after")]
    _check_same_street(sides, _street_code(layers))
    problems: list[Problem] = []
    ids = buildings_layer["id"].astype(str).to_numpy(dtype=object)
    footprints = buildings_layer.geometry.reset_index(drop=True)
    households, persons, loose = _building_counts(layers, ids, buildings_layer)
    table = pd.DataFrame({"building_id": ids})
    absent = {}
    for side in sides:
        codes, absent[side.name] = _place_buildings(side, ids, footprints, problems)
        table[side.name] = _code_column(codes)
    table["households"] = households
    table["persons"] = persons
    new = absent["before"] & ~absent["after"]
    removed = absent["after"] & ~absent["before"]
    moved = _changed(table["before"], table["after"]) & ~absent["before"] & ~absent["after"]
    table["change"] = np.select([moved, new, removed], list(BUILDING_CHANGES), "")
    table["changed"] = moved
    for side in sides:
        outside = table[side.name].isna().to_numpy() & (households > 0) & ~absent[side.name]
        if outside.any():
            problems.append(
                Problem(
                    "warning",
                    f"{outside.sum()} building(s) with {households[outside].sum()} households "
                    f"lie outside every grid of {side.label}.",
                    "check that the plan's grids cover the whole street.",
                    layer="buildings",
                    rows=np.flatnonzero(outside).tolist(),
                )
            )
    if loose:
        problems.append(
            Problem(
                "warning",
                f"{loose} household(s) name no building of the workspace; they are left out of "
                "the grid counts and flows.",
                "link every household to its building (building_id).",
                layer="households",
            )
        )
    incidents = _incidents_table(layers, sides)
    grids = _grids(sides, table, incidents)
    return PlanComparison(
        buildings=table,
        flows=_flows(table, incidents),
        grids=grids,
        summary=_summary(sides, table, incidents, grids),
        households=_households_table(layers, sides, table) if include_households else None,
        incidents=incidents,
        problems=problems,
        footprints=footprints,
    )
