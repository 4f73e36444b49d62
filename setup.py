"""Build the optional C fast paths; without a compiler hft installs and runs in pure Python."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("hft._speedups", ["src/hft/_speedups.c"], optional=True),
        Extension("hft._frames", ["src/hft/_frames.c"], optional=True),
        Extension("hft._callsite", ["src/hft/_callsite.c"], optional=True),
    ],
)
