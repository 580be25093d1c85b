"""GCJ-02 -> WGS84 conversion: gridmap's vectorised exact inverse against per-point peers.

Starts from random WGS84 points over eastern China, shifts them to GCJ-02 with the published
forward formula, converts them back with each method and measures speed and error.

Run: python benchmarks/bench_crs.py [--points 100000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from gridmap.crs import gcj02_to_wgs84, haversine_m, wgs84_to_gcj02


def _loop(convert: Callable[[float, float], tuple[float, float]], lat_first: bool):
    def run(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = np.empty((len(lon), 2))
        for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
            out[i] = convert(y, x) if lat_first else convert(x, y)
        return (out[:, 1], out[:, 0]) if lat_first else (out[:, 0], out[:, 1])

    return run


def methods() -> dict[str, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]]:
    found = {"gridmap gcj02_to_wgs84 (vectorised, iterative)": gcj02_to_wgs84}
    try:
        import eviltransform

        found["eviltransform.gcj2wgs (per point, one step)"] = _loop(eviltransform.gcj2wgs, True)
        found["eviltransform.gcj2wgs_exact (per point)"] = _loop(eviltransform.gcj2wgs_exact, True)
    except ImportError:
        print("eviltransform not installed: pip install -e '.[bench]'")
    try:
        import prcoords

        found["prcoords.gcj_wgs (per point, one step)"] = _loop(
            lambda lat, lon: tuple(prcoords.gcj_wgs((lat, lon))), True
        )
        found["prcoords.gcj_wgs_bored (per point)"] = _loop(
            lambda lat, lon: tuple(prcoords.gcj_wgs_bored((lat, lon))), True
        )
    except ImportError:
        print("prcoords not installed: pip install -e '.[bench]'")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    lon = rng.uniform(100.0, 125.0, args.points)
    lat = rng.uniform(20.0, 45.0, args.points)
    glon, glat = wgs84_to_gcj02(lon, lat)
    rows = []
    for name, convert in methods().items():
        start = time.perf_counter()
        x, y = convert(glon, glat)
        seconds = time.perf_counter() - start
        error = haversine_m(x, y, lon, lat)
        rows.append((name, seconds, args.points / seconds, np.median(error), error.max()))
    print(f"{args.points:,} GCJ-02 points over eastern China back to WGS84")
    columns = ("seconds", 8), ("points/s", 12), ("median err m", 13), ("max err m", 10)
    header = f"{'method':<50} " + " ".join(f"{c:>{w}}" for c, w in columns)
    print(header)
    print("-" * len(header))
    for name, seconds, rate, median, worst in rows:
        print(f"{name:<50} {seconds:>8.3f} {rate:>12,.0f} {median:>13.2e} {worst:>10.2e}")


if __name__ == "__main__":
    main()
