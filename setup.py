"""The build puts a copy of action.yml inside the package.

action.yml stays at the repository root, where GitHub reads it, and is the one place inputs are
declared; an installed bluegreen reads the copy (bluegreen/config.py looks there first).
Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithActionYml(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "bluegreen" / "action.yml"
        shutil.copyfile("action.yml", target)


setup(cmdclass={"build_py": BuildPyWithActionYml})
