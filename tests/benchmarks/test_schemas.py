"""benchmarks.schemas: the writer's render cost per schema."""

from __future__ import annotations

import pytest

from benchmarks import schemas
from hft.logging.render.schemas import SCHEMAS, line_renderer, line_seq


class TestSchemasBenchmark:
    def test_the_batch_renders_in_every_schema(self) -> None:
        """The benchmark's batch is real records: each schema renders one line per record."""
        records = schemas.batch(50)
        for schema in SCHEMAS:
            lines = line_renderer(schema).many(records).splitlines()
            assert [line_seq(line) for line in lines] == list(range(50))

    def test_main_prints_a_rate_per_schema(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A small run prints a positive rate for hft, ecs and otel (no time asserted)."""
        rates = schemas.main(["--records", "200", "--rounds", "1"])
        assert set(rates) == set(SCHEMAS)
        assert all(rate > 0 for rate in rates.values())
        assert capsys.readouterr().out.count("records/s") == 3
