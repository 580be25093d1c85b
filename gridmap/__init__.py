"""gridmap: balanced, contiguous management grids for urban streets.

The engine is a library first; the ``gridmap`` command and the web app are thin shells over it.
The names below are imported on first use, so that ``import gridmap`` (and ``gridmap --help``)
stays quick::

    import gridmap
    layers = gridmap.read_workspace("sample_data/sample_street.gpkg")
    report = gridmap.validate_workspace(layers, "sample_data/sample_street.gpkg")
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from gridmap.errors import GridmapError, InputError, Problem

__version__ = "0.1.0"

_LAZY = {
    "read_layer": "gridmap.io",
    "read_osm": "gridmap.io",
    "read_workspace": "gridmap.io",
    "list_layers": "gridmap.io",
    "write_geojson": "gridmap.io",
    "write_geopackage": "gridmap.io",
    "write_csv": "gridmap.io",
    "write_layer": "gridmap.io",
    "local_metric_crs": "gridmap.crs",
    "to_metric": "gridmap.crs",
    "to_wgs84": "gridmap.crs",
    "convert_coords": "gridmap.crs",
    "convert_geometries": "gridmap.crs",
    "validate_layer": "gridmap.layers",
    "validate_workspace": "gridmap.layers",
    "validate_path": "gridmap.layers",
    "ValidationReport": "gridmap.layers",
    "LAYERS": "gridmap.schema",
    "generate_street": "gridmap.sample",
    "write_sample": "gridmap.sample",
}

__all__ = ["GridmapError", "InputError", "Problem", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gridmap' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
