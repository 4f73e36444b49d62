"""``python -m hft.logging._writer SPEC``: the writer process (started by ProcessBackend)."""

from hft.logging._writer._serve import main

main()
