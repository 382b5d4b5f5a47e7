"""deeptgi-rt: genome-wide TF -> target gene network inference with DeepTGI.

The slim runtime: expression I/O, the blocked PCC core, ONNX scoring. It never imports torch;
heavy optional dependencies are imported where they are used.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import InputError

__all__ = ["InputError", "__version__"]
