"""Grid codes: 15 digits, numbered west to east, north to south within each community."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from gridmap.coding import grid_codes, grid_order, parse_code
from gridmap.errors import InputError

STREET = "510104090"


def squares(nx, ny, *, x0=0.0, y0=0.0, size=100.0, jitter=0.0, seed=0):
    """An nx by ny block of squares, listed in a shuffled order, with their (row, col)."""
    rng = np.random.default_rng(seed)
    cells = []
    for row in range(ny):  # row 0 is the northernmost
        for col in range(nx):
            dx, dy = rng.uniform(-jitter, jitter, 2) if jitter else (0.0, 0.0)
            x = x0 + col * size + dx
            y = y0 + (ny - 1 - row) * size + dy
            cells.append((row, col, box(x, y, x + size, y + size)))
    order = rng.permutation(len(cells))
    cells = [cells[i] for i in order]
    return gpd.GeoDataFrame(
        {"row": [c[0] for c in cells], "col": [c[1] for c in cells]},
        geometry=[c[2] for c in cells],
        crs="EPSG:32648",
    )


def expected_numbers(gdf, nx):
    return gdf["row"] * nx + gdf["col"] + 1


def test_three_by_three_numbered_row_by_row_from_the_north_west():
    gdf = squares(3, 3)
    gdf["group"] = "001"
    codes = grid_codes(gdf, street_code=STREET)
    assert codes.index.equals(gdf.index)
    assert codes.str.fullmatch(r"\d{15}").all()
    assert (codes.str[:12] == STREET + "001").all()
    assert (codes.str[12:].astype(int) == expected_numbers(gdf, 3)).all()
    north_west = gdf[(gdf["row"] == 0) & (gdf["col"] == 0)].index[0]
    assert codes[north_west] == "510104090001001"


def test_jittered_rows_are_still_rows():
    gdf = squares(5, 4, jitter=20.0, seed=3)  # +-20 % of the grid size
    gdf["group"] = "002"
    codes = grid_codes(gdf, street_code=STREET)
    assert (codes.str[12:].astype(int) == expected_numbers(gdf, 5)).all()


def test_uneven_sizes_share_a_row_by_latitude():
    # A tall grid beside two short ones stacked: the tall one's point is between them.
    gdf = gpd.GeoDataFrame(
        {"group": ["001"] * 3},
        geometry=[box(100, 0, 200, 100), box(0, 0, 100, 220), box(100, 100, 200, 200)],
        crs="EPSG:32648",
    )
    codes = grid_codes(gdf, street_code=STREET).str[12:].tolist()
    # Row height = median height 100: the north row holds the NE square (y 150) and the tall
    # grid (y 110, within half a row); the SE square (y 50) is alone in the second row.
    assert codes == ["003", "001", "002"]


def test_two_communities_numbered_independently():
    west = squares(2, 2, seed=1)
    west["group"] = STREET + "001"
    east = squares(3, 1, x0=1000.0, seed=2)
    east["group"] = STREET + "002"
    both = pd.concat([east, west], ignore_index=True)
    codes = grid_codes(both, street_code=STREET)
    assert codes.is_unique
    for community, nx in ((STREET + "001", 2), (STREET + "002", 3)):
        mine = both["group"] == community
        assert (codes[mine].str[:12] == community).all()
        assert (codes[mine].str[12:].astype(int) == expected_numbers(both[mine], nx)).all()


def test_three_digit_community_codes_are_prefixed_and_names_mapped():
    gdf = squares(2, 1)
    gdf["name"] = ["东风社区", "东风社区"]
    codes = grid_codes(
        gdf, street_code=STREET, community_column="name", community_codes={"东风社区": "007"}
    )
    assert set(codes.str[:12]) == {STREET + "007"}
    assert sorted(codes.str[12:]) == ["001", "002"]
    gdf["c"] = 7  # a code read as a number lost its leading zeros
    assert set(grid_codes(gdf, street_code=STREET, community_column="c").str[:12]) == {
        STREET + "007"
    }


def test_codes_are_deterministic():
    gdf = squares(4, 4, jitter=10.0, seed=5)
    gdf["group"] = "001"
    assert grid_codes(gdf, street_code=STREET).equals(grid_codes(gdf, street_code=STREET))
    # identical points: ties keep input order
    same = gpd.GeoDataFrame({"group": ["001"] * 3}, geometry=[box(0, 0, 1, 1)] * 3)
    assert grid_codes(same, street_code=STREET).str[12:].tolist() == ["001", "002", "003"]
    assert grid_order(same.geometry).tolist() == [0, 1, 2]


def test_parse_code_round_trip():
    gdf = squares(3, 3)
    gdf["group"] = "004"
    for code in grid_codes(gdf, street_code=STREET):
        parts = parse_code(code)
        assert parts["district"] == "510104" and parts["street"] == "090"
        assert parts["community"] == "004" and parts["community_code"] == STREET + "004"
        assert parts["district"] + parts["street"] + parts["community"] + parts["grid"] == code
    assert parse_code(510104090004009)["grid"] == "009"


@pytest.mark.parametrize("bad", ["12345", "5101040901", "51010409a", "", 12345678])
def test_bad_street_codes(bad):
    gdf = squares(1, 1)
    gdf["group"] = "001"
    with pytest.raises(InputError, match="9 digits") as caught:
        grid_codes(gdf, street_code=bad)
    assert caught.value.fix


@pytest.mark.parametrize("bad", ["12345678901234", "51010409000100a", "510104090001000"])
def test_bad_codes_do_not_parse(bad):
    with pytest.raises(InputError):
        parse_code(bad)


def test_more_than_999_grids_in_a_community():
    gdf = squares(40, 25)  # 1000 grids
    gdf["group"] = "003"
    with pytest.raises(InputError, match="'003' has 1000 grids") as caught:
        grid_codes(gdf, street_code=STREET)
    assert "larger grids" in caught.value.fix
    codes = grid_codes(gdf.iloc[:999], street_code=STREET)
    assert codes.str[12:].max() == "999"


@pytest.mark.parametrize("community", ["01", "51010409000", "510104091001", None])
def test_community_codes_that_do_not_fit(community):
    gdf = squares(1, 1)
    gdf["group"] = [community]
    with pytest.raises(InputError, match="community") as caught:
        grid_codes(gdf, street_code=STREET)
    assert caught.value.fix


def test_missing_community_column():
    with pytest.raises(InputError, match="no column 'group'"):
        grid_codes(squares(1, 1), street_code=STREET)
