"""hft.logging.factory: every entry point that takes settings validates them as base.yaml is."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hft.config import (
    BackendsSettings,
    ConfigError,
    FileBackendSettings,
    HftSettings,
    LoggingConfigManager,
    LoggingSettings,
    load_settings,
)
from hft.logging import (
    DEBUG,
    ERROR,
    INFO,
    WARNING,
    HFTLogger,
    create_backend_from_config,
    create_backends_from_config,
    create_hft_logger_from_config,
    create_pipeline_from_config,
    get_exchange_logger_with_config,
    get_strategy_logger_with_config,
)
from hft.logging.pipeline import lanes
from hft.logging.render.lines import REDACTED
from hft.logging.testing import CapturingBackend
from hft.logging.writer.backend import ProcessBackend
from tests.config.spies import count_validations

REPO_SETTINGS = Path(__file__).resolve().parents[2] / "settings"

#: (name, the ``logging`` section's overlay, the error line every entry point gives)
BAD: list[tuple[str, dict[str, Any], str]] = [
    (
        "typo",
        {"hft_settings": {"flush_intervall_ms": 20}},
        "logging.hft_settings.flush_intervall_ms: unknown key; did you mean flush_interval_ms?",
    ),
    (
        "section typo",
        {"hft_setings": {"batch_size": 10}},
        "logging.hft_setings: unknown key; did you mean hft_settings?",
    ),
    (
        "wrong type",
        {"hft_settings": {"max_latency_us": "fast"}},
        (
            "logging.hft_settings.max_latency_us: Input should be a valid integer, unable to parse "
            "string as an integer (got 'fast')"
        ),
    ),
    (
        "rule broken",
        {"hft_settings": {"ring_buffer_size": 10}},
        "logging.hft_settings.ring_buffer_size: 10 is too small for HFT operations (at least 1000)",
    ),
    (
        "bad enum",
        {"hft_settings": {"overflow_policy": "nonsense"}},
        (
            "logging.hft_settings.overflow_policy: Input should be 'drop_oldest', 'drop_newest' or "
            "'block' (got 'nonsense')"
        ),
    ),
    (
        "backend typo",
        {"backends": {"console": {"levle": "DEBUG"}}},
        "logging.backends.console.levle: unknown key; did you mean level?",
    ),
]

EntryPoint = Callable[[dict[str, Any]], object]
ENTRY_POINTS: dict[str, EntryPoint] = {
    "create_hft_logger_from_config": lambda c: create_hft_logger_from_config("x", [], c),
    "get_exchange_logger_with_config": lambda c: get_exchange_logger_with_config("m", "o", c),
    "get_strategy_logger_with_config": lambda c: get_strategy_logger_with_config("s", [], c),
    "create_pipeline_from_config": create_pipeline_from_config,
}


def _yaml_error(tmp_path: Path, overlay: dict[str, Any]) -> str:
    """The loader's error for *overlay* written as settings/dev.yaml."""
    settings = tmp_path / "settings"
    shutil.copytree(REPO_SETTINGS, settings)
    (settings / "dev.yaml").write_text(yaml.safe_dump({"logging": overlay}), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        LoggingConfigManager("dev", settings, env={})
    return str(caught.value)


class TestOneSettingsPath:
    @pytest.mark.parametrize(("case", "overlay", "line"), BAD, ids=[b[0] for b in BAD])
    @pytest.mark.parametrize("entry", list(ENTRY_POINTS))
    def test_a_bad_dict_gets_the_yaml_loaders_error(
        self, entry: str, case: str, overlay: dict[str, Any], line: str, tmp_path: Path
    ) -> None:
        """The same mistake gets the same line from a dict entry point as from a YAML file."""
        with pytest.raises(ConfigError) as caught:
            ENTRY_POINTS[entry]({"backends": {"console": {}}, **overlay})  # names a backend
        assert str(caught.value) == line
        assert _yaml_error(tmp_path, overlay) == f"{tmp_path / 'settings' / 'dev.yaml'}: {line}"

    def test_a_backend_section_gets_the_same_error(self) -> None:
        """create_backend_from_config validates its section against that backend's model."""
        with pytest.raises(ConfigError) as caught:
            create_backend_from_config("console", {"levle": "DEBUG"})
        assert (
            str(caught.value) == "logging.backends.console.levle: unknown key; did you mean level?"
        )

    def test_an_unknown_backend_lists_the_known_ones(self) -> None:
        """An unknown backend name is a ValueError (ConfigError) naming those that exist."""
        with pytest.raises(
            ValueError, match=r"unknown backend type 'kafka' \(known: audit, console"
        ):
            create_backend_from_config("kafka", {})

    def test_models_are_taken_as_they_are(self) -> None:
        """A LoggingSettings, or a whole Settings, is taken as it is (its values used)."""
        logging = LoggingSettings(hft_settings=HftSettings(ring_buffer_size=2000))
        whole = load_settings("dev", REPO_SETTINGS, env={}).model_copy(update={"logging": logging})
        for config in (logging, whole):
            assert create_pipeline_from_config(config, backends=[]).capacity == 2000

    def test_a_whole_settings_brings_its_secrets(self) -> None:
        """From a whole Settings, the exchanges' SecretStr values are masked in every record."""
        key = "mx0-factory-key-0042"
        whole = load_settings("dev", REPO_SETTINGS, env={"HFT_EXCHANGES__MEXC__API_KEY": key})
        capture = CapturingBackend()
        pipeline = create_pipeline_from_config(whole, backends=[capture])
        HFTLogger(pipeline, "x").info(f"connecting with {key}", url=f"wss://x/?k={key}")
        pipeline.close()
        (record,) = capture.logs()
        assert key not in repr(record)
        assert record.msg == f"connecting with {REDACTED}"

    def test_a_model_breaking_a_rule_is_refused(self) -> None:
        """A model that passed its field checks but breaks an HFT rule is refused all the same."""
        logging = LoggingSettings(hft_settings=HftSettings(ring_buffer_size=10))
        with pytest.raises(ConfigError, match="ring_buffer_size: 10 is too small"):
            create_pipeline_from_config(logging, backends=[])


def _audit_only(tmp_path: Path) -> dict[str, Any]:
    """A ``logging`` dict naming only an audit trail under *tmp_path* (built in this process)."""
    return {"backends": {"audit": {"file_path": str(tmp_path / "audit.log")}}}


class TestValidatedOnce:
    def test_create_pipeline_from_config_validates_a_dict_once(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A dict is validated once at the entry point; backends and pipeline take the model."""
        counts = count_validations(monkeypatch)
        pipeline = create_pipeline_from_config(_audit_only(tmp_path))
        pipeline.close()
        assert counts == {"logging": 1, "rules": 1}

    def test_create_pipeline_from_config_checks_a_model_once(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A model is not parsed again; its HFT rules are checked once."""
        settings = LoggingSettings()
        counts = count_validations(monkeypatch)
        create_pipeline_from_config(settings, backends=[]).close()
        assert counts == {"rules": 1}

    def test_create_hft_logger_from_config_validates_a_dict_once(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The shared pipeline's entry point validates once, however far the settings go."""
        counts = count_validations(monkeypatch)
        logger = create_hft_logger_from_config("x", [], _audit_only(tmp_path))
        logger.pipeline.close()
        assert counts == {"logging": 1, "rules": 1}

    def test_create_backends_from_config_validates_a_dict_once(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The backends are built from the typed sections: none is validated again."""
        counts = count_validations(monkeypatch)
        for backend in create_backends_from_config(_audit_only(tmp_path)):
            backend.close()
        assert counts == {"logging": 1, "rules": 1}

    def test_create_backend_from_config_validates_its_section_once(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """One backend's section is validated once, then built from the model."""
        counts = count_validations(monkeypatch)
        create_backend_from_config("audit", {"file_path": str(tmp_path / "audit.log")}).close()
        assert counts == {"section": 1}

    @pytest.mark.parametrize("environment", ["dev", "prod"])
    def test_the_shipped_pipelines_validate_each_section_once(
        self, environment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """dev and prod as shipped, with their real backends (the writer process among them):
        each backend section is validated once, with the dict, and never again in this
        process (not by the writer's routing, nor by its probe of the file)."""
        variables = {
            "HFT_LOGGING__BACKENDS__FILE__FILE_PATH": str(tmp_path / "hft.log"),
            "HFT_LOGGING__BACKENDS__AUDIT__FILE_PATH": str(tmp_path / "audit.log"),
            "HFT_LOGGING__BACKENDS__PROMETHEUS__PUSH_GATEWAY_URL": "",
            "HFT_LOGGING__HFT_SETTINGS__SPILL_DIR": str(tmp_path / "spill"),
        }
        shipped = LoggingConfigManager(environment, REPO_SETTINGS, variables).settings.logging
        config = shipped.model_dump(mode="json")
        counts = count_validations(monkeypatch)
        pipeline = create_pipeline_from_config(config).start()
        try:
            assert any(isinstance(s.backend, ProcessBackend) for s in pipeline.slots)
            HFTLogger(pipeline, "x").warning("written by the writer process")
            assert pipeline.flush()
        finally:
            pipeline.close()
        assert counts == {"logging": 1, "rules": 1}
        assert _messages(tmp_path / "hft.log") == ["written by the writer process"]


def _messages(path: Path) -> list[str]:
    """The ``msg`` of every JSON line in *path*."""
    return [json.loads(line)["msg"] for line in path.read_text().splitlines()]


class TestADictEnablesWhatItNames:
    def test_naming_only_the_audit_trail_builds_only_the_audit_trail(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """No console line on stderr and no logs/hft.log in the working folder: only the trail."""
        monkeypatch.chdir(tmp_path)
        trail = tmp_path / "trail" / "audit.log"
        log = create_hft_logger_from_config(
            "x", [], {"backends": {"audit": {"file_path": str(trail)}}}
        )
        log.info("not audited", qty=3)
        log.audit("order.placed", qty=3)
        log.pipeline.close()
        assert [json.loads(line)["event"] for line in trail.read_text().splitlines()] == [
            "order.placed"
        ]
        assert [child.name for child in tmp_path.iterdir()] == ["trail"]  # no logs/, no spill
        assert capfd.readouterr().err == ""

    def test_a_named_file_backend_takes_base_yamls_level(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """Naming the file backend by its path alone: base.yaml's INFO level, and no console."""
        path = tmp_path / "app.log"
        log = create_hft_logger_from_config(
            "x", [], {"backends": {"file": {"file_path": str(path)}}}
        )
        log.debug("below INFO")
        log.info("at INFO")
        log.pipeline.close()
        assert _messages(path) == ["at INFO"]
        assert capfd.readouterr().err == ""

    def test_a_named_file_backend_takes_base_yamls_writer_process(self, tmp_path: Path) -> None:
        """The named file backend alone is built, as base.yaml's writer process."""
        backends = create_backends_from_config(
            {"backends": {"file": {"file_path": str(tmp_path / "x.log")}}}
        )
        try:
            assert [type(backend) for backend in backends] == [ProcessBackend]
        finally:
            for backend in backends:
                backend.close()

    @pytest.mark.parametrize("entry", list(ENTRY_POINTS))
    def test_naming_none_is_refused_naming_the_key(self, entry: str) -> None:
        """A dict naming no backend is the one-backend error, naming logging.backends."""
        with pytest.raises(ConfigError) as caught:
            ENTRY_POINTS[entry]({"hft_settings": {"batch_size": 7}})
        assert str(caught.value) == "logging.backends: at least one backend must be enabled"

    def test_a_model_is_used_as_it_is(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A LoggingSettings keeps its own switches: the console it leaves on writes to stderr."""
        file = FileBackendSettings(file_path=str(tmp_path / "app.log"))
        log = create_hft_logger_from_config(
            "x", [], LoggingSettings(backends=BackendsSettings(file=file))
        )
        log.info("to both")
        log.pipeline.close()
        assert _messages(tmp_path / "app.log") == ["to both"]
        assert "to both" in capfd.readouterr().err


class TestSameDefaults:
    def test_a_dict_naming_only_the_path_builds_base_yamls_file_backend(
        self, tmp_path: Path
    ) -> None:
        """{"file_path": ...} alone is the file backend base.yaml describes: a writer process."""
        backend = create_backend_from_config("file", {"file_path": str(tmp_path / "x.log")})
        try:
            assert isinstance(backend, ProcessBackend)
        finally:
            backend.close()

    def test_writer_thread_is_gone_and_named_as_an_unknown_key(self, tmp_path: Path) -> None:
        """writer: thread (removed: the writer process is faster in every figure) is an
        unknown key naming logging.backends.file.writer."""
        path = tmp_path / "x.log"
        with pytest.raises(ConfigError, match=r"logging\.backends\.file\.writer"):
            create_backend_from_config("file", {"file_path": str(path), "writer": "thread"})


class TestStartErrors:
    def test_a_path_that_cannot_be_opened_names_the_key(self, tmp_path: Path) -> None:
        """A log path under a plain file: one line naming the key, the path and the reason."""
        blocker = tmp_path / "file"
        blocker.write_text("")
        path = blocker / "hft.log"
        with pytest.raises(ConfigError) as caught:
            create_backend_from_config("file", {"file_path": str(path)})
        assert str(caught.value).startswith("logging.backends.file.file_path: cannot open ")
        assert str(blocker) in str(caught.value)
        assert "\n" not in str(caught.value)

    def test_an_audit_path_that_cannot_be_opened_names_the_key(self, tmp_path: Path) -> None:
        """The audit trail likewise names logging.backends.audit.file_path."""
        blocker = tmp_path / "file"
        blocker.write_text("")
        with pytest.raises(ConfigError, match=r"^logging\.backends\.audit\.file_path: cannot open"):
            create_backend_from_config("audit", {"file_path": str(blocker / "audit.log")})


@pytest.mark.skipif(lanes.Lane is None, reason="the C paths are off (HFT_PURE_PYTHON=1)")
class TestShippedSettingsTakeTheLane:
    @pytest.mark.parametrize("environment", [None, "dev", "prod"])
    def test_every_level_a_sink_takes_goes_down_the_lane(
        self, environment: str | None, tmp_path: Path
    ) -> None:
        """base, dev and prod as shipped: every level the writer's sinks take has the lane
        (console, syslog or Prometheus beside the file push none off it), and the file gets
        every record it takes."""
        variables = {
            "HFT_LOGGING__BACKENDS__FILE__FILE_PATH": str(tmp_path / "hft.log"),
            "HFT_LOGGING__BACKENDS__AUDIT__FILE_PATH": str(tmp_path / "audit.log"),
            "HFT_LOGGING__BACKENDS__PROMETHEUS__PUSH_GATEWAY_URL": "",
            "HFT_LOGGING__HFT_SETTINGS__SPILL_DIR": str(tmp_path / "spill"),
        }
        settings = LoggingConfigManager(environment, REPO_SETTINGS, variables).settings
        pipeline = create_pipeline_from_config(settings).start()
        try:
            logger = HFTLogger(pipeline, "exchange.mexc.orders", ["mexc"])
            writer = next(
                s.backend for s in pipeline.slots if isinstance(s.backend, ProcessBackend)
            )
            for level in (DEBUG, INFO, WARNING, ERROR):
                lane, _ = pipeline.lane_for(level, logger._source)
                assert (lane is not None) == (level >= writer.level), level
            for i in range(100):
                logger.warning("w", i=i)
            assert pipeline.flush()
        finally:
            pipeline.close()
        lines = (tmp_path / "hft.log").read_bytes().splitlines()
        assert [json.loads(line)["fields"]["i"] for line in lines] == list(range(100))
