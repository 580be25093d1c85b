"""Grid codes: the 15-digit number of every grid (网格编码), Beijing DB11 style.

A grid code is four fixed-width parts, read left to right from the largest area down::

    510104 090 001 007
    |      |   |   `-- grid: 001-999, numbered within its community
    |      |   `------ community (社区): 3 digits within the street
    |      `---------- street (街道): 3 digits within the district
    `----------------- district: the 6-digit GB/T 2260 code

The first 9 digits are the street code, the first 12 the community code.  A community may be
given by its full 12-digit code (which must start with the street code) or by its 3 digits,
which are then prefixed with the street code.

Grids are numbered within their community **west to east, north to south**, as one reads a
map: the grids are sorted into rows from north to south, then within each row from west to
east.  A grid's position is its representative point (a point inside it).  Grids whose points
lie at nearly the same latitude share a row: walking down the points from the north, a point
joins the current row while it lies less than half a row height below the row's mean latitude,
the row height being the median height (bounding-box extent) of the community's grids.  Ties
keep the grids' input order, so the same plan always gets the same codes.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import InputError

__all__ = ["MAX_GRIDS_PER_COMMUNITY", "grid_codes", "grid_order", "parse_code"]

#: The grid number has 3 digits: 001-999.
MAX_GRIDS_PER_COMMUNITY = 999

_STREET = re.compile(r"\d{9}")
_CODE = re.compile(r"\d{15}")


def _street_code(street_code: Any) -> str:
    text = str(street_code).strip()
    if not _STREET.fullmatch(text):
        raise InputError(
            f"street code {street_code!r} is not 9 digits.",
            fix="give the 6-digit GB/T 2260 district code followed by the 3-digit street number, "
            "e.g. 510104090.",
        )
    return text


def _community_code(community: Hashable, street: str, codes: Mapping | None) -> str:
    """The 12-digit code of ``community`` (a code, or a key of ``codes``)."""
    if codes is not None:
        if community not in codes:
            raise InputError(
                f"community {community!r} has no code in the community codes given.",
                fix="add its 3-digit or 12-digit code to community_codes.",
            )
        value = codes[community]
    else:
        value = community
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        raise InputError(
            f"community {community!r} has no code.",
            fix="give every grid's community a 3-digit or 12-digit code.",
        )
    if isinstance(value, int | np.integer):  # leading zeros lost on the way through a number
        value = f"{int(value):03d}"
    text = str(value).strip()
    if re.fullmatch(r"\d{3}", text):
        return street + text
    if re.fullmatch(r"\d{12}", text):
        if not text.startswith(street):
            raise InputError(
                f"community {community!r} has code {text}, which is not in street {street}.",
                fix=f"give its 3-digit number or a 12-digit code starting with {street}.",
            )
        return text
    raise InputError(
        f"community {community!r} has code {text!r}, which does not fit a grid code.",
        fix="give a 3-digit community number or the full 12-digit community code.",
    )


def grid_order(geometries: gpd.GeoSeries | np.ndarray) -> np.ndarray:
    """The reading order of grids: north to south in rows, west to east within a row.

    Parameters
    ----------
    geometries
        Grid polygons of one community, in any CRS whose ``y`` grows northwards.

    Returns
    -------
    numpy.ndarray
        Positions of the grids in reading order (a permutation of ``0..n-1``).
    """
    geoms = np.asarray(geometries.to_numpy() if hasattr(geometries, "to_numpy") else geometries)
    n = len(geoms)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    points = shapely.point_on_surface(geoms)
    x = shapely.get_x(points)
    y = shapely.get_y(points)
    bounds = shapely.bounds(geoms)
    heights = bounds[:, 3] - bounds[:, 1]
    heights = heights[np.isfinite(heights)]
    row_height = float(np.median(heights)) if len(heights) else 0.0
    # Empty geometries have no position: they go last, in input order.
    x = np.where(np.isfinite(x), x, np.inf)
    y = np.where(np.isfinite(y), y, -np.inf)
    position = np.arange(n)
    by_y = np.lexsort((position, -y))  # north first; ties in input order
    rows = np.empty(n, dtype=np.int64)
    row, total, count = 0, 0.0, 0
    for i in by_y:
        if count and not (y[i] > total / count - row_height / 2 and np.isfinite(y[i])):
            row, total, count = row + 1, 0.0, 0
        rows[i] = row
        total, count = total + (y[i] if np.isfinite(y[i]) else 0.0), count + 1
    return np.lexsort((position, x, rows)).astype(np.int64)


def grid_codes(
    grids: gpd.GeoDataFrame,
    *,
    street_code: str,
    community_column: str = "group",
    community_codes: Mapping | None = None,
) -> pd.Series:
    """The 15-digit code of every grid: community code + grid number in reading order.

    Parameters
    ----------
    grids
        Grid polygons with a column naming each grid's community.
    street_code
        The 9-digit street code (6-digit district + 3-digit street).
    community_column
        The column of the community: its 3-digit or 12-digit code, or a key of
        ``community_codes``.
    community_codes
        Optional mapping from the values of ``community_column`` (names, say) to 3-digit or
        12-digit community codes.

    Returns
    -------
    pandas.Series
        Strings of 15 digits, named ``code``, on the index of ``grids``.  Grids are numbered
        001, 002... within each community, north to south and west to east (see the module
        documentation).

    Raises
    ------
    InputError
        When the street code is not 9 digits, a community code does not fit (or is missing, or
        belongs to another street), or a community has more than 999 grids.
    """
    street = _street_code(street_code)
    if community_column not in grids.columns:
        raise InputError(
            f"the grids have no column {community_column!r} naming their community.",
            fix="pass community_column= the column holding each grid's community.",
        )
    codes = np.empty(len(grids), dtype=object)
    geoms = grids.geometry.to_numpy()
    communities = grids[community_column].to_numpy(dtype=object)
    key, uniques = pd.factorize(pd.Series(communities, dtype=object), use_na_sentinel=False)
    for value in range(len(uniques)):
        members = np.flatnonzero(key == value)
        community = communities[members[0]]
        prefix = _community_code(community, street, community_codes)
        if len(members) > MAX_GRIDS_PER_COMMUNITY:
            raise InputError(
                f"community {community!r} has {len(members)} grids, but grid numbers have "
                f"3 digits (at most {MAX_GRIDS_PER_COMMUNITY}).",
                fix="use larger grids (a higher target) or split the community.",
            )
        order = members[grid_order(geoms[members])]
        codes[order] = [f"{prefix}{number:03d}" for number in range(1, len(order) + 1)]
    return pd.Series(codes, index=grids.index, name="code", dtype=object)


def parse_code(code: str | int) -> dict[str, str]:
    """Split a 15-digit grid code into its parts.

    Parameters
    ----------
    code
        A grid code such as ``"510104090001007"``.

    Returns
    -------
    dict
        ``district`` (6 digits), ``street``, ``community`` and ``grid`` (3 digits each), and
        the prefixes ``street_code`` (9 digits) and ``community_code`` (12 digits).

    Raises
    ------
    InputError
        When the code is not 15 digits or its grid number is 000.
    """
    text = str(code).strip()
    if not _CODE.fullmatch(text):
        raise InputError(
            f"grid code {code!r} is not 15 digits.",
            fix="a grid code is 6-digit district + 3-digit street + 3-digit community + "
            "3-digit grid, e.g. 510104090001007.",
        )
    if text[12:] == "000":
        raise InputError(f"grid code {text} has grid number 000.", fix="grid numbers start at 001.")
    return {
        "district": text[:6],
        "street": text[6:9],
        "community": text[9:12],
        "grid": text[12:],
        "street_code": text[:9],
        "community_code": text[:12],
    }
