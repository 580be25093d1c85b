"""The plan: a street divided into grids, with codes and metrics.

:func:`make_plan` runs the whole pipeline on a workspace (units, graph, allocation, partition,
metrics, codes); :func:`partition_units` does the same for polygons that already carry counts
(census blocks, tracts: "units mode").
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap import io
from gridmap.coding import grid_codes
from gridmap.crs import local_metric_crs, to_wgs84
from gridmap.errors import InputError, Problem
from gridmap.graph import BARRIER_ARTERIAL, BARRIER_GAP, BARRIER_WATER, UnitGraph, build_graph
from gridmap.index import largest_overlap
from gridmap.metrics import barrier_crossings, grid_metrics, line_zone, plan_summary
from gridmap.partition import (
    BARRIER_CLASSES,
    DEFAULT_CROSSING_WEIGHT,
    allocate_grids,
    barrier_sides,
    partition_graph,
    resolve_barriers,
    shape_inputs,
    sides_graph,
)
from gridmap.units import Units, build_units

#: Steps :func:`make_plan` reports to its ``progress`` callback, in order.
PLAN_STEPS = ("units", "graph", "partition", "metrics", "codes")

#: Share of the target that one unit may hold before its block is split between buildings.
UNIT_SHARE_OF_TARGET = 0.375


@dataclass
class PlanContext:
    """What a plan's metrics are measured against, kept so that edited labels can be re-measured.

    Attributes
    ----------
    weight
        The balanced column (``households``, ``persons`` or a units-mode column).
    target, minimum, maximum
        Weight per grid wanted and allowed (``None`` when the plan was asked for by count).
    group_column
        The units' column grids nest in (``community``), or ``None``.
    street_code
        The 9-digit street code for 15-digit grid codes, or ``None`` (units mode: ``001``...).
    street
        The street polygon in the units' CRS, for gaps and overlaps, or ``None``.
    lines
        The zone along roads, water and community lines in the units' CRS
        (:func:`gridmap.metrics.line_zone`), for the boundary fit, or ``None``.
    buildings
        The building footprints in the units' CRS, for ``buildings_split``, or ``None``.
    """

    weight: str = "households"
    target: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    group_column: str | None = "community"
    street_code: str | None = None
    street: Any = None
    lines: Any = None
    buildings: Any = None


@dataclass
class Plan:
    """A set of grids covering a street (网格划分方案).

    Attributes
    ----------
    units
        The units (metric CRS) the plan was built from.
    labels
        Grid index of every unit (position in ``grids``).
    grids
        One row per grid (metric CRS): ``code`` (15 digits, or the grid number in units mode),
        ``group`` (community), weight sums, area and shape metrics, dissolved ``geometry``.
    summary
        Plan-level metrics (see :func:`gridmap.metrics.plan_summary`).
    parameters
        The request that made the plan.
    problems
        Warnings found on the way (a building too big for one grid...).
    graph
        The unit graph (:class:`gridmap.graph.UnitGraph`), for edits and redraws.
    building_unit, household_unit
        Building id -> unit index and household id -> unit index (workspace plans).
    context
        What the metrics are measured against (see :class:`PlanContext`).
    """

    units: gpd.GeoDataFrame
    labels: np.ndarray
    grids: gpd.GeoDataFrame
    summary: dict[str, Any]
    parameters: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    graph: Any = None
    building_unit: pd.Series | None = None
    household_unit: pd.Series | None = None
    context: PlanContext = field(default_factory=PlanContext)

    def grids_wgs84(self) -> gpd.GeoDataFrame:
        """The grids in EPSG:4326 (lon/lat), ready for GeoJSON or a GeoPackage."""
        return to_wgs84(self.grids)

    def unit_codes(self) -> np.ndarray:
        """The grid code of every unit, in unit order."""
        return self.grids["code"].to_numpy(dtype=object)[self.labels]

    def building_codes(self) -> pd.Series:
        """Building id -> grid code (empty for a plan without buildings)."""
        if self.building_unit is None:
            return pd.Series(dtype=object, name="code")
        codes = self.unit_codes()[self.building_unit.to_numpy()]
        return pd.Series(codes, index=self.building_unit.index, name="code")

    def household_codes(self) -> pd.Series:
        """Household id -> grid code (empty for a plan without households)."""
        if self.household_unit is None:
            return pd.Series(dtype=object, name="code")
        codes = self.unit_codes()[self.household_unit.to_numpy()]
        return pd.Series(codes, index=self.household_unit.index, name="code")

    def with_labels(
        self,
        labels: np.ndarray,
        codes: list[str] | None = None,
        *,
        problems: list[Problem] | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> Plan:
        """The same street with other grids: re-measured, re-coded unless ``codes`` are given.

        Parameters
        ----------
        labels
            Grid index (0..K-1, every index used) of every unit.
        codes
            The code of each grid index; by default grids are numbered in reading order.
        problems, parameters
            Replace the plan's (kept by default).
        """
        return _measure(
            self.units,
            np.asarray(labels, dtype=np.int64),
            self.context,
            codes=codes,
            graph=self.graph,
            building_unit=self.building_unit,
            household_unit=self.household_unit,
            problems=list(self.problems if problems is None else problems),
            parameters=dict(self.parameters if parameters is None else parameters),
        )


def _measure(
    units: gpd.GeoDataFrame,
    labels: np.ndarray,
    context: PlanContext,
    *,
    codes: list[str] | None = None,
    **fields: Any,
) -> Plan:
    """Build a :class:`Plan`: grid metrics, codes and plan summary for ``labels``."""
    k = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or np.unique(labels).size != k):
        raise InputError(
            "grid labels must number the grids 0..K-1 with none left empty",
            fix="renumber the labels (numpy.unique(labels, return_inverse=True))",
        )
    table = grid_metrics(
        units,
        labels,
        weight=context.weight,
        target=context.target,
        lines=context.lines,
        group_column=context.group_column,
    )
    if codes is not None:
        if len(codes) != k or len(set(codes)) != k:
            raise InputError(f"{len(codes)} codes for {k} grids: give one distinct code per grid")
        table.insert(0, "code", [str(c) for c in codes])
    elif context.street_code is not None:
        table.insert(0, "code", grid_codes(table, street_code=context.street_code).to_numpy())
    else:
        table.insert(0, "code", [f"{i + 1:03d}" for i in range(len(table))])
    graph = fields.get("graph")
    if graph is not None and getattr(graph, "n", None) == len(units) and k:
        land = _land(units)
        for name, code in (("water", BARRIER_WATER), ("arterial", BARRIER_ARTERIAL)):
            if (np.asarray(graph.barrier) == code).any():
                crossing = barrier_crossings(graph, labels, land, code)
                table.insert(table.columns.get_loc("geometry"), f"crosses_{name}", crossing)
    summary = plan_summary(
        table,
        street=context.street,
        min_weight=context.minimum,
        max_weight=context.maximum,
        buildings=context.buildings,
    )
    return Plan(units, labels, table, summary, context=context, **fields)


def _land(units: gpd.GeoDataFrame) -> np.ndarray:
    """The units that are land (not the river or a pond: units of kind ``empty``)."""
    if "kind" not in units.columns:
        return np.ones(len(units), dtype=bool)
    return (units["kind"] != "empty").to_numpy()


def _advance(progress: Callable[[int, int, str], None] | None, step: str) -> None:
    if progress is not None:
        progress(PLAN_STEPS.index(step), len(PLAN_STEPS), step)


def _lines(layers: Mapping[str, Any], crs: Any) -> gpd.GeoDataFrame | None:
    """Roads, water outlines and community boundaries as one line layer (for boundary fit)."""
    parts = []
    for name in ("roads", "water", "communities"):
        layer = layers.get(name)
        if isinstance(layer, gpd.GeoDataFrame) and len(layer) and layer.crs is not None:
            geoms = layer.geometry.to_crs(crs).to_numpy()
            polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
            geoms[polygonal] = shapely.boundary(geoms[polygonal])
            parts.append(geoms)
    if not parts:
        return None
    return gpd.GeoDataFrame(geometry=np.concatenate(parts), crs=crs)


def _line_zone(layers: Mapping[str, Any], crs: Any) -> Any:
    """The boundary-fit zone of the street's roads, water and community lines, built once."""
    lines = _lines(layers, crs)
    return None if lines is None else line_zone(lines, crs)


def make_plan(
    layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame],
    *,
    target: float = 400,
    minimum: float = 300,
    maximum: float = 500,
    grids: int | None = None,
    per_community: Mapping[str, int] | None = None,
    weight: str = "households",
    seed: int = 0,
    progress: Callable[[int, int, str], None] | None = None,
    barriers: str | Mapping[str, str] | None = None,
    barrier_weights: Mapping[str, float] | None = None,
) -> Plan:
    """Divide a street into balanced, contiguous, compact grids nested in its communities.

    Parameters
    ----------
    layers
        The workspace layers, as :func:`gridmap.io.read_workspace` returns them.
    target, minimum, maximum
        Households (or persons) per grid: the target and the allowed range.
    grids
        A total number of grids for the street instead of a target, spread over communities
        in proportion to their households.
    per_community
        The number of grids of each community (by community code), instead of both.
    weight
        ``"households"`` or ``"persons"``.
    seed
        Seed of the partitioner: the same seed gives the same plan.
    progress
        Called as ``progress(step, steps, label)`` before each step of :data:`PLAN_STEPS`.
    barriers
        How grids treat the river (``water``) and arterial roads (``arterial``): ``"forbid"``
        (never cross, where the community's land allows: a side of a community that cannot
        hold whole grids in range on its own is joined across, with a warning naming the
        community), ``"penalise"`` (every refinement move pays for a crossing: grids cross only
        where balance needs it) or ``"ignore"`` (grid lines merely prefer them); one mode for
        both, or per class (``{"water": "forbid"}`` or ``"water=forbid,arterial=ignore"``).
        The default forbids crossing the river and penalises arterials
        (:data:`gridmap.partition.DEFAULT_BARRIERS`).
    barrier_weights
        Cost of a crossing per class in penalise mode (and for forced crossings in forbid
        mode), overriding :data:`gridmap.partition.DEFAULT_CROSSING_WEIGHT`.

    Returns
    -------
    Plan
        With ``crosses_water`` / ``crosses_arterial`` per grid and ``grids_crossing_water`` /
        ``grids_crossing_arterial`` in the summary.

    Raises
    ------
    InputError
        When the request cannot be met: a community too small for one grid in range, more
        grids than units, a missing layer.
    """
    modes = resolve_barriers(barriers)
    crossing_weight = dict(DEFAULT_CROSSING_WEIGHT)
    for name, value in (barrier_weights or {}).items():
        if name not in BARRIER_CLASSES or not float(value) >= 0:
            raise InputError(
                f"barrier weight {name}={value} is not valid",
                fix=f"give a weight >= 0 for one of {', '.join(BARRIER_CLASSES)}",
            )
        crossing_weight[name] = float(value)
    units, graph, context = prepare_street(
        layers, weight=weight, target=target, minimum=minimum, maximum=maximum,
        by_count=bool(grids or per_community), progress=progress,
    )  # fmt: skip
    _advance(progress, "partition")
    if per_community is not None:
        per_community = _resolve_communities(per_community, list(graph.group_names))
    barrier_problems: list[Problem] = []
    labels = _allocate_and_partition(
        graph, units.gdf, weight, seed, weight_name=weight,
        target=target, minimum=minimum, maximum=maximum, total=grids, per_group=per_community,
        barriers=modes, crossing_weight=crossing_weight, problems=barrier_problems,
    )  # fmt: skip
    _advance(progress, "metrics")
    parameters = {
        "target": target, "minimum": minimum, "maximum": maximum, "grids": grids,
        "per_community": dict(per_community or {}), "weight": weight, "seed": seed,
        "barriers": modes, "barrier_weights": crossing_weight,
    }  # fmt: skip
    _advance(progress, "codes")
    plan = _measure(
        units.gdf, labels, context, graph=graph, parameters=parameters,
        building_unit=units.building_unit, household_unit=units.household_unit,
    )  # fmt: skip
    grid_table = plan.grids
    problems = [p for p in units.problems if p.severity != "info"]
    problems += barrier_problems
    problems += _oversized_buildings(units, weight, maximum)
    empty = grid_table.loc[grid_table["weight"] <= 0, "code"].tolist()
    if empty:
        problems.append(
            Problem(
                "warning",
                f"{len(empty)} grid(s) hold no {weight}: {', '.join(empty[:10])}"
                + (f" and {len(empty) - 10} more." if len(empty) > 10 else "."),
                "ask for fewer grids (a larger --target or --min, or a smaller --grids).",
            )
        )
    if not (grids or per_community):
        problems += _out_of_range(grid_table, weight, minimum, maximum)
    plan.problems = problems
    return plan


#: How many grids an out-of-range warning names before it says "and N more".
OUT_OF_RANGE_SHOWN = 8


def _out_of_range(
    grid_table: gpd.GeoDataFrame, weight: str, minimum: float, maximum: float
) -> list[Problem]:
    """Warn about grids the partition left outside ``minimum``-``maximum``, naming each one.

    The fix names what would help: a wider range, or another number of grids for the
    communities holding them (``--per-community``, with the counts whose mean is in range).
    Grids holding nothing are left to the warning about empty grids.
    """
    values = grid_table["weight"].to_numpy(dtype=float)
    out = np.flatnonzero(((values < minimum) & (values > 0)) | (values > maximum))
    if not len(out):
        return []
    codes = grid_table["code"].astype(str).to_numpy()
    groups = grid_table["group"].astype(str).to_numpy()
    listed = [{"code": codes[i], "community": groups[i], "weight": float(values[i])} for i in out]
    shown = ", ".join(
        f"{g['code']} ({g['weight']:g} {weight}, community {g['community']})"
        for g in listed[:OUT_OF_RANGE_SHOWN]
    )
    if len(listed) > OUT_OF_RANGE_SHOWN:
        shown += f" and {len(listed) - OUT_OF_RANGE_SHOWN} more"
    communities = []
    for name in dict.fromkeys(groups[out]):
        mine = groups == name
        total, count = float(values[mine].sum()), int(mine.sum())
        fewest, most = math.ceil(total / maximum), math.floor(total / minimum)
        others = sorted(
            (n for n in range(max(1, fewest), most + 1) if n != count),
            key=lambda n: (abs(n - count), n),
        )
        communities.append(
            {"community": name, "grids": count, "weight": total, "other_counts": others}
        )
    low = min(minimum, float(values[out].min()))
    high = max(maximum, float(values[out].max()))
    advice = []
    for c in communities:
        counts = " or ".join(str(n) for n in c["other_counts"][:2])
        if counts:
            advice.append(f"{counts} for community {c['community']} instead of {c['grids']}")
    fix = f"widen the range to {low:g}-{high:g} (--min/--max)"
    if advice:
        fix += (
            ", or ask for other numbers of grids with --per-community (every community named), "
            "e.g. " + "; ".join(advice)
        )
    fix += (
        ": a side of a community cut off by the river or an arterial road with few, large "
        "units may not fill as many grids in range as it gets."
    )
    return [
        Problem(
            "warning",
            f"{len(listed)} grid(s) are out of {minimum:g}-{maximum:g} {weight}: {shown}.",
            fix,
            layer="communities",
            code="grids_out_of_range",
            params={
                "count": len(listed),
                "minimum": minimum,
                "maximum": maximum,
                "weight_name": weight,
                "listing": shown,
                "grids": listed,
                "communities": communities,
                "widened_minimum": low,
                "widened_maximum": high,
            },
        )
    ]


def prepare_street(
    layers: Mapping[str, gpd.GeoDataFrame | pd.DataFrame],
    *,
    weight: str = "households",
    target: float = 400,
    minimum: float = 300,
    maximum: float = 500,
    by_count: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[Units, UnitGraph, PlanContext]:
    """The units, unit graph and measuring context of a workspace street (before partitioning).

    Parameters
    ----------
    layers
        The workspace layers.
    weight
        ``"households"`` or ``"persons"``.
    target, minimum, maximum
        Weight per grid; the target sets the largest unit (a share of it).
    by_count
        The grids are asked for by number: no target or range to measure against.
    progress
        Called before the ``units`` and ``graph`` steps of :data:`PLAN_STEPS`.

    Raises
    ------
    InputError
        When a needed layer is missing or the street has no weight to divide.
    """
    if weight not in ("households", "persons"):
        raise InputError(f"cannot weigh grids by {weight!r}.", fix="use households or persons.")
    for name in ("street", "communities", "buildings"):
        if name not in layers:
            raise InputError(
                f"the workspace has no {name!r} layer, which a plan needs.",
                fix=f"add the {name} layer (see gridmap validate).",
            )
    street = layers["street"]
    _advance(progress, "units")
    # Units are capped in households; with persons as the weight, convert the cap.
    per_household = 1.0
    households = layers.get("households")
    if weight == "persons" and isinstance(households, pd.DataFrame) and len(households):
        per_household = max(1.0, float(pd.to_numeric(households["persons"]).mean()))
    cap = max(1, int(target * UNIT_SHARE_OF_TARGET / per_household))
    units = build_units(layers, max_unit_households=cap)
    crs = units.gdf.crs
    _advance(progress, "graph")
    roads, water = layers.get("roads"), layers.get("water")
    graph = build_graph(
        units.gdf,
        group_column="community",
        roads=roads.to_crs(crs) if isinstance(roads, gpd.GeoDataFrame) else None,
        water=water.to_crs(crs) if isinstance(water, gpd.GeoDataFrame) else None,
    )
    if units.gdf[weight].sum() <= 0:
        raise InputError(
            f"the street has no {weight} to divide (the {weight} of every unit is 0).",
            fix="add the households layer (with persons), or the households column of buildings.",
        )
    context = PlanContext(
        weight=weight,
        target=None if by_count else target,
        minimum=None if by_count else minimum,
        maximum=None if by_count else maximum,
        group_column="community",
        street_code=str(street["code"].iloc[0]),
        street=shapely.union_all(street.to_crs(crs).geometry.to_numpy()),
        lines=_line_zone(layers, crs),
        buildings=layers["buildings"].to_crs(crs),
    )
    return units, graph, context


def _allocate_and_partition(
    graph: Any,
    units: gpd.GeoDataFrame,
    weight: str,
    seed: int,
    *,
    barriers: Mapping[str, str] | None = None,
    crossing_weight: Mapping[str, float] | None = None,
    problems: list[Problem] | None = None,
    **request: Any,
) -> np.ndarray:
    """Share the grids among the groups (``request``: see allocate_grids), then partition.

    A group without weight still needs its land covered, so it gets one grid.  With
    ``barriers`` (class -> mode), forbidden classes split the groups into their sides (see
    :func:`gridmap.partition.barrier_sides`; forced crossings are added to ``problems``) and
    penalised ones (forbidden ones too) cost ``crossing_weight`` in the refinement, except the
    forbidden edges joining the river's own units to a side that stands alone (no grid can
    cross there: charging them pushed the river units together into strips).  Asked
    for by target and range, the partition ends by bringing grids into the range wherever the
    units allow.
    """
    weights = units[weight].to_numpy(dtype=float)
    group_weights = {
        name: float(weights[graph.groups == g].sum()) for g, name in enumerate(graph.group_names)
    }
    allocation = allocate_grids(group_weights, **request)
    allocation = {name: max(1, count) for name, count in allocation.items()}
    _check_enough_units(graph, weights, allocation, weight)
    barriers = dict(barriers or {})
    forbidden = [BARRIER_CLASSES[c] for c, mode in barriers.items() if mode == "forbid"]
    penalty = {
        BARRIER_CLASSES[c]: float((crossing_weight or DEFAULT_CROSSING_WEIGHT)[c])
        for c, mode in barriers.items()
        if mode in ("forbid", "penalise")
    }
    counts: Mapping[str, int] | np.ndarray = allocation
    free = None
    if forbidden and np.isin(graph.barrier, forbidden).any():
        fits = _side_fits(allocation, request)
        side, counts, joined = barrier_sides(graph, weights, _land(units), forbidden, fits)
        graph = sides_graph(graph, side, forbidden)
        # A forbidden edge left in a side joins the river's own units to it, unless the
        # community had to be joined across: there grids may cross, and crossing costs.
        crossed = {community for community, _, _ in joined}
        alone = np.array([name not in crossed for name in graph.group_names], dtype=bool)
        free = np.isin(graph.barrier, forbidden) & alone[graph.groups[graph.edges[:, 0]]]
        for community, what, side_weight in joined:
            if problems is not None:
                problems.append(_crossing_problem(community, what, side_weight, weight, request))
    points = units.geometry.representative_point()
    shape = shape_inputs(
        graph,
        units.area.to_numpy(),
        units.length.to_numpy(),
        np.column_stack([points.x.to_numpy(), points.y.to_numpy()]),
    )
    bounds = None
    if request.get("total") is None and request.get("per_group") is None:
        bounds = (float(request["minimum"]), float(request["maximum"]))
        counts = _cap_to_units(graph, weights, counts, *bounds)
    return partition_graph(
        graph, weights, counts, seed=seed, compactness=shape, crossing_penalty=penalty or None,
        bounds=bounds, free_crossings=free,
    )  # fmt: skip


def _fillable(weights: np.ndarray, minimum: float) -> int:
    """At most how many grids of at least ``minimum`` these units can make, whatever their shapes.

    A grid in range needs at least ``c`` units with weight, ``c`` being how many of the largest
    units it takes to reach ``minimum``; ``n`` such units make at most ``n // c`` grids.
    """
    ranked = np.sort(weights[weights > 0])[::-1]
    if not ranked.size:
        return 0
    need = int(np.searchsorted(np.cumsum(ranked), minimum)) + 1
    return ranked.size // need


def _cap_to_units(
    graph: Any,
    weights: np.ndarray,
    counts: Mapping[str, int] | np.ndarray,
    minimum: float,
    maximum: float,
) -> Mapping[str, int] | np.ndarray:
    """Give a group (a community or its side) no more grids than its units can fill in range.

    A group allocated more grids than :func:`_fillable` allows leaves the extra ones out of
    range whatever the partition does; it gets that many instead, when they can still hold
    its weight (mean at most ``maximum``).  ``counts`` are by group name (a mapping) or by
    group index (an array), as :func:`gridmap.partition.partition_graph` takes them.
    """
    groups = np.asarray(graph.groups)
    by_name = isinstance(counts, Mapping)
    capped = dict(counts) if by_name else np.asarray(counts, dtype=np.int64).copy()
    for g, name in enumerate(graph.group_names):
        key = name if by_name else g
        wanted = int(capped[key])
        mine = weights[groups == g]
        most = _fillable(mine, minimum)
        if 1 <= most < wanted and mine.sum() / most <= maximum:
            capped[key] = most
    return capped


#: In --grids / --per-community mode, a side of a community stands alone (grids not crossing
#: the barrier) when its grids' mean weight is within this share of the community's mean.
SIDE_TOLERANCE = 0.25


def _side_fits(
    allocation: Mapping[str, int], request: Mapping[str, Any]
) -> Callable[[str, list[float]], list[int] | int]:
    """The ``fits`` rule of :func:`gridmap.partition.barrier_sides` for a plan request."""
    by_count = request.get("total") is not None or request.get("per_group") is not None

    def fits(name: str, side_weights: list[float]) -> list[int] | int:
        k = int(allocation.get(name, 1))
        if len(side_weights) == 1:
            return [k]
        sizes = np.asarray(side_weights, dtype=float)
        if (sizes <= 0).any():  # land without households: it joins a grid across
            return int(np.argmax(sizes <= 0))
        if not by_count:
            counts = []
            for i, x in enumerate(side_weights):
                try:
                    counts += list(
                        allocate_grids(
                            {"side": x},
                            target=request["target"],
                            minimum=request["minimum"],
                            maximum=request["maximum"],
                        ).values()
                    )
                except InputError:
                    return i
            return counts
        if k < len(side_weights):
            return int(np.argmin(sizes))
        counts = list(allocate_grids(dict(enumerate(side_weights)), total=k).values())
        off = np.abs(sizes / np.asarray(counts) / (sizes.sum() / k) - 1)
        if off.max() > SIDE_TOLERANCE:
            return int(np.argmax(off))
        return counts

    return fits


def _crossing_problem(
    community: str, what: str, side_weight: float, weight: str, request: Mapping[str, Any]
) -> Problem:
    """The warning for a side of a community that had to join a grid across a barrier."""
    spoken = {"water": "the river", "arterial": "an arterial road"}
    barrier = " or ".join(spoken.get(x, x) for x in what.split("+"))
    if side_weight <= 0:
        reason = f"land without {weight} across {barrier}"
    elif request.get("total") is None and request.get("per_group") is None:
        reason = (
            f"{side_weight:g} {weight} across {barrier}: no whole number of grids of "
            f"{request['minimum']:g}-{request['maximum']:g}"
        )
    else:
        reason = f"{side_weight:g} {weight} across {barrier}: too few for grids of their own"
    fix = (
        "widen the range (--min/--max) or ask for other numbers of grids to keep every grid "
        "on one side, or pass --barriers penalise to let the partitioner choose."
    )
    if side_weight <= 0:
        fix = (
            "none needed (no households live there); or give that land to a community on its side."
        )
    return Problem(
        "warning",
        f"community {community} has {reason}; a grid there crosses {barrier}.",
        fix,
        layer="communities",
    )


def _resolve_communities(counts: Mapping[str, int], codes: list[str]) -> dict[str, int]:
    """Map the keys of ``counts`` to community codes: a full code or its unique ending ("003")."""
    out: dict[str, int] = {}
    for key, value in counts.items():
        name = str(key).strip()
        matches = [code for code in codes if code == name] or [
            code for code in codes if code.endswith(name)
        ]
        if len(matches) != 1:
            what = "matches no community" if not matches else "matches several communities"
            raise InputError(
                f"{name!r} {what}.",
                fix=f"use a community code among {', '.join(codes)} (or its last 3 digits).",
            )
        if matches[0] in out:
            raise InputError(f"community {matches[0]} is given twice.", fix="name it once.")
        out[matches[0]] = value
    return out


def _check_enough_units(
    graph: Any, weights: np.ndarray, allocation: Mapping[str, int], weight: str
) -> None:
    """Refuse more grids in a group than it has units with weight: grids would stay empty."""
    for g, name in enumerate(graph.group_names):
        count = int(((graph.groups == g) & (weights > 0)).sum())
        wanted = allocation.get(name, 0)
        if wanted > max(1, count):
            raise InputError(
                f"{name} would need {wanted} grids but has only {count} units with {weight}: "
                "some grids would be empty.",
                fix="ask for fewer grids (a larger --target or --min, or a smaller --grids).",
                code="too_many_grids",
                params={"community": name, "grids": wanted, "units": count, "weight": weight},
            )


def _oversized_buildings(units: Any, weight: str, maximum: float) -> list[Problem]:
    """Warn about single buildings holding more than a grid may: their grid is over the maximum."""
    gdf = units.gdf
    big = np.flatnonzero((gdf["kind"] == "building").to_numpy() & (gdf[weight] > maximum))
    if not len(big):
        return []
    names = units.building_unit[units.building_unit.isin(big)]
    return [
        Problem(
            "warning",
            f"building {building} has {int(gdf[weight].iloc[unit])} {weight}, more than a grid "
            f"may hold ({maximum:g}); its grid is over the maximum.",
            "give the building a grid of its own, or raise --max.",
            layer="buildings",
        )
        for building, unit in names.items()
    ]


def partition_units(
    units: gpd.GeoDataFrame,
    *,
    weight: str,
    grids: int,
    nest: str | None = None,
    seed: int = 0,
) -> Plan:
    """Partition polygons that already carry counts ("units mode") into ``grids`` parts.

    Parameters
    ----------
    units
        Polygons in any CRS, e.g. census block groups, with a numeric ``weight`` column.
    weight
        The column to balance (population, households...); empty cells count as 0.
    grids
        The number of parts.  With ``nest``, spread over the nest groups by weight.
    nest
        A column whose values the parts must nest in (a part never spans two values).
    seed
        Seed of the partitioner.

    Returns
    -------
    Plan
        With grids coded by their number (``001``...) since there is no street code.
    """
    if weight not in units.columns:
        raise InputError(
            f"there is no column {weight!r}; the columns are {', '.join(map(str, units.columns))}.",
            fix="name the column to balance with --weight.",
        )
    if nest is not None and nest not in units.columns:
        raise InputError(f"there is no column {nest!r} to nest in.", fix="check --nest.")
    given = units[weight].dropna()
    if len(given) and all(isinstance(v, str) for v in given.tolist()):
        numeric = [
            str(c)
            for c in units.columns
            if c != units.geometry.name and pd.api.types.is_numeric_dtype(units[c])
        ]
        raise InputError(
            f"column {weight!r} holds text (e.g. {given.iloc[0]!r}), not counts to balance.",
            fix="name a numeric column with --weight"
            + (f": {', '.join(numeric)}." if numeric else "."),
        )
    metric = local_metric_crs(units)
    gdf = units.to_crs(metric).reset_index(drop=True)
    values = pd.to_numeric(gdf[weight], errors="coerce")
    if values.isna().all():
        raise InputError(f"column {weight!r} holds no numbers.", fix="choose a numeric column.")
    problems = []
    unusable = (values.isna() | (values < 0)).to_numpy()
    if unusable.any():
        problems.append(
            Problem(
                "warning",
                f"{unusable.sum()} unit(s) have no usable {weight!r} (empty, text or negative); "
                "they count as 0.",
                f"correct {weight!r} in these rows.",
                layer=str(units.attrs.get("layer", "units")),
                rows=np.flatnonzero(unusable).tolist(),
            )
        )
    gdf[weight] = values.where(~unusable, 0.0)
    if gdf[weight].sum() <= 0:
        raise InputError(
            f"column {weight!r} sums to 0: there is nothing to balance.",
            fix="choose the column that holds the counts with --weight.",
        )
    group = "nest" if nest else None
    if nest:
        gdf["nest"] = gdf[nest].astype("string").fillna("(none)")
    graph = build_graph(gdf, group_column=group)
    if nest and (graph.barrier == BARRIER_GAP).any():
        problems.append(
            Problem(
                "warning",
                f"some values of {nest!r} cover areas that do not touch each other; grids in "
                "them may come out in several pieces.",
                "nest in a column whose values are contiguous areas, or leave out --nest.",
                layer=str(units.attrs.get("layer", "units")),
            )
        )
    labels = _allocate_and_partition(graph, gdf, weight, seed, weight_name=weight, total=grids)
    context = PlanContext(weight=weight, group_column=group)
    parameters = {"weight": weight, "grids": grids, "nest": nest, "seed": seed}
    return _measure(gdf, labels, context, graph=graph, parameters=parameters, problems=problems)


# -------------------------------------------------------------------------------- plan files


@dataclass
class PlanFile:
    """Grids read back from a file: a gridmap plan or anybody's grid polygons.

    Attributes
    ----------
    grids
        One polygon per grid with its ``code`` (text), in the file's CRS.
    assignments
        Building id -> grid code, when the file is a gridmap plan GeoPackage; else ``None``.
    info
        The plan's ``parameters`` and ``summary`` when written by gridmap; else empty.
    source
        The path read.
    """

    grids: gpd.GeoDataFrame
    assignments: pd.Series | None
    info: dict[str, Any]
    source: str


def _jsonable(value: Any) -> Any:
    """JSON-safe copy of plan parameters and summaries (NaN -> null, numpy -> Python)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_plan(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write a plan, choosing the format by extension.

    A GeoPackage gets three layers: ``grids`` (lon/lat polygons with codes and metrics),
    ``assignments`` (building id -> grid code, the list street offices hand to grid members)
    and ``plan_info`` (the request and the plan metrics as JSON), so that
    :func:`read_plan` can start a redraw from it.  GeoJSON (RFC 7946) and CSV get the grids.

    Raises
    ------
    InputError
        As the writers raise (unknown extension, missing folder); nothing is half-written.
    """
    grids = plan.grids_wgs84()
    if Path(path).suffix.lower() != ".gpkg":
        io.write_layer(grids, path, layer="grids")
        return
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {"grids": grids}
    codes = plan.building_codes()
    if len(codes):
        layers["assignments"] = pd.DataFrame(
            {"building_id": codes.index.astype(str), "code": codes.to_numpy().astype(str)}
        )
    info = {"parameters": plan.parameters, "summary": plan.summary}
    layers["plan_info"] = pd.DataFrame(
        {
            "key": list(info),
            "value": [json.dumps(_jsonable(v), sort_keys=True) for v in info.values()],
        }
    )
    io.write_geopackage(layers, path)


def read_plan(path: str | os.PathLike[str], *, id_column: str | None = None) -> PlanFile:
    """Read grids from a gridmap plan or any polygon file (GeoJSON, GeoPackage, Shapefile).

    Parameters
    ----------
    path
        The file.  In a GeoPackage with several layers, the ``grids`` layer is read.
    id_column
        The column holding each grid's id (default ``code``); its values become ``code``.

    Raises
    ------
    InputError
        When the file has no polygons, the id column is missing, or ids repeat or are empty.
    """
    source = str(path)
    names = [name for name, _ in io.list_layers(path)]
    layer = "grids" if "grids" in names else None
    grids = io.read_layer(path, layer=layer)
    if not isinstance(grids, gpd.GeoDataFrame) or not len(grids):
        raise InputError(f"{source} holds no grid polygons.", fix="give a file of grid polygons.")
    kinds = set(shapely.get_type_id(grids.geometry.to_numpy()).tolist()) - {3, 6, -1}
    if kinds:
        raise InputError(
            f"{source}: grids must be polygons, found "
            f"{', '.join(sorted(set(grids.geom_type.dropna()) - {'Polygon', 'MultiPolygon'}))}.",
            fix="give the grid polygons (not their outlines or centre points).",
        )
    column = id_column or "code"
    if column not in grids.columns:
        raise InputError(
            f"{source} has no column {column!r} naming the grids; its columns are "
            f"{', '.join(map(str, grids.columns.drop('geometry')))}.",
            fix="name the id column with --id COLUMN.",
        )
    ids = grids[column].astype("string").str.strip()
    empty = np.flatnonzero(ids.isna().to_numpy() | (ids == "").to_numpy())
    if empty.size:
        raise InputError(
            f"{empty.size} grid(s) have no {column!r}.",
            fix=f"give every grid an id in {column!r}.",
            file=source,
            rows=empty.tolist(),
        )
    repeated = np.flatnonzero(ids.duplicated(keep=False).to_numpy())
    if repeated.size:
        raise InputError(
            f"grid ids repeat in {column!r}: {', '.join(sorted(set(ids.iloc[repeated])))}.",
            fix="give every grid its own id, or merge the polygons of one grid into one feature.",
            file=source,
            rows=repeated.tolist(),
        )
    grids = grids.assign(code=ids.to_numpy(dtype=object))
    assignments = None
    info: dict[str, Any] = {}
    if "assignments" in names:
        table = io.read_layer(path, layer="assignments", require_geometry=False)
        assignments = pd.Series(
            table["code"].astype(str).to_numpy(),
            index=table["building_id"].astype(str),
            name="code",
        )
    if "plan_info" in names:
        table = io.read_layer(path, layer="plan_info", require_geometry=False)
        info = {str(k): json.loads(v) for k, v in zip(table["key"], table["value"], strict=True)}
    return PlanFile(grids, assignments, info, source)


def overlap_codes(
    shapes: gpd.GeoSeries | gpd.GeoDataFrame, grids: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """The grid holding the largest part of each shape (a unit or a building footprint).

    Parameters
    ----------
    shapes
        Polygons (or points) in any CRS.
    grids
        Grid polygons with a ``code`` column, in any CRS (both are compared in the shapes'
        local metric CRS).

    Returns
    -------
    codes, share
        ``codes``: object array, the code of the grid with the largest overlap, or ``None``
        for a shape touching no grid (ties: the code that sorts first, as in
        :class:`gridmap.index.GridIndex`); ``share``: that overlap as a share of the shape's
        area (1.0 for a point inside a grid).
    """
    series = shapes.geometry if isinstance(shapes, gpd.GeoDataFrame) else shapes
    metric = series.crs if series.crs is not None and series.crs.is_projected else None
    metric = metric or local_metric_crs(series)
    geoms = series.to_crs(metric).to_numpy()
    order = np.argsort(grids["code"].astype(str).to_numpy(), kind="stable")  # ties: lowest code
    cells = grids.geometry.to_crs(metric).to_numpy()[order]
    return largest_overlap(geoms, cells, grids["code"].to_numpy(dtype=object)[order])
