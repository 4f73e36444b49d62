"""Build the optional C fast paths; without a compiler hft installs and runs in pure Python."""

from setuptools import Extension, setup

_SHARED = ["src/hft/_buffer.h"]  # the growable buffer both output-building modules use

setup(
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
