"""Text for `hft config show` and `hft config validate`, and the package's exports."""

from __future__ import annotations

import re
from pathlib import Path

import hft.config
from hft.config import describe_sources, render_config_show
from tests.config.conftest import REPO_SETTINGS, load

SECRET = "s3cr3t-value"  # noqa: S105 - a fake secret the tests look for
_LINE = re.compile(r"^(\S+) +=(?: (.*?))? +# (.+)$")


class TestShow:
    def test_lines_and_sources(self) -> None:
        """Each line is `key = value    # source`, one per effective leaf."""
        manager = load(REPO_SETTINGS, "prod", {"HFT_LOGGING__HFT_SETTINGS__BATCH_SIZE": "7"})
        lines = render_config_show(manager).splitlines()
        assert len(lines) == len(manager.provenance)
        batch = next(line for line in lines if line.startswith("logging.hft_settings.batch_size "))
        match = _LINE.match(batch)
        assert match is not None
        assert match.group(2) == "7"
        assert match.group(3) == "variable HFT_LOGGING__HFT_SETTINGS__BATCH_SIZE"

    def test_aligned(self) -> None:
        """The `=` signs line up."""
        lines = render_config_show(load(REPO_SETTINGS)).splitlines()
        assert len({line.index(" = ") for line in lines}) == 1

    def test_file_order(self) -> None:
        """Keys follow the settings files' order, not the alphabet."""
        keys = [line.split()[0] for line in render_config_show(load(REPO_SETTINGS)).splitlines()]
        assert keys[0] == "logging.hft_settings.ring_buffer_size"
        assert keys.index("logging.backends.console.enabled") < keys.index("exchanges.mexc.seed")

    def test_values_spelled_as_yaml(self) -> None:
        """Booleans, nulls and lists are shown as YAML/JSON spells them."""
        text = render_config_show(load(REPO_SETTINGS))
        assert re.search(r"^logging\.backends\.console\.enabled += true ", text, re.MULTILINE)
        assert re.search(r"^logging\.backends\.syslog\.hostname += null ", text, re.MULTILINE)
        assert re.search(
            r'^exchanges\.mexc\.symbols += \["BTCUSDT", "ETHUSDT"\]', text, re.MULTILINE
        )

    def test_secrets_masked(self) -> None:
        """A secret set by a variable is shown masked, never in clear."""
        manager = load(REPO_SETTINGS, "dev", {"HFT_EXCHANGES__GATEIO__API_SECRET": SECRET})
        text = render_config_show(manager)
        assert SECRET not in text
        assert re.search(r"^exchanges\.gateio\.api_secret += \*{10} ", text, re.MULTILINE)


class TestDescribeSources:
    def test_counts_variables(self) -> None:
        """The summary names the environment, both files and the number of variables."""
        env = {"HFT_EXCHANGES__MEXC__SEED": "3", "HFT_ENV": "prod"}
        manager = hft.config.LoggingConfigManager(settings_dir=REPO_SETTINGS, env=env)
        base, prod = (layer.name for layer in manager.layers[:2])
        assert describe_sources(manager) == f"environment 'prod' ({base} + {prod} + 1 variable)"

    def test_plural(self) -> None:
        """No variables reads `0 variables`."""
        assert describe_sources(load(REPO_SETTINGS)).endswith("+ 0 variables)")


class TestExports:
    def test_all_sorted_and_complete(self) -> None:
        """__all__ is sorted and lists every public name the package defines."""
        public = {name for name in vars(hft.config) if not name.startswith("_")}
        assert hft.config.__all__ == sorted(hft.config.__all__)
        assert set(hft.config.__all__) == public - {"annotations"}


class TestUrlPasswords:
    def test_password_in_a_url_is_masked(self, settings_dir: Path) -> None:
        """A push gateway URL with credentials shows its user but never its password."""
        name = "HFT_LOGGING__BACKENDS__PROMETHEUS__PUSH_GATEWAY_URL"
        text = render_config_show(load(settings_dir, env={name: "https://ops:hunter2@gw:9091"}))
        assert "hunter2" not in text
        assert "https://ops:**********@gw:9091" in text
