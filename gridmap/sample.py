"""Generate a deterministic synthetic street: the sample workspace demos and tests start from.

The street is fictional but sits at a real place: central Chengdu, in Jinjiang District
(锦江区, GB/T 2260 code 510104), around 104.110°E 30.640°N.  From one seed the generator draws,
in a local metric CRS (the CGCS2000 3-degree Gauss-Krüger zone of the place, CM 105°E):

1. a network of sinuous arterials (a loose grid plus one diagonal radial road), secondaries
   between them (some pieces left out, so there are T-junctions), and a meandering river
   (锦溪河) flowing from west-north-west to east-south-east;
2. the street (锦华街道): a connected set of the blocks between those lines grown from the
   centre to 5.2-7 km², so its boundary follows arterials, secondaries and the river;
3. local roads in every block at varied spacing and angles, some curving, some stopping
   part way (dead ends), riverside roads along both banks, and in blocks larger than
   :data:`MAX_BLOCK_AREA` one or two crossing roads promoted to secondaries;
4. parcels (the faces between all roads), each given a land use: an urban village (城中村)
   and old low-rise and work-unit blocks towards the old town, high-rise compounds further
   out, schools, parks with a pond, campuses (a hospital, offices), shops and offices near
   the big crossings, and a little land being redeveloped;
5. buildings laid out per land use, clear of the roads (setbacks by road class) and the
   river; compound walls around high-rise, work-unit, school, park and campus parcels;
6. households per building from floor area and a typical flat size by kind, scaled so that
   about 100,000 residents live in the street; one point per household inside its building;
7. 6-8 communities, each a contiguous union of blocks (so their boundaries run along
   arterials, secondaries and the river) of broadly similar household counts;
8. a roster of grid members, one per ~400 households, with synthetic names and numbers;
9. twelve months of incidents (2025-11-01 to 2026-10-31) with per-category hotspots,
   weekly, seasonal, holiday and daily rhythms, lognormal handling times and statuses.

Everything is returned in EPSG:4326.  Datetimes are timezone-naive local wall-clock time
(Asia/Shanghai, UTC+8).  The same seed always gives the same layers and, through
:func:`gridmap.io.write_geopackage`, the same file bytes: all randomness comes from
``numpy.random.default_rng`` streams derived from the seed, one per stage.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from shapely.ops import substring

from gridmap.crs import gauss_kruger_crs, to_wgs84
from gridmap.schema import (
    FINAL_STATUSES,
    INCIDENT_CATEGORIES,
    INCIDENT_PRIORITIES,
    INCIDENT_SOURCES,
    LAYERS,
)

__all__ = [
    "CENTRE_LAT",
    "CENTRE_LON",
    "DEFAULT_SEED",
    "DISTRICT_CODE",
    "SAMPLE_STEPS",
    "STREET_CODE",
    "STREET_NAME",
    "add_compound",
    "generate_street",
    "write_sample",
]

#: The seed of the committed sample (``sample_data/sample_street.gpkg``).
DEFAULT_SEED = 2026

#: Stages reported to ``progress``, in order; each name is passed once its stage is done.
SAMPLE_STEPS: tuple[str, ...] = (
    "road network",
    "street boundary",
    "local roads",
    "land use",
    "buildings",
    "households",
    "communities",
    "members",
    "incidents",
    "coordinates",
    "writing",
)

#: Where the street lies: Jinjiang District, Chengdu (WGS84 lon/lat of the local origin).
CENTRE_LON = 104.110
CENTRE_LAT = 30.640
#: GB/T 2260 code of Jinjiang District (锦江区), Chengdu, Sichuan.
DISTRICT_CODE = "510104"
#: The street's 3-digit number in the district (fictional) and its full 9-digit code.
STREET_NUMBER = "090"
STREET_CODE = DISTRICT_CODE + STREET_NUMBER
STREET_NAME = "锦华街道"
RIVER_NAME = "锦溪河"
VILLAGE_NAME = "何家湾"

#: The incident record: from the first moment (inclusive) to the last (exclusive), local time.
INCIDENTS_START = np.datetime64("2025-11-01T00:00:00", "s")
INCIDENTS_END = np.datetime64("2026-11-01T00:00:00", "s")

#: Half-width plus setback (m) that buildings keep from a road centreline, by road class.
ROAD_SETBACK = {"arterial": 22.0, "secondary": 15.0, "local": 9.0, "path": 2.2}
#: Blocks between arterials and secondaries larger than this (m²) get a secondary across.
MAX_BLOCK_AREA = 300_000.0
#: Gross floor area (m²) per occupied household, by building kind: the flat plus its share
#: of common areas and of empty flats (high-rise: ~90 m² flats, many unsold or empty;
#: urban village: rooms let to migrant workers; its ground floors are shops).
FLAT_AREA = {"highrise": 140.0, "midrise": 85.0, "lowrise": 65.0, "village": 40.0}
#: Share of households of 1, 2 ... 6 persons, by building kind.
PERSONS_SHARE = {
    "highrise": (0.18, 0.30, 0.28, 0.13, 0.07, 0.04),
    "midrise": (0.24, 0.33, 0.24, 0.11, 0.05, 0.03),
    "lowrise": (0.31, 0.34, 0.18, 0.09, 0.05, 0.03),
    "village": (0.40, 0.26, 0.17, 0.09, 0.05, 0.03),
}
TARGET_RESIDENTS = 100_000
HOUSEHOLDS_PER_MEMBER = 400
TARGET_INCIDENTS = 20_000
#: Longest handling time (days): older incidents are all closed.
MAX_HANDLING_DAYS = 40

_REGION = 3000.0  # half-size (m) of the square of road network drawn around the origin
_STEP = 20.0  # vertex spacing (m) of drawn lines
_RIVER_BANK = 12.0  # the riverside roads run this far (m) outside the water's edge
_WATER_SETBACK = 8.0  # buildings keep this far (m) from water

# Independent random streams: a stage's output does not change when another stage changes.
_STREAMS = (
    "network",
    "street",
    "locals",
    "landuse",
    "buildings",
    "households",
    "communities",
    "members",
    "incidents",
)


def _rng(seed: int, stage: str, part: int = 0) -> np.random.Generator:
    return np.random.default_rng([int(seed), _STREAMS.index(stage) + 1, part])


# --------------------------------------------------------------------------------------------
# names (all fictional)

_ARTERIAL_NAMES = (
    "锦华大道", "东安路", "望平大道", "迎晖路", "川锦大道", "红星东路", "牛王大道", "东光路",
    "合江路", "春熙东路", "蜀锦大道", "晨晖路",
)  # fmt: skip
_SECONDARY_NAMES = (
    "和平街", "水碾街", "桂花街", "莲花街", "新民街", "太平街", "双槐街", "青竹街", "春晖街",
    "玉沙街", "盐井街", "柳荫街", "东桂街", "锦官街", "芙蓉街", "梓潼街", "书院街", "墨池街",
    "文庙街", "龙池街", "金马街", "银丝街",
)  # fmt: skip
_LOCAL_PREFIXES = (
    "竹林", "柿子", "玉泉", "槐树", "菱角", "染坊", "油坊", "石灰", "豆腐", "纱帽", "金丝", "银杏",
    "杉板", "磨盘", "古井", "茶店", "马家", "刘家", "黄瓦", "鹭鸶", "方池", "白果", "烟袋", "棉花",
)  # fmt: skip
_LOCAL_SUFFIXES = ("巷", "街", "路", "里")
_COMMUNITY_NAMES = (
    "锦华", "望川", "兴隆", "桂苑", "柳岸", "青竹", "芙蓉", "和平", "新华", "玉带", "东湖", "双桥",
)  # fmt: skip
_COMPOUND_PREFIXES = (
    "翠湖", "东湖", "金桂", "蓝湾", "香榭", "御景", "丽都", "春江", "和美", "天合", "紫荆", "枫林",
    "龙湾", "锦绣", "嘉禾", "阳光", "滨江", "望江", "华瑞", "世纪", "新城", "锦城", "银河", "朗悦",
)  # fmt: skip
_COMPOUND_SUFFIXES = ("小区", "花园", "苑", "华庭", "家园", "公馆", "雅居", "名城")
_WORK_UNITS = (
    "纺织厂", "机械厂", "电业局", "铁路局", "粮食局", "邮电局", "水泥厂", "红光厂", "建工局",
    "卫生局", "无线电厂", "印刷厂", "汽修厂", "棉纺厂", "供销社", "化工厂",
)  # fmt: skip
_SCHOOL_NAMES = (
    "锦华小学", "望川小学", "桂苑小学", "锦华中学", "东光实验小学", "川锦中学", "芙蓉小学",
    "兴隆小学", "青竹中学", "双桥小学", "柳岸中学",
)  # fmt: skip
_CAMPUS_NAMES = (
    "锦华医院", "市第七人民医院", "省建筑设计研究院", "区政务服务中心", "东光电子研究所",
    "区中医医院", "市疾控中心", "区机关大院", "市水务设计院", "川锦职业技术学院",
)  # fmt: skip
_PARK_NAMES = ("桂溪公园", "望川公园", "锦华公园", "柳岸公园", "双桥公园")
_SURNAMES = tuple("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁")
_GIVEN_CHARS = tuple("伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玲红建国文斌波婷琳欣宇浩")


# --------------------------------------------------------------------------------------------
# geometry helpers


def _wavy(
    rng: np.random.Generator,
    p0: tuple[float, float],
    p1: tuple[float, float],
    amplitude: float,
    wavelength: tuple[float, float] = (1200.0, 2600.0),
) -> np.ndarray:
    """Coordinates of a gently sinuous line from p0 to p1 (two sine harmonics across it)."""
    x0, y0 = p0
    x1, y1 = p1
    length = math.hypot(x1 - x0, y1 - y0)
    s = np.linspace(0.0, length, max(2, int(length / _STEP) + 1))
    lam1 = rng.uniform(*wavelength)
    lam2 = lam1 / rng.uniform(2.5, 3.5)
    off = amplitude * rng.uniform(0.6, 1.0) * np.sin(2 * np.pi * s / lam1 + rng.uniform(0, 6.3))
    off += amplitude * rng.uniform(0.0, 0.35) * np.sin(2 * np.pi * s / lam2 + rng.uniform(0, 6.3))
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    return np.column_stack([x0 + ux * s - uy * off, y0 + uy * s + ux * off])


def _rectangles(
    cx: np.ndarray, cy: np.ndarray, w: np.ndarray, h: np.ndarray, angle: np.ndarray
) -> np.ndarray:
    """Rectangles ``w`` long (along ``angle``) and ``h`` deep, centred on (cx, cy)."""
    du = np.array([-0.5, 0.5, 0.5, -0.5, -0.5])
    dv = np.array([-0.5, -0.5, 0.5, 0.5, -0.5])
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    u = du[None, :] * np.asarray(w)[:, None]
    v = dv[None, :] * np.asarray(h)[:, None]
    x = np.asarray(cx)[:, None] + u * c - v * s
    y = np.asarray(cy)[:, None] + u * s + v * c
    return shapely.polygons(np.stack([x, y], axis=-1))


def _to_frame(geom: shapely.Geometry, origin: np.ndarray, angle: float) -> shapely.Geometry:
    """Rotate a geometry by ``-angle`` about ``origin``: into a block's own (u, v) frame."""
    c, s = math.cos(angle), math.sin(angle)

    def rotate(xy: np.ndarray) -> np.ndarray:
        d = xy - origin
        return np.column_stack([d[:, 0] * c + d[:, 1] * s, -d[:, 0] * s + d[:, 1] * c])

    return shapely.transform(geom, rotate)


def _from_frame(
    u: np.ndarray, v: np.ndarray, origin: np.ndarray, angle: float
) -> tuple[np.ndarray, np.ndarray]:
    """Frame coordinates (u, v) back to the map."""
    c, s = math.cos(angle), math.sin(angle)
    return origin[0] + u * c - v * s, origin[1] + u * s + v * c


def _lines(coords: list[np.ndarray]) -> np.ndarray:
    return np.array([shapely.linestrings(c) for c in coords], dtype=object)


def _explode_lines(geoms, min_length: float) -> tuple[np.ndarray, np.ndarray]:
    """LineString parts of ``geoms`` at least ``min_length`` long, and the index of their source."""
    parts, index = shapely.get_parts(
        np.atleast_1d(np.asarray(geoms, dtype=object)), return_index=True
    )
    keep = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) >= min_length)
    return parts[keep], index[keep]


def _orientation(poly: shapely.Geometry) -> float:
    """Angle (radians, in [-pi/4, pi/4)) of the sides of the minimum rotated rectangle."""
    xy = shapely.get_coordinates(shapely.oriented_envelope(poly))
    if len(xy) < 3:
        return 0.0
    angle = math.atan2(xy[1, 1] - xy[0, 1], xy[1, 0] - xy[0, 0])
    return (angle + math.pi / 4) % (math.pi / 2) - math.pi / 4


def _centre(geom: shapely.Geometry) -> np.ndarray:
    return shapely.get_coordinates(shapely.centroid(geom))[0]


def _canonical(geoms: np.ndarray) -> np.ndarray:
    """Polygons normalised and sorted north to south, then west to east (a stable order)."""
    geoms = shapely.normalize(geoms)
    pts = shapely.point_on_surface(geoms)
    order = np.lexsort((np.round(shapely.get_x(pts), 3), -np.round(shapely.get_y(pts), 3)))
    return geoms[order]


def _faces(lines, inside: shapely.Geometry) -> np.ndarray:
    """The polygons that ``lines`` enclose (noded as one), those inside ``inside``, in order."""
    noded = shapely.union_all(np.asarray(lines, dtype=object))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = faces[shapely.area(faces) > 0.0]
    return _canonical(faces[shapely.contains(inside, shapely.point_on_surface(faces))])


def _largest_polygon(geom: shapely.Geometry) -> shapely.Geometry:
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_type_id(parts) == 3]
    if not len(parts):
        return shapely.Polygon()
    return parts[int(np.argmax(shapely.area(parts)))]


def _pairwise_min(points: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Distance from each of ``points`` (n, 2) to the nearest of ``others`` (m, 2)."""
    if not len(others):
        return np.full(len(points), np.inf)
    d = np.hypot(points[:, 0, None] - others[None, :, 0], points[:, 1, None] - others[None, :, 1])
    return d.min(axis=1)


# --------------------------------------------------------------------------------------------
# the state the stages fill in, in local metric coordinates (metres from the origin)

Road = tuple[shapely.Geometry, str, str | None]  # line, class, name


def _empty() -> np.ndarray:
    return np.empty(0, dtype=object)


@dataclass
class _State:
    seed: int
    roads: list[Road] = field(default_factory=list)
    #: Lines that bound blocks (arterials, secondaries extended a little, river), clipped.
    block_lines: np.ndarray = field(default_factory=_empty)
    river: shapely.Geometry = field(default_factory=shapely.LineString)
    river_half_width: float = 30.0
    river_zone: shapely.Geometry = field(default_factory=shapely.Polygon)
    street: shapely.Geometry = field(default_factory=shapely.Polygon)
    cells: np.ndarray = field(default_factory=_empty)  # blocks between major lines
    cell_angle: np.ndarray = field(default_factory=lambda: np.empty(0))
    water: list[tuple[shapely.Geometry, str, str]] = field(default_factory=list)
    hotspots: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    old_dir: np.ndarray = field(default_factory=lambda: np.zeros(2))
    parcels: np.ndarray = field(default_factory=_empty)
    parcel_cell: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    parcel_use: np.ndarray = field(default_factory=_empty)
    buildable: np.ndarray = field(default_factory=_empty)
    compounds: list[tuple[shapely.Geometry, str, str]] = field(default_factory=list)
    buildings: pd.DataFrame = field(default_factory=pd.DataFrame)
    households: pd.DataFrame = field(default_factory=pd.DataFrame)
    communities: list[tuple[shapely.Geometry, str, str]] = field(default_factory=list)
    community_households: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))
    members: pd.DataFrame = field(default_factory=pd.DataFrame)
    incidents: pd.DataFrame = field(default_factory=pd.DataFrame)

    def roads_of(self, *classes: str) -> np.ndarray:
        return np.array([r[0] for r in self.roads if r[1] in classes], dtype=object)


# --------------------------------------------------------------------------------------------
# 1. road network and river


def _straight_family(
    rng: np.random.Generator, positions: list[float], axis: str, amplitude: tuple[float, float]
) -> list[np.ndarray]:
    """Sinuous, slightly tilted lines across the region at ``positions`` along ``axis``."""
    R = _REGION + 400.0
    out = []
    for p in positions:
        tilt = math.tan(math.radians(rng.uniform(-6.0, 6.0)))
        amp = rng.uniform(*amplitude)
        if axis == "x":
            out.append(_wavy(rng, (p - tilt * R, -R), (p + tilt * R, R), amp))
        else:
            out.append(_wavy(rng, (-R, p - tilt * R), (R, p + tilt * R), amp))
    return out


def _network(st: _State) -> None:
    """Arterials (a loose grid and one diagonal), secondaries between them, and the river."""
    rng = _rng(st.seed, "network")
    names = _rng(st.seed, "network", 1)
    R = _REGION + 400.0
    arterials: list[np.ndarray] = []
    secondaries: list[np.ndarray] = []
    for axis in ("x", "y"):
        positions, p = [], -_REGION + rng.uniform(150.0, 650.0)
        while p < _REGION:
            positions.append(p)
            p += rng.uniform(950.0, 1300.0)
        arterials += _straight_family(rng, positions, axis, (15.0, 45.0))
        edges = [-R, *positions, R]
        middle = [
            (a + b) / 2 + rng.uniform(-0.12, 0.12) * (b - a)
            for a, b in zip(edges[:-1], edges[1:], strict=True)
            if b - a >= 700.0
        ]
        secondaries += _straight_family(rng, middle, axis, (5.0, 25.0))
    # one radial road, south-west to north-east, through a point near the centre
    angle = math.radians(rng.uniform(30.0, 60.0))
    cx, cy = rng.uniform(-700.0, 700.0, size=2)
    d = 2 * R
    ends = (cx - d * math.cos(angle), cy - d * math.sin(angle))
    other = (cx + d * math.cos(angle), cy + d * math.sin(angle))
    arterials.append(_wavy(rng, ends, other, rng.uniform(20.0, 50.0)))
    art = _lines(arterials)
    art_union = shapely.union_all(art)

    # secondaries run from arterial to arterial: about one stretch between two crossings in
    # seven is left out, so that they end in T-junctions
    pieces: list[tuple[shapely.Geometry, int]] = []
    block_lines = list(art)
    for k, line in enumerate(_lines(secondaries)):
        cuts = shapely.get_parts(shapely.intersection(line, art_union))
        cuts = cuts[shapely.get_type_id(cuts) == 0]
        at = np.unique(np.r_[0.0, line.length, shapely.line_locate_point(line, cuts)])
        runs: list[list[float]] = []
        for d0, d1 in zip(at[:-1], at[1:], strict=True):
            if d1 - d0 < 60.0 or rng.random() < 0.15:
                continue
            if runs and d0 - runs[-1][1] < 5.0:
                runs[-1][1] = d1  # continues the previous stretch
            else:
                runs.append([d0, d1])
        for d0, d1 in runs:
            pieces.append((substring(line, d0, d1), k))
            # for noding, 2 m longer at each end so that it surely crosses the arterials
            block_lines.append(substring(line, max(0.0, d0 - 2.0), d1 + 2.0))

    # the river flows from west-north-west to east-south-east, close to the centre
    flow = math.radians(-rng.uniform(18.0, 32.0))
    off = rng.uniform(-150.0, 150.0)
    ox, oy = -math.sin(flow) * off, math.cos(flow) * off
    r0 = (ox - d * math.cos(flow), oy - d * math.sin(flow))
    r1 = (ox + d * math.cos(flow), oy + d * math.sin(flow))
    amp = rng.uniform(90.0, 170.0)
    st.river = shapely.linestrings(_wavy(rng, r0, r1, amp, wavelength=(1500.0, 2400.0)))
    st.river_half_width = float(rng.uniform(24.0, 34.0))
    block_lines.append(st.river)
    st.block_lines = np.array(block_lines, dtype=object)

    art_names = names.permutation(len(_ARTERIAL_NAMES))
    sec_names = names.permutation(len(_SECONDARY_NAMES))
    for i, line in enumerate(art):
        st.roads.append((line, "arterial", _ARTERIAL_NAMES[art_names[i % len(art_names)]]))
    for line, k in pieces:  # the pieces of one secondary share its name
        st.roads.append((line, "secondary", _SECONDARY_NAMES[sec_names[k % len(sec_names)]]))


# --------------------------------------------------------------------------------------------
# 2. the street and its blocks (cells)


def _street(st: _State) -> None:
    """Grow the street from the centre, block by neighbouring block, to 5.2-7 km²."""
    rng = _rng(st.seed, "street")
    box = shapely.box(-_REGION, -_REGION, _REGION, _REGION)
    st.block_lines = np.concatenate([shapely.intersection(st.block_lines, box), [box.exterior]])
    faces = _faces(st.block_lines, box)
    faces = faces[shapely.distance(faces, box.exterior) > 1.0]  # not cut by the region's edge
    area = shapely.area(faces)
    centre = shapely.centroid(faces)
    dist = np.hypot(shapely.get_x(centre), shapely.get_y(centre))
    score = dist * rng.uniform(0.8, 1.2, size=len(faces))

    left, right = shapely.STRtree(faces).query(faces, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    shared = shapely.length(
        shapely.intersection(shapely.boundary(faces[left]), shapely.boundary(faces[right]))
    )
    neighbours: list[list[int]] = [[] for _ in range(len(faces))]
    for a, b in zip(left[shared > 30.0], right[shared > 30.0], strict=True):
        neighbours[a].append(int(b))
        neighbours[b].append(int(a))

    target = rng.uniform(5.2e6, 6.0e6)
    chosen = [int(np.argmin(np.where(area > 50_000.0, dist, np.inf)))]
    total = area[chosen[0]]
    while total < target:
        frontier = sorted(
            {n for c in chosen for n in neighbours[c] if n not in chosen},
            key=lambda n: (score[n], n),
        )
        frontier = [n for n in frontier if total + area[n] < 7.0e6]
        if not frontier:
            break
        chosen.append(frontier[0])
        total += area[frontier[0]]
    merged = shapely.union_all(faces[sorted(chosen)])
    st.street = shapely.normalize(shapely.Polygon(_largest_polygon(merged).exterior))
    shapely.prepare(st.street)
    st.cells = faces[shapely.contains(st.street, shapely.point_on_surface(faces))]
    st.cell_angle = np.array([_orientation(c) for c in st.cells])

    # the street's roads: clipped to it (those along its edge are kept)
    geoms = np.array([r[0] for r in st.roads], dtype=object)
    parts, index = _explode_lines(shapely.intersection(geoms, shapely.buffer(st.street, 0.5)), 20)
    st.roads = [(p, st.roads[i][1], st.roads[i][2]) for p, i in zip(parts, index, strict=True)]

    river_in = shapely.intersection(st.river, st.street)
    if shapely.length(river_in) < 1000.0:  # cannot happen: the river passes near the centre
        raise RuntimeError(f"seed {st.seed}: the river does not cross the street")
    channel = shapely.buffer(st.river, st.river_half_width, cap_style="flat")
    for part in shapely.get_parts(shapely.intersection(channel, st.street)):
        if shapely.get_type_id(part) == 3 and part.area > 10.0:
            st.water.append((shapely.normalize(part), "river", RIVER_NAME))
    for part in _explode_lines(river_in, 10.0)[0]:
        st.water.append((part, "river", RIVER_NAME))
    st.river_zone = shapely.buffer(st.river, st.river_half_width + _RIVER_BANK)

    # busy crossings (arterial with arterial or secondary) well inside the street
    crossings = shapely.get_parts(
        shapely.intersection(
            shapely.union_all(st.roads_of("arterial")),
            shapely.union_all(st.roads_of("arterial", "secondary")),
        )
    )
    crossings = crossings[shapely.get_type_id(crossings) == 0]
    crossings = crossings[shapely.contains(shapely.buffer(st.street, -60.0), crossings)]
    st.hotspots = shapely.get_coordinates(crossings)


# --------------------------------------------------------------------------------------------
# 3. local roads


def _block_roads(
    rng: np.random.Generator, cell: shapely.Geometry, angle: float, spacing: float
) -> list[np.ndarray]:
    """Local roads across one block: two loose families at varied spacing, maybe a diagonal."""
    c = _centre(cell)
    umin, vmin, umax, vmax = _to_frame(cell, c, angle).bounds
    coords = []
    skew = math.tan(math.radians(rng.uniform(-12.0, 12.0)))  # the families are not square
    for along_v in (True, False):
        lo, hi = (umin, umax) if along_v else (vmin, vmax)
        a_lo, a_hi = (vmin, vmax) if along_v else (umin, umax)
        sp = spacing * (1.0 if along_v else rng.uniform(1.0, 1.35))
        p = lo + sp * rng.uniform(0.55, 1.0)
        while p < hi - 50.0:
            step = sp * rng.uniform(0.6, 1.4)
            if rng.random() < 0.18:  # no road here: a wider parcel
                p += step
                continue
            s0, s1 = a_lo - 10.0, a_hi + 10.0
            if rng.random() < 0.35:  # a dead end: the road stops part way across
                cut = rng.uniform(0.3, 0.75) * (s1 - s0)
                s0, s1 = (s0, s0 + cut) if rng.random() < 0.5 else (s1 - cut, s1)
            tilt = math.tan(math.radians(rng.uniform(-5.0, 5.0)))
            if along_v:  # a road of (nearly) constant u
                ends = ((p + tilt * s0, s0), (p + tilt * s1, s1))
            else:
                tilt += skew
                ends = ((s0, p + tilt * s0), (s1, p + tilt * s1))
            curvy = rng.random() < 0.2
            amp = rng.uniform(12.0, 28.0) if curvy else rng.uniform(1.5, 6.0)
            pts = _wavy(rng, ends[0], ends[1], amp, wavelength=(300.0, 700.0))
            coords.append(np.column_stack(_from_frame(pts[:, 0], pts[:, 1], c, angle)))
            p += step
    if rng.random() < 0.3:  # a diagonal lane across the block
        t = math.radians(rng.uniform(25.0, 65.0)) * (1 if rng.random() < 0.5 else -1)
        half = math.hypot(umax - umin, vmax - vmin)
        du, dv = math.cos(t) * half, math.sin(t) * half
        pu, pv = rng.uniform(0.3, 0.7) * umin, rng.uniform(0.3, 0.7) * vmin
        pts = _wavy(rng, (pu - du, pv - dv), (pu + du, pv + dv), rng.uniform(3.0, 15.0))
        coords.append(np.column_stack(_from_frame(pts[:, 0], pts[:, 1], c, angle)))
    return coords


def _split_block(
    cell: shapely.Geometry, lines: np.ndarray
) -> tuple[int, list[shapely.Geometry]] | None:
    """The road in ``lines`` that cuts ``cell`` from edge to edge most evenly in two.

    Each part must keep at least 20% of the block.  Returns the road's index and the two
    parts, or None when no road does that.
    """
    best = None
    edge = cell.exterior
    wider = shapely.buffer(cell, 1.5)
    for j, line in enumerate(lines):
        piece = shapely.intersection(line, cell)
        if shapely.get_type_id(piece) != 1 or piece.length < 150.0:
            continue
        ends = shapely.points(shapely.get_coordinates(piece)[[0, -1]])
        if shapely.distance(edge, ends).max() > 0.5:
            continue  # a dead end: it does not cut the block
        parts = _faces([edge, shapely.intersection(line, wider)], cell)
        if len(parts) != 2:
            continue
        share = float(shapely.area(parts).min() / cell.area)
        if share >= 0.2 and (best is None or share > best[0]):
            best = (share, j, list(parts))
    return None if best is None else (best[1], best[2])


def _local_roads(st: _State) -> None:
    """Local and riverside roads; big blocks split by a secondary; parcels between roads."""
    rng = _rng(st.seed, "locals")
    names = _rng(st.seed, "locals", 1)
    street, zone = st.street, st.river_zone
    # the old town lies towards the city centre, to the north-west
    theta = math.radians(rng.uniform(115.0, 165.0))
    st.old_dir = np.array([math.cos(theta), math.sin(theta)])

    local_out: list[shapely.Geometry] = []  # as drawn: ending on the roads around
    local_nodes: list[shapely.Geometry] = []  # 1.5 m longer, for noding the parcels
    promoted: list[shapely.Geometry] = []
    promoted_nodes: list[shapely.Geometry] = []
    for cell, angle in zip(st.cells, st.cell_angle, strict=True):
        if cell.area < 40_000:
            continue
        old = float(np.dot(_centre(cell), st.old_dir)) > 225.0
        coords = _block_roads(rng, cell, angle, 120.0 if old else 190.0)
        if not coords:
            continue
        lines = _lines(coords)
        land = shapely.difference(cell, zone)
        pieces = [cell]  # a big block: up to two roads across it become secondaries
        for _ in range(2):
            big = max(pieces, key=lambda g: g.area)
            split = _split_block(big, lines) if big.area > MAX_BLOCK_AREA else None
            if split is None:
                break
            j, parts = split
            promoted.append(shapely.intersection(lines[j], land))
            promoted_nodes.append(shapely.intersection(lines[j], shapely.buffer(big, 1.5)))
            lines = np.delete(lines, j)
            pieces = [g for g in pieces if g is not big] + parts
        local_out.extend(_explode_lines(shapely.intersection(lines, land), 30.0)[0])
        local_nodes.extend(
            _explode_lines(shapely.intersection(lines, shapely.buffer(land, 1.5)), 30.0)[0]
        )
    if promoted_nodes:  # the blocks again, noded as one so that neighbours share every vertex
        st.cells = _faces(np.concatenate([st.block_lines, promoted_nodes]), street)
        st.cell_angle = np.array([_orientation(c) for c in st.cells])

    used = {r[2] for r in st.roads}
    spare = [n for n in _SECONDARY_NAMES if n not in used]
    for line in promoted:
        name = spare.pop(int(names.integers(len(spare)))) if spare else None
        st.roads += [(part, "secondary", name) for part in _explode_lines(line, 20.0)[0]]
    riverside = _explode_lines(shapely.intersection(shapely.boundary(zone), street), 40.0)[0]
    river_y = shapely.get_y(shapely.centroid(shapely.intersection(st.river, street)))
    for line in riverside:
        bank = "北路" if shapely.get_y(shapely.centroid(line)) > river_y else "南路"
        st.roads.append((line, "local", RIVER_NAME[:2] + bank))
    local_names = [p + s for p in _LOCAL_PREFIXES for s in _LOCAL_SUFFIXES]
    order = names.permutation(len(local_names))
    named = 0
    for line in local_out:
        name = None
        if names.random() < 0.45:  # about half the local roads have a name
            name = local_names[order[named % len(order)]]
            named += 1
        st.roads.append((line, "local", name))

    # parcels: the faces between the blocks' edges, the riverside roads and the local roads
    st.parcels = _faces(
        np.concatenate(
            [
                shapely.boundary(st.cells),
                shapely.intersection(riverside, shapely.buffer(street, 1.5)),
                np.array(local_nodes, dtype=object),
            ]
        ),
        street,
    )
    pi, ci = shapely.STRtree(st.cells).query(
        shapely.point_on_surface(st.parcels), predicate="within"
    )
    st.parcel_cell = np.full(len(st.parcels), -1)
    st.parcel_cell[pi] = ci


# --------------------------------------------------------------------------------------------
# 4. land use


def _spread(rng: np.random.Generator, xy: np.ndarray, candidates: np.ndarray, k: int) -> list:
    """Pick k of ``candidates`` far apart (farthest points from a random first one)."""
    if not len(candidates):
        return []
    picked = [int(candidates[rng.integers(len(candidates))])]
    while len(picked) < min(k, len(candidates)):
        far = _pairwise_min(xy[candidates], xy[picked])
        picked.append(int(candidates[int(np.argmax(far))]))
    return picked


def _land_use(st: _State) -> None:
    """Give every parcel a land use; then its buildable land (clear of roads and water)."""
    rng = _rng(st.seed, "landuse")
    parcels = st.parcels
    n = len(parcels)
    area = shapely.area(parcels)
    xy = shapely.get_coordinates(shapely.point_on_surface(parcels))
    use = np.full(n, "", dtype=object)
    use[shapely.contains_xy(st.river_zone, xy[:, 0], xy[:, 1]) | (area < 2500.0)] = "green"

    # age: a gradient towards the old town plus smooth noise, as ranks from 0 (new) to 1 (old)
    g = xy @ st.old_dir / 1500.0
    for _ in range(4):
        k = 2 * np.pi / rng.uniform(900.0, 2200.0)
        a = rng.uniform(0, 2 * np.pi)
        g += 0.18 * np.sin(k * (xy @ np.array([math.cos(a), math.sin(a)])) + rng.uniform(0, 6.3))
    age = np.empty(n)
    age[np.argsort(g, kind="stable")] = np.arange(n) / max(1, n - 1)
    on_arterial = shapely.distance(parcels, shapely.union_all(st.roads_of("arterial"))) < 1.0
    free = use == ""

    def assign(i, kind: str) -> None:
        use[i] = kind
        free[i] = False

    # the urban village: the parcels around an old, mid-sized parcel off the arterials
    cand = np.flatnonzero(free & ~on_arterial & (area > 6000) & (area < 60_000) & (age > 0.6))
    if not len(cand):
        cand = np.flatnonzero(free & (area > 6000))
    centre = xy[cand[int(np.argmax(age[cand] + rng.uniform(0, 0.3, len(cand))))]]
    left = rng.uniform(230_000.0, 280_000.0)
    for i in np.argsort(np.hypot(*(xy - centre).T), kind="stable"):
        if left <= 0:
            break
        if free[i] and area[i] < 70_000:
            assign(i, "village")
            left -= area[i]

    # schools, parks and campuses (a hospital, offices) spread over the street
    for kind, k, lo, hi in (
        ("school", int(rng.integers(7, 10)), 12_000.0, 50_000.0),
        ("park", int(rng.integers(3, 5)), 15_000.0, 90_000.0),
        ("campus", int(rng.integers(3, 5)), 25_000.0, 120_000.0),
    ):
        for i in _spread(rng, xy, np.flatnonzero(free & (area > lo) & (area < hi)), k):
            assign(i, kind)

    # shops and offices on the arterials near the big crossings; a few public buildings
    near = _pairwise_min(xy, st.hotspots) if len(st.hotspots) else np.full(n, 1000.0)
    cand = np.flatnonzero(free & on_arterial & (area < 45_000) & (area > 4000))
    k = min(len(cand), int(rng.integers(12, 17)))
    if k:
        weight = 1.0 / (near[cand] + 100.0)
        for i in rng.choice(cand, size=k, replace=False, p=weight / weight.sum()):
            assign(i, "commercial")
    cand = np.flatnonzero(free & (area > 3000) & (area < 25_000))
    k = min(len(cand), int(rng.integers(8, 12)))
    for i in rng.choice(cand, size=k, replace=False) if k else []:
        assign(i, "public")

    # homes, oldest parcels first: low-rise and work-unit blocks towards the old town,
    # high-rise further out, each within an area budget; the newest parcels left over become
    # shops and offices (on arterials), campuses, or land being redeveloped (vacant)
    spare = area[free].sum()
    budget = {
        "lowrise": rng.uniform(0.17, 0.21) * spare,
        "midrise": rng.uniform(0.18, 0.22) * spare,
        "highrise": rng.uniform(0.40, 0.46) * spare,
    }
    homes = tuple(budget)
    for i in np.argsort(-age, kind="stable"):
        if not free[i]:
            continue
        r = age[i]
        pref = np.array(
            [
                max(0.0, (r - 0.45) / 0.55) * 1.2,
                max(0.05, 1.0 - abs(r - 0.6) / 0.6),
                max(0.0, (0.85 - r) / 0.85) + 0.05,
            ]
        ) * np.array([budget[h] > 0 for h in homes])
        if pref.sum() > 0:
            kind = homes[int(rng.choice(3, p=pref / pref.sum()))]
            budget[kind] -= area[i]
        elif on_arterial[i] and area[i] < 60_000 and rng.random() < 0.7:
            kind = "commercial"
        elif area[i] > 25_000 and rng.random() < 0.5:
            kind = "campus"
        else:
            kind = "public" if rng.random() < 0.6 and area[i] < 40_000 else "vacant"
        assign(i, kind)
    st.parcel_use = use

    # buildable land: the parcel less the road setbacks and the river banks
    barrier = shapely.union_all(
        np.concatenate(
            [
                shapely.buffer(
                    np.array([r[0] for r in st.roads], dtype=object),
                    np.array([ROAD_SETBACK[r[1]] for r in st.roads]),
                ),
                [shapely.buffer(st.river, st.river_half_width + _WATER_SETBACK)],
            ]
        )
    )
    shapely.prepare(barrier)
    st.buildable = shapely.difference(parcels, barrier)
    st.buildable[np.isin(use, ["green", "vacant"])] = shapely.Polygon()


# --------------------------------------------------------------------------------------------
# 5. buildings


@dataclass
class _Layout:
    """Building footprints of one parcel in its frame: centres (u, v), size (w, h), floors."""

    u: np.ndarray
    v: np.ndarray
    w: np.ndarray
    h: np.ndarray
    floors: np.ndarray
    kind: str
    jitter: float = 1.0  # degrees of random turn per building
    lanes: list[tuple[float, float, float, int]] = field(default_factory=list)


def _lattice(
    rng: np.random.Generator, bounds: tuple[float, ...], pu: float, pv: float
) -> tuple[np.ndarray, np.ndarray]:
    """Lattice centres covering ``bounds`` (frame coordinates) with pitches pu, pv."""
    umin, vmin, umax, vmax = bounds
    uu, vv = np.meshgrid(
        np.arange(umin + pu * rng.uniform(0.2, 1.0), umax, pu),
        np.arange(vmin + pv * rng.uniform(0.2, 1.0), vmax, pv),
    )
    return uu.ravel(), vv.ravel()


def _thin(rng: np.random.Generator, keep: float, *arrays: np.ndarray) -> list[np.ndarray]:
    mask = rng.random(len(arrays[0])) < keep
    return [a[mask] for a in arrays]


def _layout_highrise(rng: np.random.Generator, bounds: tuple[float, ...]) -> _Layout:
    """Rows of 18-33 floor towers or slabs, every other row shifted, gardens between."""
    tower = rng.random() < 0.5
    w0 = rng.uniform(22.0, 30.0) if tower else rng.uniform(40.0, 62.0)
    h0 = rng.uniform(17.0, 22.0) if tower else rng.uniform(13.0, 17.0)
    pu, pv = w0 + rng.uniform(20.0, 34.0), h0 + rng.uniform(38.0, 52.0)
    u, v = _lattice(rng, bounds, pu, pv)
    row = np.round((v - bounds[1]) / pv).astype(int)
    u = u + np.where(row % 2 == 1, pu * 0.5 * rng.uniform(0.0, 1.0), 0.0)
    u, v = _thin(rng, 0.85, u, v)
    m = len(u)
    floors = np.clip(int(rng.integers(18, 34)) + rng.integers(-3, 4, m), 18, 33)
    w, h = w0 * rng.uniform(0.92, 1.0, m), h0 * rng.uniform(0.92, 1.0, m)
    return _Layout(u, v, w, h, floors, "highrise")


def _layout_midrise(rng: np.random.Generator, bounds: tuple[float, ...]) -> _Layout:
    """Parallel 6-9 floor walk-up slabs, as work units built them."""
    w0, h0 = rng.uniform(36.0, 60.0), rng.uniform(11.0, 13.0)
    u, v = _lattice(rng, bounds, w0 + rng.uniform(8.0, 14.0), h0 + rng.uniform(14.0, 20.0))
    u, v = _thin(rng, 0.92, u, v)
    m = len(u)
    floors = rng.choice([6, 7, 8, 9], size=m, p=[0.35, 0.35, 0.15, 0.15])
    return _Layout(u, v, w0 * rng.uniform(0.9, 1.0, m), np.full(m, h0), floors, "midrise")


def _layout_lowrise(rng: np.random.Generator, bounds: tuple[float, ...]) -> _Layout:
    """Old 2-5 floor blocks of varied length, a few metres apart."""
    pu, pv = rng.uniform(22.0, 32.0), rng.uniform(16.0, 20.0)
    u, v = _lattice(rng, bounds, pu, pv)
    u, v = _thin(rng, 0.85, u, v)
    m = len(u)
    w = rng.uniform(0.45, 1.0, m) * (pu - 5.0)
    u = u + rng.uniform(-0.5, 0.5, m) * (pu - 5.0 - w)
    floors = rng.choice([2, 3, 4, 5], size=m, p=[0.2, 0.35, 0.3, 0.15])
    return _Layout(u, v, w, rng.uniform(8.0, pv - 6.0, m), floors, "lowrise", jitter=2.5)


def _layout_village(rng: np.random.Generator, bounds: tuple[float, ...]) -> _Layout:
    """Small 3-6 floor self-built houses 1.4-2.6 m apart, in blocks between narrow lanes."""
    p = rng.uniform(10.0, 12.5)
    axes, lanes = [], []
    for k, (lo, hi) in enumerate(((bounds[0], bounds[2]), (bounds[1], bounds[3]))):
        at, x, count, every = [], lo + rng.uniform(0.0, p), 0, int(rng.integers(3, 6))
        while x < hi:
            at.append(x)
            count += 1
            x += p
            if count % every == 0:  # a lane 4.8 m wider than the usual gap
                a, b = (bounds[1], bounds[3]) if k == 0 else (bounds[0], bounds[2])
                a, b = a - 20.0, b + 20.0
                if rng.random() < 0.35:  # stopping part way
                    b = a + (b - a) * rng.uniform(0.4, 0.8)
                lanes.append((x - p / 2 + 2.4, a, b, k))
                x += 4.8
                every = int(rng.integers(3, 6))
        axes.append(np.array(at))
    uu, vv = np.meshgrid(*axes)
    u, v = _thin(rng, 0.93, uu.ravel(), vv.ravel())
    m = len(u)
    w, h = p - rng.uniform(1.4, 2.6, m), p - rng.uniform(1.4, 2.6, m)
    floors = rng.choice([3, 4, 5, 6], size=m, p=[0.15, 0.3, 0.3, 0.25])
    return _Layout(u, v, w, h, floors, "village", jitter=2.5, lanes=lanes)


def _layout_free(rng: np.random.Generator, bounds: tuple[float, ...], use: str) -> _Layout:
    """Dense candidate footprints for shops, offices or a campus, thinned later."""
    u, v = _lattice(rng, bounds, 9.0, 9.0)
    m = len(u)
    if use == "commercial":  # malls and shops, or office towers
        tower = rng.random(m) < 0.4
        w = np.where(tower, rng.uniform(26.0, 36.0, m), rng.uniform(30.0, 75.0, m))
        h = np.where(tower, rng.uniform(24.0, 34.0, m), rng.uniform(25.0, 48.0, m))
        floors = np.where(tower, rng.integers(12, 29, m), rng.integers(3, 7, m))
        return _Layout(u, v, w, h, floors, "commercial")
    if use == "public":  # offices, clinics, community centres
        w, h = rng.uniform(20.0, 42.0, m), rng.uniform(14.0, 24.0, m)
        return _Layout(u, v, w, h, rng.integers(2, 7, m), "public")
    w, h = rng.uniform(25.0, 60.0, m), rng.uniform(16.0, 35.0, m)  # a hospital, an institute
    return _Layout(u, v, w, h, rng.choice([3, 4, 5, 6, 8, 10, 12], size=m), "public")


#: Buildings per parcel, (fewest, most), for the uses whose candidates are thinned.
_FREE_COUNT = {"commercial": (2, 6), "public": (1, 4), "campus": (4, 10)}


def _greedy_pick(rects: np.ndarray, order: np.ndarray, want: int, gap: float) -> np.ndarray:
    """Indices of up to ``want`` of ``rects`` (tried in ``order``) at least ``gap`` apart."""
    taken: list[int] = []
    for j in order:
        if len(taken) >= want:
            break
        if taken and shapely.distance(rects[taken], rects[j]).min() < gap:
            continue
        taken.append(int(j))
    return np.array(taken, dtype=int)


def _school(rng, space, origin, angle, bounds) -> list[tuple[shapely.Geometry, int]]:
    """A sports ground at one end of the school and 2-5 teaching blocks of 4-5 floors."""
    big = space.area > 35_000
    fw, fh = (175.0, 95.0) if big else (rng.uniform(90.0, 120.0), rng.uniform(50.0, 65.0))
    uu, vv = _lattice(rng, bounds, 15.0, 15.0)
    m = len(uu)
    x, y = _from_frame(uu, vv, origin, angle)
    fields = _rectangles(x, y, np.full(m, fw), np.full(m, fh), np.full(m, angle))
    fits = np.flatnonzero(shapely.contains(space, fields))
    keepout = shapely.Polygon()
    if len(fits):
        end = fits[np.argsort(vv[fits], kind="stable")[: max(1, len(fits) // 5)]]
        keepout = shapely.buffer(fields[end[rng.integers(len(end))]], 10.0)
    uu, vv = _lattice(rng, bounds, 8.0, 8.0)
    m = len(uu)
    x, y = _from_frame(uu, vv, origin, angle)
    blocks = _rectangles(
        x, y, rng.uniform(32.0, 60.0, m), rng.uniform(12.0, 16.0, m), np.full(m, angle)
    )
    fit = shapely.contains(space, blocks) & ~shapely.intersects(keepout, blocks)
    tries = rng.permutation(m)
    good = _greedy_pick(blocks, tries[fit[tries]], int(rng.integers(2, 6)), 15.0)
    return [(blocks[j], int(rng.integers(4, 6))) for j in good]


def _park(rng, space, origin, angle, bounds) -> tuple[list, shapely.Geometry]:
    """A pond near the middle of the park and 3-7 pavilions or service buildings."""
    pond = shapely.Polygon()
    inner = shapely.buffer(space, -25.0)
    if not inner.is_empty:
        pc = _centre(shapely.point_on_surface(inner))
        rx, ry = rng.uniform(25.0, 45.0), rng.uniform(15.0, 30.0)
        t = np.linspace(0.0, 2 * np.pi, 65)
        ellipse = shapely.Polygon(
            np.column_stack(_from_frame(rx * np.cos(t), ry * np.sin(t), pc, angle))
        )
        if shapely.contains(space, ellipse):
            pond = ellipse
    clear = shapely.buffer(pond, _WATER_SETBACK)
    placed: list[tuple[shapely.Geometry, int]] = []
    want = int(rng.integers(3, 8))
    for _ in range(60):
        if len(placed) >= want:
            break
        x, y = _from_frame(
            rng.uniform(bounds[0], bounds[2], 1),
            rng.uniform(bounds[1], bounds[3], 1),
            origin,
            angle,
        )
        s = rng.uniform(6.0, 16.0)
        box = _rectangles(
            x, y, np.array([s]), np.array([s * rng.uniform(0.6, 1.0)]), np.array([angle])
        )[0]
        if not shapely.contains(space, box) or shapely.intersects(clear, box):
            continue
        if any(shapely.distance(box, q) < 10.0 for q, _ in placed):
            continue
        placed.append((box, int(rng.integers(1, 3))))
    return placed, pond


def _compound_names(rng: np.random.Generator) -> dict[str, list[str]]:
    """Shuffled names for each kind of compound."""
    residential = [p + s for p in _COMPOUND_PREFIXES for s in _COMPOUND_SUFFIXES]
    return {
        "residential": [residential[i] for i in rng.permutation(len(residential))],
        "work_unit": [_WORK_UNITS[i] + "宿舍" for i in rng.permutation(len(_WORK_UNITS))],
        "campus": [_CAMPUS_NAMES[i] for i in rng.permutation(len(_CAMPUS_NAMES))],
        "school": [_SCHOOL_NAMES[i] for i in rng.permutation(len(_SCHOOL_NAMES))],
        "park": [_PARK_NAMES[i] for i in rng.permutation(len(_PARK_NAMES))],
    }


def _buildings(st: _State) -> None:
    """Lay out buildings in every parcel by its land use; walls around compounds."""
    rng = _rng(st.seed, "buildings")
    layouts = {
        "highrise": _layout_highrise,
        "midrise": _layout_midrise,
        "lowrise": _layout_lowrise,
        "village": _layout_village,
    }
    batches: list[
        tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]
    ] = []
    fixed: list[tuple[int, shapely.Geometry, int, str]] = []  # schools and parks
    walled: list[tuple[int, str]] = []
    lanes: list[shapely.Geometry] = []
    ponds: dict[int, shapely.Geometry] = {}
    for i, (parcel, use, space) in enumerate(
        zip(st.parcels, st.parcel_use, st.buildable, strict=True)
    ):
        if use in ("green", "vacant") or space.is_empty or space.area < 400.0:
            continue
        cell_angle = st.cell_angle[st.parcel_cell[i]] if st.parcel_cell[i] >= 0 else 0.0
        origin = _centre(parcel)
        # homes face south, turned a little towards the streets; the rest follow the streets
        if use in ("highrise", "midrise"):
            angle = 0.6 * cell_angle + math.radians(rng.uniform(-4.0, 4.0))
        else:
            angle = cell_angle + math.radians(rng.uniform(-2.0, 2.0))
        bounds = _to_frame(space, origin, angle).bounds
        if use == "school":
            fixed += [(i, g, f, "school") for g, f in _school(rng, space, origin, angle, bounds)]
            walled.append((i, "school"))
            continue
        if use == "park":
            placed, pond = _park(rng, space, origin, angle, bounds)
            fixed += [(i, g, f, "park") for g, f in placed]
            walled.append((i, "park"))
            if not pond.is_empty:
                ponds[i] = pond
            continue
        lay = layouts[use](rng, bounds) if use in layouts else _layout_free(rng, bounds, use)
        if use == "highrise":
            walled.append((i, "residential"))
        elif use == "campus" or (use == "midrise" and rng.random() < 0.7):
            walled.append((i, "work_unit"))
        x, y = _from_frame(lay.u, lay.v, origin, angle)
        turn = angle + np.radians(rng.uniform(-lay.jitter, lay.jitter, len(x)))
        batches.append((i, x, y, lay.w, lay.h, turn, lay.floors, lay.kind))
        for pos, a, b, k in lay.lanes:  # village lanes (paths)
            uu, vv = (
                (np.array([pos, pos]), np.array([a, b]))
                if k == 0
                else (np.array([a, b]), np.array([pos, pos]))
            )
            line = shapely.linestrings(np.column_stack(_from_frame(uu, vv, origin, angle)))
            lanes.extend(_explode_lines(shapely.intersection(line, parcel), 25.0)[0])

    # candidates: keep those on buildable land, clear of the village lanes
    parcel = np.concatenate([np.full(len(b[1]), b[0]) for b in batches])
    rects = _rectangles(*(np.concatenate([b[j] for b in batches]) for j in range(1, 6)))
    floors = np.concatenate([b[6] for b in batches]).astype(np.int64)
    kind = np.concatenate([np.full(len(b[1]), b[7], dtype=object) for b in batches])
    shapely.prepare(st.buildable)
    ok = shapely.contains(st.buildable[parcel], rects)
    if lanes:
        lane = shapely.union_all(
            shapely.buffer(np.array(lanes, dtype=object), ROAD_SETBACK["path"])
        )
        shapely.prepare(lane)
        ok &= ~shapely.intersects(lane, rects)
    # shops, offices and campuses: a few buildings each, well apart
    free = np.isin(st.parcel_use[parcel], list(_FREE_COUNT))
    order = rng.permutation(len(rects))
    chosen = np.zeros(len(rects), dtype=bool)
    for i in np.unique(parcel[free & ok]):
        lo, hi = _FREE_COUNT[st.parcel_use[i]]
        tries = order[(parcel[order] == i) & ok[order]]
        chosen[_greedy_pick(rects, tries, int(rng.integers(lo, hi + 1)), 14.0)] = True
    ok &= ~free | chosen

    parcel = np.concatenate([parcel[ok], np.array([f[0] for f in fixed], dtype=int)])
    geometry = np.concatenate([rects[ok], np.array([f[1] for f in fixed], dtype=object)])
    floors = np.concatenate([floors[ok], np.array([f[2] for f in fixed], dtype=np.int64)])
    kind = np.concatenate([kind[ok], np.array([f[3] for f in fixed], dtype=object)])

    # never two buildings touching: drop the later one of a pair (none in practice)
    left, right = shapely.STRtree(geometry).query(geometry, predicate="intersects")
    keep = np.ones(len(geometry), dtype=bool)
    keep[right[left < right]] = False
    # a stable order: by parcel, then north to south, west to east
    cen = shapely.centroid(geometry)
    order = np.lexsort((np.round(shapely.get_x(cen), 2), -np.round(shapely.get_y(cen), 2), parcel))
    order = order[keep[order]]
    parcel, geometry, floors, kind = parcel[order], geometry[order], floors[order], kind[order]

    # compound walls 6 m inside the parcel edge, around the parcel's buildings
    pool = _compound_names(_rng(st.seed, "buildings", 1))
    compound_id = np.full(len(geometry), None, dtype=object)
    for i, ckind in sorted(walled):
        inside = np.flatnonzero(parcel == i)
        wall = shapely.simplify(
            _largest_polygon(shapely.buffer(st.parcels[i], -6.0, join_style="mitre")), 0.5
        )
        inside = inside[shapely.covers(wall, geometry[inside])]
        if not len(inside) or not wall.is_valid:
            continue
        names = pool["campus" if st.parcel_use[i] == "campus" else ckind]
        name = names.pop(0) if names else None
        st.compounds.append((shapely.normalize(wall), name, ckind))
        compound_id[inside] = f"C{len(st.compounds):04d}"
        if i in ponds and name:
            st.water.append((shapely.normalize(ponds[i]), "pond", name.removesuffix("公园") + "湖"))
    st.roads += [(lane, "path", None) for lane in lanes]
    st.buildings = pd.DataFrame(
        {
            "id": [f"B{k + 1:06d}" for k in range(len(geometry))],
            "floors": floors,
            "kind": kind,
            "compound_id": compound_id,
            "geometry": geometry,
        }
    )


# --------------------------------------------------------------------------------------------
# 6. households


def _largest_remainder(shares: np.ndarray, total: int, minimum: np.ndarray) -> np.ndarray:
    """Whole numbers proportional to ``shares`` adding up to ``total``, each >= ``minimum``."""
    quota = shares / shares.sum() * total
    counts = np.maximum(minimum, np.floor(quota)).astype(np.int64)
    short = total - int(counts.sum())
    if short > 0:
        counts[np.argsort(-(quota - np.floor(quota)), kind="stable")[:short]] += 1
    elif short < 0:
        counts[np.argsort(-counts, kind="stable")[:-short]] -= 1
    return counts


def _households(st: _State) -> None:
    """Households per building from floor area, scaled to the target; a point for each."""
    rng = _rng(st.seed, "households")
    b = st.buildings
    kind = b["kind"].to_numpy()
    geoms = b["geometry"].to_numpy()
    floors = b["floors"].to_numpy()
    flat = np.array([FLAT_AREA.get(k, np.inf) for k in kind])
    home = np.isfinite(flat)
    living = np.where(kind == "village", floors - 1, floors)  # shops on village ground floors
    raw = np.where(home, shapely.area(geoms) * living / flat, 0.0)
    mean = {k: float(np.dot(np.arange(1, 7), p) / np.sum(p)) for k, p in PERSONS_SHARE.items()}
    persons_each = np.array([mean.get(k, 0.0) for k in kind])
    expected = float(np.sum(raw * persons_each) / raw.sum())
    target = int(round(TARGET_RESIDENTS * rng.uniform(0.975, 1.025) / expected))
    counts = _largest_remainder(raw, target, home.astype(np.int64))
    counts[~home] = 0
    st.buildings["households"] = counts

    owner = np.repeat(np.arange(len(b)), counts)
    persons = np.zeros(len(owner), dtype=np.int64)
    for k, share in PERSONS_SHARE.items():
        sel = kind[owner] == k
        p = np.array(share) / np.sum(share)
        persons[sel] = rng.choice(np.arange(1, 7), size=int(sel.sum()), p=p)
    x, y = _points_in(rng, geoms[owner])
    st.households = pd.DataFrame(
        {
            "id": [f"H{k + 1:07d}" for k in range(len(owner))],
            "persons": persons,
            "building_id": b["id"].to_numpy()[owner],
            "x": x,
            "y": y,
        }
    )


def _points_in(rng: np.random.Generator, polys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One uniformly random point inside each polygon (vectorised rejection sampling)."""
    bounds = shapely.bounds(polys)
    x, y = np.empty(len(polys)), np.empty(len(polys))
    todo = np.arange(len(polys))
    for _ in range(200):
        if not len(todo):
            break
        tx = rng.uniform(bounds[todo, 0], bounds[todo, 2])
        ty = rng.uniform(bounds[todo, 1], bounds[todo, 3])
        hit = shapely.contains_xy(polys[todo], tx, ty)
        x[todo[hit]], y[todo[hit]] = tx[hit], ty[hit]
        todo = todo[~hit]
    if len(todo):  # never in practice: a point surely inside
        pts = shapely.point_on_surface(polys[todo])
        x[todo], y[todo] = shapely.get_x(pts), shapely.get_y(pts)
    return x, y


# --------------------------------------------------------------------------------------------
# 7. communities


def _connected(members: set[int], weight: dict[int, dict[int, float]]) -> bool:
    """True when the cells ``members`` form one piece through shared edges."""
    if not members:
        return False
    start = min(members)
    todo, seen = [start], {start}
    while todo:
        for m in weight[todo.pop()]:
            if m in members and m not in seen:
                seen.add(m)
                todo.append(m)
    return len(seen) == len(members)


def _merge_cells(
    rng: np.random.Generator,
    hh: np.ndarray,
    weight: dict[int, dict[int, float]],
    xy: np.ndarray,
    k: int,
) -> np.ndarray:
    """Label cells 0..k-1: contiguous groups of similar household totals.

    Seeds far apart (farthest points from a random first cell) grow one cell at a time, the
    smallest group first, by the neighbour sharing the longest edge; then boundary cells move
    to a neighbouring group while that lowers the squared deviation from the mean.
    """
    n = len(hh)
    seeds = [int(rng.integers(n))]
    while len(seeds) < k:
        seeds.append(int(np.argmax(_pairwise_min(xy, xy[seeds]))))
    label = np.full(n, -1)
    label[seeds] = np.arange(k)
    totals = hh[seeds].astype(float)
    while (label < 0).any():
        for j in np.argsort(totals + rng.uniform(0.0, 1.0, k), kind="stable"):
            options = [
                (w, -c) for cell in np.flatnonzero(label == j) for c, w in weight[cell].items()
                if label[c] < 0
            ]  # fmt: skip
            if options:
                c = -max(options)[1]
                label[c] = j
                totals[j] += hh[c]
                break
        else:  # cells touching no group (cannot happen in a connected street)
            label[label < 0] = 0
    mean = hh.sum() / k
    for _ in range(500):
        move = None
        for c in range(n):
            a = label[c]
            for t in sorted({int(label[m]) for m in weight[c]} - {int(a)}):
                gain = (totals[a] - mean) ** 2 + (totals[t] - mean) ** 2
                gain -= (totals[a] - hh[c] - mean) ** 2 + (totals[t] + hh[c] - mean) ** 2
                better = gain > 1.0 and (move is None or gain > move[0])
                if better and _connected(set(np.flatnonzero(label == a).tolist()) - {c}, weight):
                    move = (gain, c, t)
        if move is None:
            break
        _, c, t = move
        totals[label[c]] -= hh[c]
        totals[t] += hh[c]
        label[c] = t
    return label


def _communities(st: _State) -> None:
    """Merge the cells into 6-8 contiguous communities of broadly similar household counts."""
    rng = _rng(st.seed, "communities")
    cells = st.cells
    n = len(cells)
    tree = shapely.STRtree(cells)
    b = st.buildings
    bi, ci = tree.query(shapely.point_on_surface(b["geometry"].to_numpy()), predicate="within")
    hh = np.bincount(ci, weights=b["households"].to_numpy()[bi], minlength=n)

    # cells sharing an edge are neighbours; across the river they are less welcome
    left, right = tree.query(cells, predicate="intersects")
    left, right = left[left < right], right[left < right]
    shared = shapely.intersection(shapely.boundary(cells[left]), shapely.boundary(cells[right]))
    length = shapely.length(shared)
    on_river = shapely.length(shapely.intersection(shared, shapely.buffer(st.river, 1.0)))
    weight: dict[int, dict[int, float]] = {i: {} for i in range(n)}
    for a, c, ln, rv in zip(left, right, length, on_river > 0.5 * length, strict=True):
        if ln > 0.0:
            weight[int(a)][int(c)] = weight[int(c)][int(a)] = ln * (0.25 if rv else 1.0)

    # the drawn number of communities, or another of 6-8 where that balances much better
    wanted = int(rng.integers(6, 9))
    xy = shapely.get_coordinates(shapely.point_on_surface(cells))
    best: dict[int, tuple[float, np.ndarray]] = {}
    for k in (wanted, *(k for k in (6, 7, 8) if k != wanted)):
        for _ in range(30):
            label = _merge_cells(rng, hh, weight, xy, k)
            totals = np.bincount(label, weights=hh, minlength=k)
            score = float(totals.max() / max(totals.min(), 1.0))
            if k not in best or score < best[k][0]:
                best[k] = (score, label)
    k = wanted
    if best[wanted][0] > 1.5:
        k = min(best, key=lambda j: (best[j][0] + (0.0 if j == wanted else 0.15), j))
    label = best[k][1]
    totals = np.bincount(label, weights=hh, minlength=k)

    polys = np.array(
        [shapely.normalize(shapely.union_all(cells[label == j])) for j in range(k)], dtype=object
    )
    pts = shapely.point_on_surface(polys)
    order = np.lexsort((np.round(shapely.get_x(pts), 1), -np.round(shapely.get_y(pts), 1)))
    names = _rng(st.seed, "communities", 1).permutation(len(_COMMUNITY_NAMES))
    st.communities = [
        (polys[j], f"{STREET_CODE}{r + 1:03d}", _COMMUNITY_NAMES[names[r]] + "社区")
        for r, j in enumerate(order)
    ]
    st.community_households = totals[order].astype(np.int64)


# --------------------------------------------------------------------------------------------
# 8. members


def _members(st: _State) -> None:
    """A roster of grid members, one per ~400 households, spread over the communities."""
    rng = _rng(st.seed, "members")
    hh = st.community_households.astype(float)
    total = int(round(hh.sum() / HOUSEHOLDS_PER_MEMBER))
    count = _largest_remainder(hh, total, np.zeros(len(hh), dtype=np.int64))
    surname = rng.choice(len(_SURNAMES), size=total)
    given = rng.choice(len(_GIVEN_CHARS), size=(total, 2))
    length = rng.choice([1, 2], size=total, p=[0.3, 0.7])
    st.members = pd.DataFrame(
        {
            "id": [f"M{k + 1:04d}" for k in range(total)],
            "name": [
                _SURNAMES[s] + "".join(_GIVEN_CHARS[g] for g in chars[:m])
                for s, chars, m in zip(surname, given, length, strict=True)
            ],
            # 1380000xxxx: a reserved-looking, obviously synthetic block of numbers
            "phone": [f"1380000{p:04d}" for p in rng.choice(10_000, size=total, replace=False)],
            "community_code": np.repeat([c[1] for c in st.communities], count),
        }
    )


# --------------------------------------------------------------------------------------------
# 9. incidents

#: Share of all incidents per category.
_CATEGORY_SHARE = {
    "sanitation": 0.26,
    "illegal_construction": 0.09,
    "neighbour_dispute": 0.12,
    "safety_hazard": 0.11,
    "municipal_facilities": 0.17,
    "street_vending": 0.12,
    "noise": 0.13,
}
#: Monthly factors, January to December.
_SEASON = {
    "base": (0.85, 0.75, 0.95, 1.0, 1.05, 1.1, 1.15, 1.15, 1.05, 1.0, 0.95, 0.9),
    "noise": (0.6, 0.6, 0.85, 1.0, 1.2, 1.45, 1.7, 1.65, 1.25, 1.0, 0.85, 0.7),
    "sanitation": (0.8, 0.75, 0.9, 1.0, 1.1, 1.3, 1.45, 1.45, 1.15, 1.0, 0.9, 0.85),
    "street_vending": (0.7, 0.6, 0.9, 1.05, 1.2, 1.4, 1.5, 1.5, 1.2, 1.1, 0.9, 0.75),
    "illegal_construction": (0.7, 0.5, 1.2, 1.3, 1.2, 1.0, 0.9, 0.9, 1.1, 1.1, 1.0, 0.8),
    "municipal_facilities": (0.9, 0.8, 0.95, 1.0, 1.05, 1.2, 1.35, 1.3, 1.1, 1.0, 0.95, 0.9),
    "safety_hazard": (1.15, 1.0, 0.95, 0.95, 1.0, 1.05, 1.1, 1.1, 1.0, 1.0, 1.05, 1.15),
}
#: Weekday factors, Monday to Sunday.
_WEEK = {
    "base": (1.08, 1.06, 1.05, 1.05, 1.02, 0.82, 0.62),
    "neighbour_dispute": (1.04, 1.02, 1.02, 1.02, 1.0, 0.92, 0.78),
    "noise": (0.88, 0.86, 0.88, 0.92, 1.08, 1.35, 1.25),
    "street_vending": (0.9, 0.88, 0.9, 0.95, 1.1, 1.35, 1.3),
}
#: Public holidays of 2026 (approximately the official calendar): counted as Sundays.
_HOLIDAYS = (
    ("2026-01-01", "2026-01-03"),
    ("2026-02-15", "2026-02-23"),
    ("2026-04-04", "2026-04-06"),
    ("2026-05-01", "2026-05-05"),
    ("2026-06-19", "2026-06-21"),
    ("2026-09-25", "2026-09-27"),
    ("2026-10-01", "2026-10-07"),
)
#: Spring Festival 2026 (17 February): many residents are away and reports drop around it.
_SPRING_FESTIVAL = np.datetime64("2026-02-17")
#: Hour-of-day weights, 0h to 23h.
_HOURS = {
    "base": (
        0.03, 0.02, 0.02, 0.02, 0.03, 0.05, 0.15, 0.5, 1.2, 1.6, 1.7, 1.5,
        0.8, 0.9, 1.4, 1.5, 1.4, 1.1, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05,
    ),
    "noise": (
        0.8, 0.4, 0.2, 0.1, 0.05, 0.05, 0.2, 0.4, 0.5, 0.6, 0.6, 0.6,
        0.5, 0.6, 0.6, 0.6, 0.6, 0.7, 0.9, 1.4, 1.8, 2.0, 2.0, 1.5,
    ),
    "street_vending": (
        0.05, 0.02, 0.02, 0.02, 0.05, 0.2, 0.6, 1.0, 1.2, 0.8, 0.7, 1.1,
        1.3, 0.9, 0.6, 0.6, 0.9, 1.4, 1.7, 1.8, 1.6, 1.1, 0.5, 0.2,
    ),
}  # fmt: skip
#: Handling time by category: median hours and the sigma of its logarithm.
_HANDLING = {
    "sanitation": (30.0, 0.8),
    "illegal_construction": (14 * 24.0, 0.6),
    "neighbour_dispute": (72.0, 0.8),
    "safety_hazard": (40.0, 0.9),
    "municipal_facilities": (48.0, 0.9),
    "street_vending": (2.0, 0.8),
    "noise": (3.0, 0.9),
}
#: Priority shares (low, normal, high, urgent) by category, and how they speed handling up.
_PRIORITY = {
    "safety_hazard": (0.05, 0.45, 0.35, 0.15),
    "illegal_construction": (0.10, 0.50, 0.35, 0.05),
    "base": (0.25, 0.60, 0.13, 0.02),
}
_PRIORITY_SPEED = np.array([1.3, 1.0, 0.6, 0.3])
#: Source shares in the order of :data:`gridmap.schema.INCIDENT_SOURCES`.
_SOURCE_SHARE = {
    "base": (0.52, 0.28, 0.09, 0.07, 0.0, 0.04),
    "municipal_facilities": (0.55, 0.2, 0.07, 0.03, 0.12, 0.03),
    "noise": (0.3, 0.48, 0.1, 0.04, 0.05, 0.03),
}
_TEMPLATES = {
    "sanitation": (
        "{place}垃圾桶满溢，未及时清运",
        "{place}楼道内堆放杂物，影响通行",
        "{road}人行道有建筑垃圾堆放",
        "{place}绿化带内有生活垃圾",
        "{road}沿线路面油污，需清洗",
        "{place}化粪池外溢，气味较大",
    ),
    "illegal_construction": (
        "{place}楼顶疑似违规搭建彩钢棚",
        "{place}一楼住户私自扩建小院",
        "{place}有人违规加盖楼层",
        "{place}阳台外搭建雨棚超出规定",
        "{place}私自改变房屋承重结构",
    ),
    "neighbour_dispute": (
        "{place}楼上楼下漏水纠纷",
        "{place}邻里因公共区域堆物发生争执",
        "{place}住户饲养宠物引发邻里矛盾",
        "{place}停车位占用纠纷",
        "{place}租户与房东因押金发生纠纷",
    ),
    "safety_hazard": (
        "{place}电动自行车在楼道内充电",
        "{place}消防通道被占用",
        "{place}楼道灭火器过期",
        "{road}附近广告牌松动，存在坠落风险",
        "{place}私拉电线，存在火灾隐患",
        "{place}外墙瓷砖脱落",
    ),
    "municipal_facilities": (
        "{road}路灯不亮",
        "{road}井盖破损",
        "{road}人行道地砖松动",
        "{road}雨水篦子堵塞，积水严重",
        "{road}交通护栏损坏",
        "{road}公共座椅损坏",
    ),
    "street_vending": (
        "{road}路口流动摊贩占道经营",
        "{road}人行道有商户出店经营",
        "{road}附近夜市摊点占用盲道",
        "{place}门口有菜贩摆摊",
        "{road}沿线水果摊占道",
    ),
    "noise": (
        "{place}夜间装修噪音扰民",
        "{road}附近餐饮店噪音扰民",
        "{place}广场舞音响声音过大",
        "{road}工地夜间施工噪音",
        "{place}住户夜间喧哗",
        "{road}附近酒吧音乐声过大",
    ),
}


def _day_weights(category: str, days: np.ndarray) -> np.ndarray:
    """Relative daily rate of a category: season x weekday x holidays x Spring Festival."""
    month = days.astype("datetime64[M]").astype(int) % 12  # 0 = January
    weekday = (days.astype(int) + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    week = np.array(_WEEK.get(category, _WEEK["base"]))
    factor = week[weekday]
    for start, end in _HOLIDAYS:
        holiday = (days >= np.datetime64(start)) & (days <= np.datetime64(end))
        factor = np.where(holiday, week[6], factor)
    from_festival = (days - _SPRING_FESTIVAL).astype(int)
    festival = 1.0 - 0.55 * np.exp(-0.5 * (from_festival / 6.0) ** 2)
    return np.array(_SEASON.get(category, _SEASON["base"]))[month] * factor * festival


class _Anchors:
    """Where incidents of each category happen: mixtures of buildings, roads and hotspots."""

    def __init__(self, st: _State, rng: np.random.Generator) -> None:
        self.rng = rng
        b = st.buildings
        self.kind = b["kind"].to_numpy()
        geoms = b["geometry"].to_numpy()
        self.bounds = shapely.bounds(geoms)
        area = shapely.area(geoms)
        hh = b["households"].to_numpy().astype(float)
        self.roads = np.array([r[0] for r in st.roads], dtype=object)
        self.road_class = np.array([r[1] for r in st.roads], dtype=object)
        self.road_length = shapely.length(self.roads)
        # street vending: a few busy crossings, and a wet market at the edge of the village
        pick = rng.permutation(len(st.hotspots))[:5]
        spots = [st.hotspots[pick]]
        weights = [rng.uniform(0.6, 1.4, len(pick))]
        village = self.kind == "village"
        if village.any():
            centre = _centre(shapely.union_all(geoms[village]))
            spots.append(centre[None, :] + rng.normal(0.0, 60.0, size=(1, 2)))
            weights.append(np.array([1.5]))
        if not sum(len(s) for s in spots):  # no crossing and no village: the centre
            spots.append(_centre(st.street)[None, :])
            weights.append(np.array([1.0]))
        self.spots = np.concatenate(spots)
        self.spot_weight = np.concatenate(weights)

        def by(weights: dict[str, float], base: np.ndarray) -> tuple[str, np.ndarray]:
            w = base * np.array([weights.get(k, 0.0) for k in self.kind])
            return "building", w if w.sum() > 0 else hh + 1.0  # no such building: homes

        road = "road"
        self.mix = {
            "street_vending": (
                (0.5, ("spot", None)),
                (0.3, (road, {"arterial": 1.0, "secondary": 1.5, "local": 0.4})),
                (0.2, by({"commercial": 1.0, "village": 0.15}, area)),
            ),
            "illegal_construction": (
                (0.62, by({"village": 1.0}, area)),
                (0.2, by({"lowrise": 1.0}, area)),
                (0.18, by({"midrise": 0.4, "highrise": 0.6}, hh)),
            ),
            "sanitation": (
                (0.8, by({"lowrise": 2.0, "village": 2.0, "midrise": 1.3, "highrise": 0.8}, hh)),
                (0.2, (road, {"arterial": 0.6, "secondary": 1.0, "local": 1.0, "path": 1.5})),
            ),
            "neighbour_dispute": (
                (1.0, by({"lowrise": 1.8, "village": 1.5, "midrise": 1.2, "highrise": 1.0}, hh)),
            ),
            "safety_hazard": (
                (0.6, by({"lowrise": 2.0, "village": 2.5}, hh)),
                (0.25, by({"midrise": 1.0, "highrise": 0.7, "commercial": 0.02}, hh + area / 50)),
                (0.15, (road, {"arterial": 1.0, "secondary": 1.0, "local": 0.6})),
            ),
            "municipal_facilities": (
                (0.85, (road, {"arterial": 1.3, "secondary": 1.2, "local": 1.0, "path": 0.3})),
                (0.15, by({"park": 1.0, "school": 0.3}, area)),
            ),
            "noise": (
                (0.35, by({"commercial": 1.0}, area)),
                (0.25, by({"village": 1.0}, hh)),
                (0.25, by({"highrise": 1.0, "midrise": 1.0, "lowrise": 1.0}, hh)),
                (0.15, (road, {"arterial": 1.0})),
            ),
        }

    def draw(self, how: tuple[str, object], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``n`` points of one mixture component; and the building each is near (-1: none)."""
        rng = self.rng
        what, weights = how
        anchor = np.full(n, -1)
        if what == "spot":
            j = rng.choice(len(self.spots), size=n, p=self.spot_weight / self.spot_weight.sum())
            xy = self.spots[j] + rng.normal(0.0, 35.0, size=(n, 2))
        elif what == "road":
            w = self.road_length * np.array([weights.get(c, 0.0) for c in self.road_class])
            j = rng.choice(len(self.roads), size=n, p=w / w.sum())
            pts = shapely.line_interpolate_point(self.roads[j], rng.random(n), normalized=True)
            xy = shapely.get_coordinates(pts) + rng.normal(0.0, 6.0, size=(n, 2))
        else:  # in or next to a building (within 12 m of its bounding box)
            anchor = rng.choice(len(weights), size=n, p=weights / weights.sum())
            box = self.bounds[anchor]
            xy = np.column_stack(
                [
                    rng.uniform(box[:, 0] - 12.0, box[:, 2] + 12.0),
                    rng.uniform(box[:, 1] - 12.0, box[:, 3] + 12.0),
                ]
            )
        return xy[:, 0], xy[:, 1], anchor


def _incident_places(
    st: _State, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Category, x, y and anchor building of every incident: inside the street, off the water."""
    anchors = _Anchors(st, rng)
    inside = shapely.buffer(st.street, -3.0)
    water = shapely.union_all(
        [shapely.buffer(w[0], 2.0) for w in st.water if shapely.get_type_id(w[0]) == 3]
    )
    shapely.prepare(inside)
    shapely.prepare(water)

    def bad(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return ~shapely.contains_xy(inside, x, y) | shapely.contains_xy(water, x, y)

    total = int(rng.normal(TARGET_INCIDENTS, 300.0))
    share = np.array([_CATEGORY_SHARE[c] for c in INCIDENT_CATEGORIES])
    out: list[tuple[np.ndarray, ...]] = []
    for ci, n_cat in enumerate(rng.multinomial(total, share / share.sum())):
        mix = anchors.mix[INCIDENT_CATEGORIES[ci]]
        for (_, how), n in zip(mix, rng.multinomial(n_cat, [m[0] for m in mix]), strict=True):
            x, y, a = anchors.draw(how, int(n))
            for _ in range(50):  # draw again those that fell outside or into the water
                miss = bad(x, y)
                if not miss.any():
                    break
                x[miss], y[miss], a[miss] = anchors.draw(how, int(miss.sum()))
            ok = ~bad(x, y)
            out.append((np.full(int(ok.sum()), ci), x[ok], y[ok], a[ok]))
    cat, x, y, anchor = (np.concatenate([o[j] for o in out]) for j in range(4))
    return cat, x, y, anchor


def _incident_times(rng: np.random.Generator, cat: np.ndarray) -> np.ndarray:
    """Report times: day by season, weekday and holidays; hour of day by category."""
    days = np.arange(INCIDENTS_START.astype("datetime64[D]"), INCIDENTS_END.astype("datetime64[D]"))
    reported = np.empty(len(cat), dtype="datetime64[s]")
    for ci, category in enumerate(INCIDENT_CATEGORIES):
        sel = np.flatnonzero(cat == ci)
        w = _day_weights(category, days)
        day = rng.choice(days, size=len(sel), p=w / w.sum())
        hours = np.array(_HOURS.get(category, _HOURS["base"]))
        hour = rng.choice(24, size=len(sel), p=hours / hours.sum())
        seconds = hour * 3600 + rng.integers(0, 3600, len(sel))
        reported[sel] = day.astype("datetime64[s]") + seconds.astype("timedelta64[s]")
    return reported


def _incident_outcomes(
    rng: np.random.Generator, cat: np.ndarray, reported: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Priority, source, status and closing time of every incident.

    Handling takes a lognormal time by category (shorter for higher priorities); an incident
    whose handling ended before :data:`INCIDENTS_END` is closed (2% rejected, some reported
    twice: duplicates), the others are reported, accepted, in progress or resolved by how far
    their handling has come.
    """
    n = len(cat)
    priority = np.empty(n, dtype=np.int64)
    source = np.empty(n, dtype=np.int64)
    hours = np.empty(n)
    for ci, category in enumerate(INCIDENT_CATEGORIES):
        sel = np.flatnonzero(cat == ci)
        p = np.array(_PRIORITY.get(category, _PRIORITY["base"]))
        priority[sel] = rng.choice(4, size=len(sel), p=p / p.sum())
        s = np.array(_SOURCE_SHARE.get(category, _SOURCE_SHARE["base"]))
        source[sel] = rng.choice(len(INCIDENT_SOURCES), size=len(sel), p=s / s.sum())
        median, sigma = _HANDLING[category]
        hours[sel] = median * np.exp(rng.normal(0.0, sigma, len(sel)))
    hours *= _PRIORITY_SPEED[priority]
    outcome = rng.random(n)
    rejected = outcome < 0.02
    hotline = source == INCIDENT_SOURCES.index("hotline")
    duplicate = ~rejected & (outcome < np.where(hotline, 0.08, 0.045))
    quick = rejected | duplicate
    hours[quick] = 6.0 * np.exp(rng.normal(0.0, 0.8, int(quick.sum())))
    hours = np.clip(hours, 0.25, MAX_HANDLING_DAYS * 24.0)
    closed = reported + np.round(hours * 3600).astype(np.int64).astype("timedelta64[s]")
    progress = (INCIDENTS_END - reported).astype(np.int64) / 3600.0 / hours
    status = np.select(
        [progress < 0.08, progress < 0.25, progress < 0.8],
        ["reported", "accepted", "in_progress"],
        "resolved",
    ).astype(object)
    done = closed < INCIDENTS_END
    status[done] = "closed"
    status[done & rejected] = "rejected"
    status[done & duplicate] = "duplicate"
    closed = np.where(np.isin(status, FINAL_STATUSES), closed, np.datetime64("NaT"))
    return priority, source, status, closed


def _incident_text(
    st: _State, rng: np.random.Generator, cat: np.ndarray, x, y, anchor
) -> np.ndarray:
    """A description from the category's templates, naming the nearest road and the place."""
    named = [r for r in st.roads if r[2] is not None and r[1] in ("arterial", "secondary")]
    pts = shapely.points(x, y)
    near = shapely.STRtree([r[0] for r in named]).query_nearest(pts, all_matches=False)[1]
    road = np.array([r[2] for r in named], dtype=object)[near]
    place = np.array([f"{r}附近居民楼" for r in road], dtype=object)
    kind = np.where(anchor >= 0, st.buildings["kind"].to_numpy()[np.maximum(anchor, 0)], "")
    place[kind == "village"] = VILLAGE_NAME
    for k, suffix in (("lowrise", "老院落"), ("commercial", "商业楼")):
        sel = kind == k
        place[sel] = [f"{r}{suffix}" for r in road[sel]]
    if st.compounds:
        pi, ci = shapely.STRtree([c[0] for c in st.compounds]).query(pts, predicate="within")
        place[pi] = np.array([c[1] for c in st.compounds], dtype=object)[ci]
    pick = rng.random(len(cat))
    text = np.empty(len(cat), dtype=object)
    for ci, category in enumerate(INCIDENT_CATEGORIES):
        templates = _TEMPLATES[category]
        for i in np.flatnonzero(cat == ci):
            text[i] = templates[int(pick[i] * len(templates))].format(place=place[i], road=road[i])
    return text


def _incidents(st: _State) -> None:
    """Twelve months of incidents: places by category, times by rhythm, statuses by age."""
    rng = _rng(st.seed, "incidents")
    cat, x, y, anchor = _incident_places(st, rng)
    reported = _incident_times(rng, cat)
    priority, source, status, closed = _incident_outcomes(rng, cat, reported)
    text = _incident_text(st, rng, cat, x, y, anchor)
    order = np.lexsort((y, x, reported))
    st.incidents = pd.DataFrame(
        {
            "id": [f"E{k + 1:06d}" for k in range(len(cat))],
            "category": np.array(INCIDENT_CATEGORIES, dtype=object)[cat[order]],
            "status": status[order],
            "priority": np.array(INCIDENT_PRIORITIES, dtype=object)[priority[order]],
            "reported_at": reported[order],
            "closed_at": closed[order],
            "source": np.array(INCIDENT_SOURCES, dtype=object)[source[order]],
            "description": text[order],
            "x": x[order],
            "y": y[order],
        }
    )


# --------------------------------------------------------------------------------------------
# 10. layers in lon/lat


def _metric_crs() -> CRS:
    """The CRS the street is drawn in: CGCS2000 3-degree Gauss-Krüger, CM 105°E."""
    return gauss_kruger_crs(CENTRE_LON)


def _layers(st: _State) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """The workspace layers, in EPSG:4326, with exactly the schema's columns."""
    crs = _metric_crs()
    ox, oy = Transformer.from_crs(4326, crs, always_xy=True).transform(CENTRE_LON, CENTRE_LAT)
    shift = np.array([round(ox), round(oy)], dtype=float)

    def frame(data: dict, geoms) -> gpd.GeoDataFrame:
        moved = shapely.transform(np.asarray(geoms, dtype=object), lambda xy: xy + shift)
        return to_wgs84(gpd.GeoDataFrame(data, geometry=moved, crs=crs))

    rank = {c: i for i, c in enumerate(("arterial", "secondary", "local", "path"))}
    roads = sorted(st.roads, key=lambda r: rank[r[1]])  # stable: drawing order within a class
    b, h, e = st.buildings, st.households, st.incidents
    out: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {
        "street": frame(
            {"code": [STREET_CODE], "name": [STREET_NAME], "district_code": [DISTRICT_CODE]},
            [st.street],
        ),
        "communities": frame(
            {"code": [c[1] for c in st.communities], "name": [c[2] for c in st.communities]},
            [c[0] for c in st.communities],
        ),
        "roads": frame(
            {"class": [r[1] for r in roads], "name": [r[2] for r in roads]}, [r[0] for r in roads]
        ),
        "water": frame(
            {"kind": [w[1] for w in st.water], "name": [w[2] for w in st.water]},
            [w[0] for w in st.water],
        ),
        "compounds": frame(
            {
                "id": [f"C{k + 1:04d}" for k in range(len(st.compounds))],
                "name": [c[1] for c in st.compounds],
                "kind": [c[2] for c in st.compounds],
            },
            [c[0] for c in st.compounds],
        ),
        "buildings": frame(b.drop(columns="geometry"), b["geometry"].to_numpy()),
        "households": frame(
            h.drop(columns=["x", "y"]), shapely.points(h["x"].to_numpy(), h["y"].to_numpy())
        ),
        "incidents": frame(
            e.drop(columns=["x", "y"]), shapely.points(e["x"].to_numpy(), e["y"].to_numpy())
        ),
        "members": st.members.reset_index(drop=True),
    }
    for name, data in out.items():
        columns = [c.name for c in LAYERS[name].columns]
        if isinstance(data, gpd.GeoDataFrame):
            columns.append(data.geometry.name)
        out[name] = data[columns]
    return out


def generate_street(
    seed: int = DEFAULT_SEED, progress: Callable[[str], None] | None = None
) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """Generate the synthetic sample street from a seed.

    Parameters
    ----------
    seed
        Random seed; the same seed always gives the same layers, another seed another street.
    progress
        Called with each name of :data:`SAMPLE_STEPS` but the last (``"writing"``) as that
        stage finishes.

    Returns
    -------
    dict
        Layers by name, in the order of :data:`gridmap.schema.LAYERS`: ``street``,
        ``communities``, ``roads``, ``water``, ``compounds``, ``buildings``, ``households`` and
        ``incidents`` as GeoDataFrames in EPSG:4326, ``members`` as a DataFrame.  Each has
        exactly the columns the schema lists.  Incident times are timezone-naive local time
        (Asia/Shanghai).

    Examples
    --------
    >>> layers = generate_street(seed=7)  # doctest: +SKIP
    >>> len(layers["communities"]) in (6, 7, 8)  # doctest: +SKIP
    True
    """
    report = progress or (lambda step: None)
    st = _State(seed=int(seed))
    stages = (
        _network,
        _street,
        _local_roads,
        _land_use,
        _buildings,
        _households,
        _communities,
        _members,
        _incidents,
    )
    for name, stage in zip(SAMPLE_STEPS, stages, strict=False):
        stage(st)
        report(name)
    layers = _layers(st)
    report("coordinates")
    return layers


def write_sample(
    path: str | Path, seed: int = DEFAULT_SEED, progress: Callable[[str], None] | None = None
) -> dict[str, int]:
    """Generate the sample street and write it as a workspace GeoPackage.

    Parameters
    ----------
    path
        The GeoPackage to write; an existing file is replaced (atomically).
    seed
        Random seed; the same seed always gives the same file, byte for byte.
    progress
        Called with each name of :data:`SAMPLE_STEPS` as that stage finishes.

    Returns
    -------
    dict
        The number of features written, by layer name.

    Raises
    ------
    gridmap.errors.InputError
        When the folder of ``path`` does not exist or the file cannot be written.
    """
    from gridmap.io import write_geopackage

    layers = generate_street(seed, progress)
    write_geopackage(layers, path)
    if progress is not None:
        progress("writing")
    return {name: len(data) for name, data in layers.items()}


def add_compound(
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame],
    households: int = 1500,
    *,
    site: str | None = None,
    seed: int = DEFAULT_SEED,
) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """A copy of a street where a new residential compound has been built (a redraw scenario).

    The site, a compound whose buildings hold no households (a work unit or campus, the
    largest by default), is redeveloped: its buildings are demolished and high-rise blocks
    holding ``households`` households in all are built inside its wall, as when a relocation
    compound (安置小区) moves in.  New ids continue the existing numbering.

    Parameters
    ----------
    layers
        Workspace layers (EPSG:4326), e.g. from :func:`generate_street`; not modified.
    households
        Households of the new compound.
    site
        The id of the compound to redevelop (default: the largest without households).
    seed
        Seed of the household sizes.

    Returns
    -------
    dict
        The layers with the site's buildings and compound replaced.

    Raises
    ------
    ValueError
        When the site is unknown or too small for the households (about 150 per block).
    """
    buildings, compounds = layers["buildings"], layers["compounds"]
    metric = gauss_kruger_crs(CENTRE_LON)
    held = buildings.groupby("compound_id")["households"].sum()
    if site is None:
        empty = compounds[~compounds["id"].isin(held[held > 0].index)]
        empty = empty[empty["kind"].isin(["work_unit", "school"])]
        if not len(empty):
            raise ValueError("no compound without households to redevelop; name a site")
        site = str(empty.loc[empty.to_crs(metric).area.idxmax(), "id"])
    if site not in set(compounds["id"]):
        raise ValueError(f"there is no compound {site!r}")
    parcel = compounds.loc[compounds["id"] == site].to_crs(metric).geometry.iloc[0]
    per_block = 150
    blocks = max(1, math.ceil(households / per_block))
    footprints = _tower_footprints(parcel.buffer(-12), blocks)
    if len(footprints) < blocks:
        raise ValueError(
            f"compound {site} fits {len(footprints)} high-rise blocks, "
            f"not {blocks} for {households} households"
        )
    rng = np.random.default_rng([int(seed), 1500, households])
    numbers = buildings["id"].str[1:].astype(int)
    first = int(numbers.max()) + 1
    ids = [f"B{first + i:06d}" for i in range(blocks)]
    shares = np.full(blocks, households // blocks)
    shares[: households - shares.sum()] += 1
    new_buildings = gpd.GeoDataFrame(
        {"id": ids, "floors": 26, "households": shares, "compound_id": site, "kind": "highrise"},
        geometry=footprints,
        crs=metric,
    ).to_crs(buildings.crs)
    kept = buildings[buildings["compound_id"] != site]
    out = dict(layers)
    out["buildings"] = pd.concat([kept, new_buildings], ignore_index=True)
    homes = layers.get("households")
    if isinstance(homes, pd.DataFrame):
        gone = set(buildings.loc[buildings["compound_id"] == site, "id"])
        homes = homes[~homes["building_id"].isin(gone)]
        start = int(homes["id"].str[1:].astype(int).max()) + 1 if len(homes) else 1
        owner = np.repeat(np.arange(blocks), shares)
        points = shapely.points(
            np.asarray([g.centroid.coords[0] for g in footprints])[owner]
            + rng.uniform(-5, 5, (owner.size, 2))
        )
        added = gpd.GeoDataFrame(
            {
                "id": [f"H{start + i:07d}" for i in range(owner.size)],
                "persons": rng.choice([1, 2, 3, 4, 5], owner.size, p=[0.2, 0.3, 0.3, 0.15, 0.05]),
                "building_id": np.asarray(ids)[owner],
            },
            geometry=points,
            crs=metric,
        ).to_crs(homes.crs)
        out["households"] = pd.concat([homes, added], ignore_index=True)
    renamed = compounds.copy()
    where = renamed["id"] == site
    renamed.loc[where, "kind"] = "residential"
    renamed.loc[where, "name"] = "锦华安置小区"
    out["compounds"] = renamed
    return out


def _tower_footprints(area: shapely.Geometry, count: int) -> list[shapely.Geometry]:
    """Up to ``count`` 18 x 50 m slab footprints in rows inside ``area``, 30 m apart."""
    if area.is_empty:
        return []
    x0, y0, x1, y1 = area.bounds
    found = []
    for y in np.arange(y0 + 9, y1 - 9, 48.0):
        for x in np.arange(x0 + 25, x1 - 25, 80.0):
            slab = shapely.box(x - 25, y - 9, x + 25, y + 9)
            if area.contains(slab):
                found.append(slab)
                if len(found) == count:
                    return found
    return found
