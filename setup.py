"""Build the optional C fast paths, and ship settings/*.yaml inside the package.

Without a compiler hft installs and runs in pure Python. The repository's ``settings/`` stays the
one copy of the defaults: the build copies it to ``hft/config/defaults/``, so an installed hft
runs, and ``hft init`` writes a starter ``settings/``, with no checkout at hand.
"""

from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

_SHARED = ["src/hft/_buffer.h"]  # the growable buffer both output-building modules use
_SETTINGS = Path(__file__).resolve().parent / "settings"


class BuildWithSettings(build_py):
    """build_py, plus the settings files as package data (hft/config/defaults/*.yaml)."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "hft" / "config" / "defaults"
        self.mkpath(str(target))
        for source in sorted(_SETTINGS.glob("*.yaml")):
            self.copy_file(str(source), str(target / source.name))


setup(
    cmdclass={"build_py": BuildWithSettings},
    ext_modules=[
        Extension(
            "hft._speedups",
            ["src/hft/_speedups.c"],
            depends=[*_SHARED, "src/hft/_scan.h"],
            optional=True,
        ),
        Extension("hft._frames", ["src/hft/_frames.c"], depends=_SHARED, optional=True),
        Extension("hft._callsite", ["src/hft/_callsite.c"], optional=True),
    ],
)
