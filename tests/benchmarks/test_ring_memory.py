"""The bytes-per-slot figure of benchmarks.ring_memory."""

from __future__ import annotations

from benchmarks.ring_memory import bytes_per_slot


class TestBytesPerSlot:
    def test_counts_the_record_and_its_fields(self) -> None:
        """A slot costs more than its bare 6-tuple (fields dict, floats), far under 4 KiB."""
        per_slot = bytes_per_slot(2_000)
        assert 6 * 8 + 40 < per_slot < 4096
