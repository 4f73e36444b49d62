"""``python -m hft.logging.writer SPEC``: the writer process (started by ProcessBackend)."""

from hft.logging.writer.serve import main

main()
