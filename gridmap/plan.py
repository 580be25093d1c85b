"""The plan: a street divided into grids, with codes and metrics.

:func:`make_plan` runs the whole pipeline on a workspace (units, graph, allocation, partition,
metrics, codes); :func:`partition_units` does the same for polygons that already carry counts
(census blocks, tracts: "units mode").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.coding import grid_codes
from gridmap.crs import local_metric_crs, to_wgs84
from gridmap.errors import InputError, Problem
from gridmap.graph import BARRIER_GAP, build_graph
from gridmap.metrics import grid_metrics, plan_summary
from gridmap.partition import allocate_grids, partition_graph, shape_inputs
from gridmap.units import build_units

#: Steps :func:`make_plan` reports to its ``progress`` callback, in order.
PLAN_STEPS = ("units", "graph", "partition", "metrics", "codes")

#: Share of the target that one unit may hold before its block is split between buildings.
UNIT_SHARE_OF_TARGET = 0.375


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
    """

    units: gpd.GeoDataFrame
    labels: np.ndarray
    grids: gpd.GeoDataFrame
    summary: dict[str, Any]
    parameters: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)

    def grids_wgs84(self) -> gpd.GeoDataFrame:
        """The grids in EPSG:4326 (lon/lat), ready for GeoJSON or a GeoPackage."""
        return to_wgs84(self.grids)


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

    Returns
    -------
    Plan

    Raises
    ------
    InputError
        When the request cannot be met: a community too small for one grid in range, more
        grids than units, a missing layer.
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
    street_code = str(street["code"].iloc[0])
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
    _advance(progress, "partition")
    weights = units.gdf[weight].to_numpy(dtype=float)
    if weights.sum() <= 0:
        raise InputError(
            f"the street has no {weight} to divide (the {weight} of every unit is 0).",
            fix="add the households layer (with persons), or the households column of buildings.",
        )
    if per_community is not None:
        per_community = _resolve_communities(per_community, list(graph.group_names))
    labels = _allocate_and_partition(
        graph, units.gdf, weight, seed, weight_name=weight,
        target=target, minimum=minimum, maximum=maximum, total=grids, per_group=per_community,
    )  # fmt: skip
    _advance(progress, "metrics")
    grid_table = grid_metrics(
        units.gdf,
        labels,
        weight=weight,
        target=None if grids or per_community else target,
        lines=_lines(layers, crs),
        group_column="community",
    )
    _advance(progress, "codes")
    grid_table.insert(0, "code", grid_codes(grid_table, street_code=street_code).to_numpy())
    street_shape = shapely.union_all(street.to_crs(crs).geometry.to_numpy())
    summary = plan_summary(
        grid_table,
        street=street_shape,
        min_weight=None if grids or per_community else minimum,
        max_weight=None if grids or per_community else maximum,
    )
    parameters = {
        "target": target, "minimum": minimum, "maximum": maximum, "grids": grids,
        "per_community": dict(per_community or {}), "weight": weight, "seed": seed,
    }  # fmt: skip
    problems = [p for p in units.problems if p.severity != "info"]
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
    return Plan(units.gdf, labels, grid_table, summary, parameters, problems)


def _allocate_and_partition(
    graph: Any, units: gpd.GeoDataFrame, weight: str, seed: int, **request: Any
) -> np.ndarray:
    """Share the grids among the groups (``request``: see allocate_grids), then partition.

    A group without weight still needs its land covered, so it gets one grid.
    """
    weights = units[weight].to_numpy(dtype=float)
    group_weights = {
        name: float(weights[graph.groups == g].sum()) for g, name in enumerate(graph.group_names)
    }
    allocation = allocate_grids(group_weights, **request)
    allocation = {name: max(1, count) for name, count in allocation.items()}
    _check_enough_units(graph, weights, allocation, weight)
    points = units.geometry.representative_point()
    shape = shape_inputs(
        graph,
        units.area.to_numpy(),
        units.length.to_numpy(),
        np.column_stack([points.x.to_numpy(), points.y.to_numpy()]),
    )
    return partition_graph(graph, weights, allocation, seed=seed, compactness=shape)


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
    table = grid_metrics(gdf, labels, weight=weight, target=None, group_column=group)
    table.insert(0, "code", [f"{i + 1:03d}" for i in range(len(table))])
    summary = plan_summary(table)
    parameters = {"weight": weight, "grids": grids, "nest": nest, "seed": seed}
    return Plan(gdf, labels, table, summary, parameters, problems)
