"""The package as a user installs it: a wheel in a fresh venv, used from an empty folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HFT_", "PYTHON"))}
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv outside the checkout with hft installed from a freshly built wheel: its bin/."""
    root = tmp_path_factory.mktemp("package")
    built = _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(root), str(REPO)], root)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    [wheel] = root.glob("hft-*.whl")
    venv = root / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)], root).returncode == 0
    pip = _run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)], root)
    assert pip.returncode == 0, pip.stderr[-2000:]
    return venv / "bin"


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    """An empty folder, as a new project starts."""
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


class TestUnderTest:
    def test_hft_comes_from_where_this_run_expects(self) -> None:
        """The suite tests the tree it was asked to: src/ (editable) or, with
        HFT_EXPECT_INSTALLED=1 (make pytest-installed), the installed wheel, never src/."""
        import hft

        location = Path(hft.__file__).resolve().parent
        if os.environ.get("HFT_EXPECT_INSTALLED") == "1":
            assert location.parent.name == "site-packages"
            assert REPO not in location.parents
        else:
            assert location == REPO / "src" / "hft"


@pytest.mark.slow
class TestInstalledWheel:
    def test_it_imports_from_the_venv_not_the_checkout(self, installed: Path, empty: Path) -> None:
        """hft comes from the venv's site-packages, with its settings and py.typed inside."""
        code = (
            "import hft, pathlib; p = pathlib.Path(hft.__file__).parent; "
            "print(p); print((p / 'py.typed').is_file()); "
            "print(sorted(f.name for f in (p / 'config' / 'defaults').iterdir()))"
        )
        result = _run([str(installed / "python"), "-c", code], empty)
        folder, typed, defaults = result.stdout.splitlines()
        assert folder.startswith(str(installed.parent))
        assert typed == "True"
        assert defaults == "['base.yaml', 'dev.yaml', 'prod.yaml']"

    def test_validate_in_an_empty_folder_uses_the_shipped_settings(
        self, installed: Path, empty: Path
    ) -> None:
        """hft config validate works with no settings/ at hand: base + dev from the package."""
        result = _run([str(installed / "hft"), "config", "validate", "--env", "prod"], empty)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("OK: environment 'prod'")
        assert "defaults/prod.yaml" in result.stdout

    def test_run_in_an_empty_folder(self, installed: Path, empty: Path) -> None:
        """hft run --duration 1 runs the app on the shipped settings and writes its log."""
        result = _run([str(installed / "hft"), "run", "--duration", "1"], empty)
        assert result.returncode == 0, result.stderr
        assert "HFT compliance" in result.stdout
        assert (empty / "logs" / "hft.log").stat().st_size > 0

    def test_init_writes_a_starter_that_is_then_used(self, installed: Path, empty: Path) -> None:
        """hft init writes settings/ (commented base, dev, prod); validate then reads it."""
        result = _run([str(installed / "hft"), "init"], empty)
        assert result.returncode == 0, result.stderr
        names = sorted(path.name for path in (empty / "settings").iterdir())
        assert names == ["base.yaml", "dev.yaml", "prod.yaml"]
        assert "# Every key with its default" in (empty / "settings" / "base.yaml").read_text()
        again = _run([str(installed / "hft"), "config", "validate"], empty)
        assert again.returncode == 0, again.stderr
        assert "settings/base.yaml + settings/dev.yaml" in again.stdout
