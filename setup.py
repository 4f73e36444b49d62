"""Build the optional C fast paths, and ship settings/*.yaml inside the package.

Without a compiler hft installs and runs in pure Python. The repository's ``settings/`` stays the
one copy of the defaults: the build copies it to ``hft/config/defaults/``, so an installed hft
runs, and ``hft init`` writes a starter ``settings/``, with no checkout at hand.
"""

import os
import shlex
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

_SHARED = ["src/hft/logging/native/_buffer.h", "src/hft/logging/native/_compat.h"]  # the kept buffer; CPython version compat
_OWN = {
    "_speedups": [
        "src/hft/logging/native/_scan.h",
        "src/hft/logging/native/_secret.h",
        "src/hft/logging/native/_lane_frame.h",
    ],
    "_callsite": [
        "src/hft/logging/native/_lane.h",
        "src/hft/logging/native/_lane_type.h",
        "src/hft/logging/native/_lane_frame.h",
        "src/hft/logging/native/_secret.h",
    ],
}  # a module's own headers (scan() is in _scan.h)
_SETTINGS = Path(__file__).resolve().parent / "settings"
# Extra compiler flags for the C extensions, e.g. HFT_CFLAGS="-Wall -Wextra -Werror" in CI, or
# "-fsanitize=address -fno-omit-frame-pointer -g -O1" for `make asan`. Empty for a user's install.
_CFLAGS = shlex.split(os.environ.get("HFT_CFLAGS", ""))
_LDFLAGS = shlex.split(os.environ.get("HFT_LDFLAGS", ""))
# Where the fast paths are required (CI: HFT_REQUIRE_SPEEDUPS=1), a C extension that does not
# compile fails the build, with the compiler's message, instead of being left out quietly.
_OPTIONAL = os.environ.get("HFT_REQUIRE_SPEEDUPS") != "1"


class BuildWithSettings(build_py):
    """build_py, plus the settings files as package data (hft/config/defaults/*.yaml)."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "hft" / "config" / "defaults"
        self.mkpath(str(target))
        for source in sorted(_SETTINGS.glob("*.yaml")):
            self.copy_file(str(source), str(target / source.name))


setup(
    cmdclass={"build_py": BuildWithSettings},
    ext_modules=[
        Extension(
            f"hft.logging.native.{name}",
            [f"src/hft/logging/native/{name}.c"],
            depends=[*_SHARED, *_OWN.get(name, [])],
            optional=_OPTIONAL,
            extra_compile_args=_CFLAGS,
            extra_link_args=_LDFLAGS,
        )
        for name in ("_speedups", "_callsite")
    ],
)
