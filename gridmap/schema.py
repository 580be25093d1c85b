"""The layers of a street workspace: their columns, geometry types and allowed values.

This module is pure data.  :mod:`gridmap.layers` validates GeoDataFrames against it and
:mod:`gridmap.sample` generates data that follows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["id", "str", "int", "float", "datetime", "code"]

#: Geometry families a layer may hold (``None``: an attribute table with no geometry).
GeometryFamily = Literal["polygon", "line", "point"]

#: Times in a workspace are naive wall-clock times in this zone; times given with a UTC offset
#: are converted to it.
LOCAL_TIMEZONE = "Asia/Shanghai"

ROAD_CLASSES = ("arterial", "secondary", "local", "path")
WATER_KINDS = ("river", "canal", "lake", "pond")
BUILDING_KINDS = (
    "highrise",  # high-rise residential, usually in a walled compound (小区)
    "midrise",  # 6-9 storey walk-up or work-unit housing
    "lowrise",  # old low-rise blocks (老旧小区 / 平房)
    "village",  # urban village (城中村) self-built housing
    "school",
    "commercial",
    "public",  # offices, clinics, community centres
    "park",  # pavilions and service buildings in parks
)
NON_RESIDENTIAL_KINDS = ("school", "commercial", "public", "park")
COMPOUND_KINDS = ("residential", "school", "park", "work_unit", "village")
INCIDENT_CATEGORIES = (
    "sanitation",
    "illegal_construction",
    "neighbour_dispute",
    "safety_hazard",
    "municipal_facilities",
    "street_vending",
    "noise",
)
INCIDENT_STATUSES = (
    "reported",
    "accepted",
    "in_progress",
    "resolved",
    "closed",
    "rejected",
    "duplicate",
)
#: Statuses after which an incident is no longer open and must carry ``closed_at``.
FINAL_STATUSES = ("closed", "rejected", "duplicate")
INCIDENT_PRIORITIES = ("low", "normal", "high", "urgent")
INCIDENT_SOURCES = ("member_app", "hotline", "web", "walk_in", "sensor", "other")


@dataclass(frozen=True)
class Column:
    """One column of a layer.

    ``allowed`` lists the values a text column may take; ``minimum`` bounds a number;
    ``nullable`` says whether empty cells are fine in a column that is present.
    """

    name: str
    type: ColumnType
    required: bool = True
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    digits: tuple[int, ...] | None = None  # allowed lengths of a ``code`` column
    description: str = ""


@dataclass(frozen=True)
class LayerSpec:
    """What one workspace layer must hold."""

    name: str
    title: str
    geometry: tuple[GeometryFamily, ...] | None
    columns: tuple[Column, ...]
    required: bool = True
    id_column: str | None = "id"
    #: Columns that must never be present (personal data the workspace does not keep).
    forbidden: tuple[str, ...] = ()
    description: str = ""
    columns_by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns_by_name", {c.name: c for c in self.columns})


PERSONAL_COLUMNS = ("name", "names", "phone", "telephone", "mobile", "id_card", "idcard")

LAYERS: dict[str, LayerSpec] = {
    spec.name: spec
    for spec in (
        LayerSpec(
            "street",
            "Street boundary (街道)",
            ("polygon",),
            (
                Column("code", "code", digits=(9,), description="6-digit district + 3 digits"),
                Column("name", "str"),
                Column("district_code", "code", digits=(6,), description="GB/T 2260 district"),
            ),
            id_column="code",
            description="One polygon: the area being divided into grids.",
        ),
        LayerSpec(
            "communities",
            "Communities (社区)",
            ("polygon",),
            (
                Column("code", "code", digits=(3, 12), description="3-digit or full 12-digit code"),
                Column("name", "str"),
            ),
            id_column="code",
            description="Grids nest inside these: no grid crosses a community line.",
        ),
        LayerSpec(
            "roads",
            "Roads (centrelines)",
            ("line",),
            (
                Column("class", "str", allowed=ROAD_CLASSES),
                Column("name", "str", required=False, nullable=True),
            ),
            id_column=None,
            description="Grid boundaries follow these; arterials are hard to cross.",
        ),
        LayerSpec(
            "water",
            "Rivers, canals and lakes",
            ("line", "polygon"),
            (
                Column("kind", "str", required=False, allowed=WATER_KINDS),
                Column("name", "str", required=False, nullable=True),
            ),
            required=False,
            id_column=None,
        ),
        LayerSpec(
            "compounds",
            "Walled compounds (小区, schools, parks)",
            ("polygon",),
            (
                Column("id", "id"),
                Column("name", "str", required=False, nullable=True),
                Column("kind", "str", required=False, allowed=COMPOUND_KINDS),
            ),
            required=False,
            description="Compound walls: kept whole by the partitioner where size allows.",
        ),
        LayerSpec(
            "buildings",
            "Buildings",
            ("polygon",),
            (
                Column("id", "id"),
                Column("floors", "int", minimum=1),
                Column("households", "int", required=False, nullable=True, minimum=0),
                Column("compound_id", "id", required=False, nullable=True),
                Column("kind", "str", required=False, nullable=True, allowed=BUILDING_KINDS),
            ),
            description="Never split by a grid line.",
        ),
        LayerSpec(
            "households",
            "Households (points, no personal data)",
            ("point",),
            (
                Column("id", "id"),
                Column("persons", "int", minimum=1),
                Column("building_id", "id", required=False, nullable=True),
            ),
            required=False,
            forbidden=PERSONAL_COLUMNS,
            description="Counted per grid; names and phone numbers are not kept.",
        ),
        LayerSpec(
            "incidents",
            "Incidents (网格事项)",
            ("point",),
            (
                Column("id", "id"),
                Column("category", "str", allowed=INCIDENT_CATEGORIES),
                Column("status", "str", allowed=INCIDENT_STATUSES),
                Column("priority", "str", allowed=INCIDENT_PRIORITIES),
                Column("reported_at", "datetime"),
                Column("closed_at", "datetime", nullable=True),
                Column("source", "str", allowed=INCIDENT_SOURCES),
                Column("description", "str", nullable=True),
            ),
            required=False,
        ),
        LayerSpec(
            "members",
            "Grid members (网格员) roster",
            None,
            (
                Column("id", "id"),
                Column("name", "str"),
                Column("phone", "str"),
                Column("community_code", "code", required=False, nullable=True, digits=(3, 12)),
            ),
            required=False,
        ),
    )
}
