"""Benchmark suite: hft's logger against the floor, a lossless baseline and the usual libraries.

Run ``python -m benchmarks --help``. Each contender lives in :mod:`benchmarks.contenders`;
:mod:`benchmarks.harness` times and counts, :mod:`benchmarks.report` prints and plots.
"""
