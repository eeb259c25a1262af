"""Run as `python bench/NAME.py`, Python puts bench/ first on the path, where bench/knowledge.py
would shadow the `knowledge` package. Importing this module first swaps that entry for the
project's root (so the benchmarks can also use the test helpers)."""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]
