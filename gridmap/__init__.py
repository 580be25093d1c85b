"""gridmap: balanced, contiguous management grids for urban streets.

The engine is a library first; the ``gridmap`` command and the web app are thin shells over it.
"""

from gridmap.errors import GridmapError, InputError, Problem

__version__ = "0.1.0"

__all__ = ["GridmapError", "InputError", "Problem", "__version__"]
