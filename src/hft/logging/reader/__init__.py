"""Reading back what hft wrote: ``hft logs`` (files, the three schemas, filters, merging)."""

from hft.logging.reader.files import Log, find_logs
from hft.logging.reader.filters import Query
from hft.logging.reader.lines import Entry, parse
from hft.logging.reader.merge import merge

__all__ = ["Entry", "Log", "Query", "find_logs", "merge", "parse"]
