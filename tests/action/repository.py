"""The action's owner/name on GitHub, as written once in pyproject.toml ([tool.bluegreen] action)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ACTION: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["bluegreen"]["action"]
OWNER, NAME = ACTION.split("/")
