"""hft: logging and metrics fast enough for the hot path of a trading strategy."""

__version__ = "0.1.0"

__all__ = ["__version__"]
