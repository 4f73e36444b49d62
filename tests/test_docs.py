"""Every example in README.md and docs/ runs as written (see tests/docs_examples.py for markers)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.docs_examples import (
    ROOT,
    Block,
    ExampleError,
    collect,
    markdown_files,
    output_pattern,
    parse,
    source,
)
from tests.servers import Pushgateway, Rsyslog, TlsFiles

BLOCKS = collect()
PYTHON = [b for b in BLOCKS if b.lang == "python"]
OUTPUTS = [b for b in BLOCKS if b.kind == "output"]
SETTINGS = [b for b in BLOCKS if b.check == "settings"]
PROMTOOL = [b for b in BLOCKS if b.check == "promtool"]
RSYSLOG = [b for b in BLOCKS if b.check == "rsyslogd"]
#: Appended to every Python example: a block that defines ``test_*`` functions (a user's tests)
#: has them called, as pytest would.
_CALL_TESTS = """
for _name, _test in list(globals().items()):
    if _name.startswith("test_") and callable(_test):
        _test()
"""


def _ids(block: Block) -> str:
    return block.where


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without the HFT_* settings of whoever runs the suite, plus *extra*."""
    keep = {"HFT_PURE_PYTHON", "HFT_REQUIRE_SPEEDUPS", "HFT_EXPECT_INSTALLED"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("HFT_") or k in keep}
    return env | extra


def run_example(block: Block, folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run *block* (after the blocks it continues) as a program in *folder*, a fresh interpreter."""
    script = folder / "example.py"
    script.write_text(source(block, BLOCKS) + _CALL_TESTS)
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        env=_clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _outputs_of(block: Block) -> list[Block]:
    return [b for b in OUTPUTS if b.check == block.name and b.path == block.path and block.name]


def _assert_ran(block: Block, done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"{block.where} failed:\n{done.stdout}\n{done.stderr}"


def _server(need: str, request: pytest.FixtureRequest) -> tuple[dict[str, str], Callable[[], None]]:
    """What a ``needs=`` server gives an example: variables pointing hft at a real one started on
    loopback by the suite's fixtures (stopped after the test), and a check that it was reached."""
    if need == "pushgateway":
        gateway: Pushgateway = request.getfixturevalue("pushgateway")

        def pushed() -> None:
            assert gateway.samples("hft_log_records_total"), "nothing reached the gateway"

        return {"HFT_LOGGING__BACKENDS__PROMETHEUS__PUSH_GATEWAY_URL": gateway.url}, pushed
    server: Rsyslog = request.getfixturevalue("rsyslog")("tcp")

    def received() -> None:
        assert server.records(), "nothing reached rsyslog"

    env = {
        "HFT_LOGGING__BACKENDS__SYSLOG__HOST": "127.0.0.1",
        "HFT_LOGGING__BACKENDS__SYSLOG__PORT": str(server.port),
        "HFT_LOGGING__BACKENDS__SYSLOG__TRANSPORT": "tcp",
    }
    return env, received


class TestPythonExamples:
    @pytest.mark.parametrize("block", [b for b in PYTHON if "needs" not in b.args], ids=_ids)
    def test_example_runs(self, block: Block, tmp_path: Path) -> None:
        """The block, after those it continues, exits 0 in an empty folder (its tests pass), and
        prints what an output block naming it shows (… standing for anything)."""
        done = run_example(block, tmp_path)
        _assert_ran(block, done)
        for shown in _outputs_of(block):
            assert output_pattern(shown.code).fullmatch(done.stdout.strip()), (
                f"{shown.where} is not what {block.where} prints:\n{done.stdout}"
            )

    @pytest.mark.parametrize("block", [b for b in PYTHON if "needs" in b.args], ids=_ids)
    def test_example_with_a_server_runs(
        self, block: Block, tmp_path: Path, request: pytest.FixtureRequest
    ) -> None:
        """A block marked needs=SERVER runs against a real one on loopback and reaches it."""
        env, reached = _server(block.args["needs"], request)
        _assert_ran(block, run_example(block, tmp_path, **env))
        reached()


class TestConfigExamples:
    @pytest.mark.parametrize("block", SETTINGS, ids=_ids)
    def test_settings_snippet_validates(self, block: Block, tmp_path: Path) -> None:
        """`hft config validate` accepts the snippet as an environment's file over base.yaml."""
        shutil.copy(ROOT / "settings" / "base.yaml", tmp_path / "base.yaml")
        (tmp_path / "snippet.yaml").write_text(source(block, BLOCKS))
        hft = Path(sys.executable).parent / "hft"
        done = subprocess.run(
            [hft, "config", "validate", "--env", "snippet", "--settings-dir", tmp_path],
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"{block.where}:\n{done.stdout}{done.stderr}"
        assert done.stdout.startswith("OK: environment 'snippet'")

    @pytest.mark.parametrize("block", PROMTOOL, ids=_ids)
    def test_prometheus_snippet_passes_promtool(self, block: Block, tmp_path: Path) -> None:
        """`promtool check config` accepts the snippet as a prometheus.yml."""
        promtool = shutil.which("promtool")
        if promtool is None:
            pytest.fail("promtool is not on PATH: apt-get install prometheus")
        conf = tmp_path / "prometheus.yml"
        conf.write_text(source(block, BLOCKS))
        done = subprocess.run(
            [promtool, "check", "config", str(conf)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"{block.where}:\n{done.stdout}{done.stderr}"

    @pytest.mark.parametrize("block", RSYSLOG, ids=_ids)
    def test_rsyslog_snippet_passes_rsyslogd(
        self, block: Block, tmp_path: Path, tls_files: TlsFiles
    ) -> None:
        """`rsyslogd -N1` accepts the snippet; /etc/rsyslog/*.pem are the test's certificates."""
        for name, path in (("ca", tls_files.ca), ("cert", tls_files.cert), ("key", tls_files.key)):
            shutil.copy(path, tmp_path / f"{name}.pem")
        conf = tmp_path / "rsyslog.conf"
        conf.write_text(source(block, BLOCKS).replace("/etc/rsyslog/", f"{tmp_path}/"))
        done = subprocess.run(
            ["/usr/sbin/rsyslogd", "-N1", "-f", str(conf)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"{block.where}:\n{done.stdout}{done.stderr}"
        assert "error" not in done.stderr.lower(), done.stderr


class TestCollector:
    def test_continued_blocks_run_after_their_parent(self) -> None:
        """A block marked continues=NAME gets the code of the block named NAME before its own."""
        text = (
            "<!-- example name=a -->\n```python\nx = 1\n```\n\n"
            "<!-- example continues=a -->\n```python\nassert x == 1\n```\n"
        )
        first, second = parse(text, "page.md")
        assert source(second, [first, second]) == "x = 1\nassert x == 1\n"

    def test_a_failing_block_fails_its_test(self, tmp_path: Path) -> None:
        """A block that raises exits non-zero, which test_example_runs reports as a failure."""
        (broken,) = parse("```python\nundefined_name\n```\n", "page.md")
        script = tmp_path / "example.py"
        script.write_text(source(broken, [broken]) + _CALL_TESTS)
        done = subprocess.run([sys.executable, str(script)], capture_output=True, check=False)
        assert done.returncode != 0
        assert b"NameError" in done.stderr

    def test_unchecked_config_blocks_are_refused(self, tmp_path: Path) -> None:
        """A yaml block without a check marker, or an rsyslog config without one, is an error."""
        (tmp_path / "docs").mkdir()
        (tmp_path / "README.md").write_text("```yaml\na: 1\n```\n")
        with pytest.raises(ExampleError, match=r"README\.md:1: a yaml block needs"):
            collect(tmp_path)
        (tmp_path / "README.md").write_text('```text\nmodule(load="imtcp")\n```\n')
        with pytest.raises(ExampleError, match="an rsyslog config needs"):
            collect(tmp_path)

    def test_output_pattern_takes_ellipsis_as_anything(self) -> None:
        """`…` in an output block matches any text; the rest must match exactly."""
        pattern = output_pattern('{"ts":"…","msg":"hi"}\n')
        assert pattern.fullmatch('{"ts":"2026-01-01T00:00:00Z","msg":"hi"}')
        assert not pattern.fullmatch('{"ts":"x","msg":"ho"}')

    def test_every_output_block_names_an_example(self) -> None:
        """An output block shows what one named Python example of its page prints."""
        for shown in OUTPUTS:
            assert [b for b in PYTHON if b.name == shown.check and b.path == shown.path], shown

    def test_every_page_has_checked_blocks(self) -> None:
        """The collector found the README's and the docs' examples of every kind."""
        assert {b.path for b in PYTHON} >= {"README.md", "docs/getting-started.md"}
        assert SETTINGS
        assert PROMTOOL
        assert RSYSLOG
        assert OUTPUTS


class TestReadme:
    README = (ROOT / "README.md").read_text()

    def test_short(self) -> None:
        """The README stays a newcomer's page: at most 200 lines."""
        assert len(self.README.splitlines()) <= 200

    def test_starts_with_the_two_commands(self) -> None:
        """The first block, within the first ten lines, is `make run` then `make test`."""
        first = parse(self.README, "README.md")[0]
        assert first.line <= 10
        assert [line.split()[:2] for line in first.code.splitlines()] == [
            ["make", "run"],
            ["make", "test"],
        ]

    def test_sections_in_the_issues_order(self) -> None:
        """What hft is, Pythons, install, quickstart, the commands, features, performance."""
        headings = [line for line in self.README.splitlines() if line.startswith("## ")]
        assert headings[:6] == [
            "## Supported Pythons",
            "## Install",
            "## Quickstart",
            "## `make run` and `make test`",
            "## Features",
            "## Performance",
        ]

    def test_links_to_pages_that_exist(self) -> None:
        """Every docs/ link of the README names a page of the site."""
        links = re.findall(r"\]\((docs/[^)#]+)", self.README)
        assert len(links) >= 10
        assert all((ROOT / link).is_file() for link in links), links

    def test_figures_are_marked_for_replacement(self) -> None:
        """Headline and full figures sit between the markers the benchmark owner replaces."""
        performance = (ROOT / "docs" / "performance.md").read_text()
        for text, name in ((self.README, "headline"), (performance, "figures")):
            start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
            assert text.count(start) == text.count(end) == 1
            assert text.index(start) < text.index(end)

    def test_no_project_history_or_scratch_paths(self) -> None:
        """User docs carry no scratch paths or pointers into git history (CHANGELOG.md does)."""
        for page in markdown_files():
            text = page.read_text()
            assert "/tmp/" not in text, page
            assert "git log" not in text, page
