"""benchmarks.schemas: the writer's render cost per schema."""

from __future__ import annotations

import pickle

import pytest

from benchmarks import schemas
from hft.logging.record import LaneRecords
from hft.logging.render.schemas import SCHEMAS, line_renderer, line_seq


class TestSchemasBenchmark:
    def test_the_batch_renders_in_every_schema(self) -> None:
        """The benchmark's batch is real records: each schema renders one line per record."""
        records = schemas.batch(50)
        for schema in SCHEMAS:
            lines = line_renderer(schema).many(records).splitlines()
            assert [line_seq(line) for line in lines] == list(range(50))

    def test_the_lane_frames_hold_the_same_records(self) -> None:
        """Where the C call site is built, the lane frames decode to the batch's calls."""
        frames = schemas.lane_frames(50)
        if frames is None:
            pytest.skip("no C call site")
        decoded = [r for payload in frames for r in LaneRecords(payload, pickle.loads)]
        assert [(r[0], r[4], r[5]) for r in decoded] == [
            (r[0], r[4], r[5]) for r in schemas.batch(50)
        ]

    def test_main_prints_a_rate_per_schema(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A small run prints a positive rate for hft, ecs and otel, of tuples and of lane
        frames where they can be made (no time asserted)."""
        rates = schemas.main(["--records", "200", "--rounds", "1"])
        assert {name.split()[0] for name in rates} == set(SCHEMAS)
        assert all(rate > 0 for rate in rates.values())
        assert capsys.readouterr().out.count("records/s") == len(rates) >= 3
