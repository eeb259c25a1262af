"""Run as `python bench/NAME.py`, Python puts bench/ first on the path, where bench/knowledge.py
would shadow the `knowledge` package. Importing this module first removes that entry."""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
