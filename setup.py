"""Build the optional C fast path; without a compiler hft installs and runs in pure Python."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("hft._speedups", ["src/hft/_speedups.c"], optional=True),
    ],
)
