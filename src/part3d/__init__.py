"""part3d: split 3D models into their parts.

The core data path is ``io.load`` -> ``segment`` -> ``parts.split`` -> ``io.save``; see
``docs/ARCHITECTURE.md`` in the shared design folder.
"""

from part3d.errors import Part3DError
from part3d.io import load, save
from part3d.model import Material, Mesh, Scene

__all__ = ["Part3DError", "Material", "Mesh", "Scene", "load", "save"]
__version__ = "0.1.0"
