"""LoggingConfigManager: layered loading, provenance and strict errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hft.config import ConfigError, LoggingConfigManager, load_settings
from hft.config._loader import default_settings_dir
from tests.config.conftest import REPO_SETTINGS, load, read_yaml, write_yaml
from tests.config.spies import count_validations

SECRET = "s3cr3t-value"  # noqa: S105 - a fake secret the tests look for


def _errors(settings_dir: Path, environment: str = "dev", **env: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(settings_dir, environment, env)
    return str(caught.value)


def _set(path: Path, dotted: str, value: object) -> None:
    """Set ``dotted`` in the YAML file at ``path`` (creating sections)."""
    data = read_yaml(path)
    *parents, leaf = dotted.split(".")
    section = data
    for key in parents:
        section = section.setdefault(key, {})
    section[leaf] = value
    write_yaml(path, data)


class TestEnvironments:
    def test_dev_overrides(self) -> None:
        """dev: console on at DEBUG, relaxed latency (the spec's dev overrides)."""
        logging = load(REPO_SETTINGS, "dev").get_logging_config()
        assert logging.backends.console.enabled
        assert logging.backends.console.level == "DEBUG"
        assert logging.hft_settings.max_latency_us == 5000
        assert logging.hft_settings.flush_interval_ms == 100

    def test_prod_overrides(self) -> None:
        """prod: no console, file at WARNING, audit and Prometheus on, strict latency."""
        logging = load(REPO_SETTINGS, "prod").get_logging_config()
        backends, hft = logging.backends, logging.hft_settings
        assert not backends.console.enabled
        assert backends.file.level == "WARNING"
        assert backends.audit.enabled
        assert backends.prometheus.enabled
        assert (hft.max_latency_us, hft.flush_interval_ms, hft.ring_buffer_size) == (1000, 5, 20000)

    def test_default_is_dev(self) -> None:
        """Without an argument or HFT_ENV the environment is dev."""
        assert load(REPO_SETTINGS, None).environment == "dev"

    def test_hft_env_variable(self) -> None:
        """HFT_ENV chooses the environment, and is not itself a settings key."""
        manager = LoggingConfigManager(settings_dir=REPO_SETTINGS, env={"HFT_ENV": "prod"})
        assert manager.environment == "prod"
        assert manager.variables == ()

    def test_argument_beats_variable(self) -> None:
        """An explicit environment wins over HFT_ENV."""
        manager = LoggingConfigManager("dev", REPO_SETTINGS, env={"HFT_ENV": "prod"})
        assert manager.environment == "dev"

    @pytest.mark.parametrize("name", ["../etc", "base", "a/b"])
    def test_bad_environment_name(self, name: str) -> None:
        """An environment must be a plain settings file name."""
        with pytest.raises(ConfigError, match="environment"):
            load(REPO_SETTINGS, name)

    def test_load_settings(self) -> None:
        """load_settings returns the effective Settings."""
        settings = load_settings("prod", REPO_SETTINGS, env={})
        assert settings.logging.hft_settings.ring_buffer_size == 20000


class TestSettingsDir:
    def test_variable(self, settings_dir: Path) -> None:
        """HFT_SETTINGS_DIR points at the settings directory."""
        _set(settings_dir / "dev.yaml", "logging.hft_settings.batch_size", 77)
        manager = LoggingConfigManager(env={"HFT_SETTINGS_DIR": str(settings_dir)})
        assert manager.settings.logging.hft_settings.batch_size == 77

    def test_working_directory(self, settings_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without a directory given, ./settings is used and shown relative."""
        _set(settings_dir / "dev.yaml", "logging.hft_settings.batch_size", 78)
        monkeypatch.chdir(settings_dir.parent)
        manager = LoggingConfigManager(env={})
        assert manager.settings.logging.hft_settings.batch_size == 78
        assert manager.layers[0].name == "settings/base.yaml"

    def test_shipped_settings_fallback(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With no ./settings, the settings that come with hft are used: the checkout's
        settings/ in a source tree, the package's copy of them when installed."""
        monkeypatch.chdir(tmp_path)
        manager = LoggingConfigManager(env={})
        assert manager.settings_dir == default_settings_dir()
        shipped = (manager.settings_dir / "base.yaml").read_bytes()
        assert shipped == (REPO_SETTINGS / "base.yaml").read_bytes()


class TestVariables:
    def test_override_coerced(self) -> None:
        """A variable overrides both files, its string coerced to the field's type."""
        env = {"HFT_LOGGING__HFT_SETTINGS__FLUSH_INTERVAL_MS": "20"}
        assert (
            load(REPO_SETTINGS, "prod", env).settings.logging.hft_settings.flush_interval_ms == 20
        )

    def test_case_insensitive(self) -> None:
        """Variable names are matched case-insensitively; levels are normalised."""
        env = {"hft_logging__backends__file__LEVEL": "error"}
        assert load(REPO_SETTINGS, "dev", env).settings.logging.backends.file.level == "ERROR"

    def test_list_as_json(self) -> None:
        """A list is given as JSON."""
        env = {"HFT_EXCHANGES__MEXC__SYMBOLS": '["SOLUSDT"]'}
        manager = load(REPO_SETTINGS, "dev", env)
        assert manager.get_exchange_config("mexc").symbols == ("SOLUSDT",)

    def test_secret_from_variable(self) -> None:
        """Secrets come from variables and stay hidden unless revealed."""
        env = {"HFT_EXCHANGES__MEXC__API_KEY": SECRET}
        manager = load(REPO_SETTINGS, "prod", env)
        assert manager.get_exchange_config("MEXC").api_key.get_secret_value() == SECRET
        assert SECRET not in repr(manager.settings)
        assert SECRET not in repr(manager)
        assert SECRET not in str(manager.as_dict())
        assert manager.as_dict(reveal_secrets=True)["exchanges"]["mexc"]["api_key"] == SECRET

    def test_wrong_type_names_variable(self) -> None:
        """A bad variable value is reported under the variable's name."""
        message = _errors(REPO_SETTINGS, HFT_LOGGING__HFT_SETTINGS__BATCH_SIZE="lots")
        assert message.startswith(
            "HFT_LOGGING__HFT_SETTINGS__BATCH_SIZE: logging.hft_settings.batch_size: "
            "Input should be a valid integer"
        )
        assert "'lots'" in message

    def test_unknown_nested_key(self) -> None:
        """A typo below a section is an unknown key, blamed on the variable."""
        message = _errors(REPO_SETTINGS, HFT_LOGGING__HFT_SETTINGS__BATCHSIZE="5")
        assert "HFT_LOGGING__HFT_SETTINGS__BATCHSIZE: logging.hft_settings.batchsize" in message
        assert "did you mean batch_size?" in message

    def test_unknown_section(self) -> None:
        """A nested variable naming no section is an error, not silently ignored."""
        message = _errors(REPO_SETTINGS, HFT_LOGING__HFT_SETTINGS__BATCH_SIZE="5")
        assert "HFT_LOGING__HFT_SETTINGS__BATCH_SIZE: loging: unknown key" in message
        assert "did you mean HFT_LOGGING?" in message

    def test_plain_hft_variables_ignored(self) -> None:
        """HFT_ variables without __ (e.g. the audit HMAC key) are not settings keys."""
        manager = load(REPO_SETTINGS, "dev", {"HFT_AUDIT_HMAC_KEY": SECRET})
        assert manager.variables == ()


class TestVariableErrors:
    def test_a_list_not_given_as_json_names_the_variable_and_key(self, settings_dir: Path) -> None:
        """A list-valued variable that is not JSON is one error naming it and its key path."""
        name = "HFT_LOGGING__HFT_SETTINGS__REDACT_FIELDS"
        with pytest.raises(ConfigError) as caught:
            load(settings_dir, env={name: "api_key"})
        assert f"{name}: logging.hft_settings.redact_fields: cannot read 'api_key'" in str(
            caught.value
        )


class TestProvenance:
    def test_each_layer(self) -> None:
        """Every leaf names the layer that set it last."""
        env = {"HFT_LOGGING__HFT_SETTINGS__BATCH_SIZE": "7"}
        manager = load(REPO_SETTINGS, "prod", env)
        base, prod = (layer.name for layer in manager.layers[:2])
        assert base.endswith("base.yaml")
        assert prod.endswith("prod.yaml")
        provenance = manager.provenance
        assert provenance["logging.hft_settings.gc_threshold"] == f"base file ({base})"
        assert provenance["logging.hft_settings.ring_buffer_size"] == f"env file ({prod})"
        assert provenance["logging.hft_settings.batch_size"] == (
            "variable HFT_LOGGING__HFT_SETTINGS__BATCH_SIZE"
        )

    def test_every_leaf_has_a_source(self) -> None:
        """Provenance covers every effective leaf, including lists and empty mappings."""
        manager = load(REPO_SETTINGS, "dev")
        assert "logging.hft_settings.redact_fields" in manager.provenance
        assert "logging.backends.prometheus.grouping_key" in manager.provenance
        assert len(manager.provenance) == len(manager.layers[0].sources)

    def test_described_sources(self) -> None:
        """The variables used are listed by name."""
        env = {"HFT_EXCHANGES__MEXC__SEED": "9", "HFT_EXCHANGES__GATEIO__SEED": "8"}
        manager = load(REPO_SETTINGS, "dev", env)
        assert manager.variables == ("HFT_EXCHANGES__GATEIO__SEED", "HFT_EXCHANGES__MEXC__SEED")


class TestFileErrors:
    def test_unknown_key(self, settings_dir: Path) -> None:
        """A typo names the file, the key path and the closest known key."""
        _set(settings_dir / "dev.yaml", "logging.hft_settings.flush_intervall_ms", 5)
        message = _errors(settings_dir)
        assert "settings/dev.yaml: logging.hft_settings.flush_intervall_ms" in message
        assert "unknown key; did you mean flush_interval_ms?" in message

    def test_wrong_type(self, settings_dir: Path) -> None:
        """A wrong type names the file, the key path, pydantic's reason and the value."""
        _set(settings_dir / "prod.yaml", "logging.hft_settings.ring_buffer_size", "big")
        message = _errors(settings_dir, "prod")
        assert "settings/prod.yaml: logging.hft_settings.ring_buffer_size: " in message
        assert "Input should be a valid integer" in message
        assert "(got 'big')" in message

    @pytest.mark.parametrize("backend", ["file", "syslog"])
    def test_unknown_schema(self, settings_dir: Path, backend: str) -> None:
        """A schema other than hft, ecs or otel names the file, the key path and the choices."""
        _set(settings_dir / "prod.yaml", f"logging.backends.{backend}.schema", "elk")
        message = _errors(settings_dir, "prod")
        assert f"settings/prod.yaml: logging.backends.{backend}.schema: " in message
        assert "Input should be 'hft', 'ecs' or 'otel' (got 'elk')" in message

    def test_missing_env_file(self, settings_dir: Path) -> None:
        """A missing environment file is named, with the environments that do exist."""
        message = _errors(settings_dir, "staging")
        assert message == (
            "settings/staging.yaml: no settings for environment 'staging' "
            "(environments in settings: dev, prod)"
        )

    def test_invalid_yaml(self, settings_dir: Path) -> None:
        """Unparseable YAML names the file and the line."""
        (settings_dir / "dev.yaml").write_text("logging:\n  hft_settings: [1,\n", encoding="utf-8")
        message = _errors(settings_dir)
        assert message.startswith("settings/dev.yaml: invalid YAML")
        assert "line" in message

    def test_top_level_not_mapping(self, settings_dir: Path) -> None:
        """A file whose top level is not a mapping is refused."""
        (settings_dir / "dev.yaml").write_text("- a\n- b\n", encoding="utf-8")
        assert "top level must be a mapping" in _errors(settings_dir)

    def test_duplicate_key(self, settings_dir: Path) -> None:
        """A key given twice in one mapping is refused rather than last-one-wins."""
        text = "logging:\n  hft_settings:\n    batch_size: 1\n    batch_size: 2\n"
        (settings_dir / "dev.yaml").write_text(text, encoding="utf-8")
        assert "duplicate key batch_size" in _errors(settings_dir)

    def test_empty_env_file(self, settings_dir: Path) -> None:
        """An empty environment file is base.yaml unchanged."""
        (settings_dir / "dev.yaml").write_text("# nothing\n", encoding="utf-8")
        assert load(settings_dir).settings.logging.hft_settings.max_latency_us == 1000

    def test_secret_in_file(self, settings_dir: Path) -> None:
        """A non-empty secret in a file is refused, naming file, key and the variable to use."""
        _set(settings_dir / "prod.yaml", "exchanges.mexc.api_secret", SECRET)
        message = _errors(settings_dir, "prod")
        assert "settings/prod.yaml: exchanges.mexc.api_secret: secrets come" in message
        assert "HFT_EXCHANGES__MEXC__API_SECRET" in message
        assert SECRET not in message

    def test_missing_value_blames_defining_file(self, settings_dir: Path) -> None:
        """A new exchange lacking a required key is blamed on the file that added it."""
        _set(settings_dir / "prod.yaml", "exchanges.kraken.enabled", True)
        message = _errors(settings_dir, "prod")
        assert "settings/prod.yaml: exchanges.kraken.rest_url: missing value" in message

    def test_several_problems(self, settings_dir: Path) -> None:
        """All problems are reported in one error, one per line."""
        dev = settings_dir / "dev.yaml"
        _set(dev, "logging.hft_settings.flush_intervall_ms", 5)
        _set(dev, "logging.backends.console.level", "LOUD")
        _set(dev, "exchanges.mexc.api_key", SECRET)
        assert len(_errors(settings_dir).splitlines()) == 3


class TestRuleErrors:
    def test_max_latency(self, settings_dir: Path) -> None:
        """max_latency_us above 5000 is blamed on the file that set it."""
        _set(settings_dir / "dev.yaml", "logging.hft_settings.max_latency_us", 6000)
        message = _errors(settings_dir)
        assert message.startswith(
            "settings/dev.yaml: logging.hft_settings.max_latency_us: 6000 exceeds"
        )

    def test_ring_buffer_size(self, settings_dir: Path) -> None:
        """ring_buffer_size below 1000 is blamed on the file that set it."""
        _set(settings_dir / "base.yaml", "logging.hft_settings.ring_buffer_size", 500)
        message = _errors(settings_dir)
        assert message.startswith("settings/base.yaml: logging.hft_settings.ring_buffer_size: 500")

    def test_no_backend(self, settings_dir: Path) -> None:
        """Switching every backend off is blamed on the last layer that switched one."""
        _set(settings_dir / "prod.yaml", "logging.backends.file.enabled", False)
        env = {
            "HFT_LOGGING__BACKENDS__AUDIT__ENABLED": "false",
            "HFT_LOGGING__BACKENDS__PROMETHEUS__ENABLED": "false",
        }
        message = _errors(settings_dir, "prod", **env)
        assert "logging.backends: at least one backend must be enabled" in message
        assert message.startswith("HFT_LOGGING__BACKENDS__")

    def test_rule_from_variable(self) -> None:
        """A rule broken by a variable names the variable."""
        message = _errors(REPO_SETTINGS, "prod", HFT_LOGGING__HFT_SETTINGS__MAX_LATENCY_US="9000")
        assert message.startswith("HFT_LOGGING__HFT_SETTINGS__MAX_LATENCY_US: logging.")


class TestValidatedOnce:
    def test_the_effective_settings_are_validated_once(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The merged layers are validated once, HFT rules included; base.yaml alone once more
        (the container's base layer), without the rules; what the manager hands out is that
        model, not validated again."""
        counts = count_validations(monkeypatch)
        manager = load(REPO_SETTINGS, "prod")
        assert manager.get_logging_config() is manager.settings.logging
        assert counts == {"settings": 2, "rules": 1}


class TestAccessors:
    def test_exchange_unknown(self) -> None:
        """An unknown exchange is an error listing the known ones."""
        with pytest.raises(ConfigError, match=r"known: gateio, mexc"):
            load(REPO_SETTINGS).get_exchange_config("binance")

    def test_base_dict_is_base_alone(self) -> None:
        """base_dict is base.yaml alone; as_dict is the effective merge."""
        manager = load(REPO_SETTINGS, "prod")
        assert manager.base_dict()["logging"]["backends"]["console"]["enabled"] is True
        assert manager.as_dict()["logging"]["backends"]["console"]["enabled"] is False

    def test_as_dict_plain(self) -> None:
        """as_dict holds only JSON types (lists, not tuples)."""
        exchange = load(REPO_SETTINGS).as_dict()["exchanges"]["mexc"]
        assert exchange["symbols"] == ["BTCUSDT", "ETHUSDT"]

    def test_new_exchange_needs_no_code(self, settings_dir: Path) -> None:
        """An exchange added in a file is loaded like the built-in ones."""
        kraken = dict(read_yaml(settings_dir / "base.yaml")["exchanges"]["mexc"], seed=5)
        _set(settings_dir / "dev.yaml", "exchanges.kraken", kraken)
        assert load(settings_dir).get_exchange_config("Kraken").seed == 5


class TestLevels:
    def test_levels_map_loads_by_prefix(self, settings_dir: Path) -> None:
        """``logging.levels`` maps logger-name prefixes ("" the root) to levels, any case."""
        _set(settings_dir / "dev.yaml", "logging.levels", {"": "info", "exchange.mexc": "DEBUG"})
        settings = load(settings_dir, "dev", {}).settings
        assert settings.logging.levels == {"": "INFO", "exchange.mexc": "DEBUG"}

    def test_a_bad_prefix_names_the_file_and_key(self, settings_dir: Path) -> None:
        """A malformed prefix is one line naming the file and the key path."""
        _set(settings_dir / "dev.yaml", "logging.levels", {"exchange..mexc": "DEBUG"})
        errors = _errors(settings_dir)
        assert "dev.yaml: logging.levels" in errors
        assert "exchange..mexc" in errors
        assert "not a logger-name prefix" in errors

    def test_a_bad_level_names_the_file_and_key(self, settings_dir: Path) -> None:
        """A level that is not DEBUG..CRITICAL names the file and the prefix's key path."""
        _set(settings_dir / "dev.yaml", "logging.levels", {"exchange": "TRACE"})
        assert "dev.yaml: logging.levels.exchange" in _errors(settings_dir)

    def test_reloaded_reads_the_files_again(self, settings_dir: Path) -> None:
        """``reloaded()`` is the same environment and folder read now (SIGHUP's source)."""
        manager = LoggingConfigManager("dev", settings_dir, {})
        _set(settings_dir / "dev.yaml", "logging.levels", {"": "ERROR"})
        assert manager.get_logging_config().levels == {}
        assert manager.reloaded().get_logging_config().levels == {"": "ERROR"}

    def test_control_can_be_turned_off_by_a_variable(self, settings_dir: Path) -> None:
        """``HFT_LOGGING__CONTROL__ENABLED=false`` turns the control channel off."""
        settings = load(settings_dir, "dev", {"HFT_LOGGING__CONTROL__ENABLED": "false"}).settings
        assert settings.logging.control.enabled is False
