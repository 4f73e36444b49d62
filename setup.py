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

_NATIVE = "src/hft/logging/native"
# The C extensions, each cut by the process that runs it (see native/caller.c, native/writer.c):
# its sources, and every header they include, directly or not (the build redoes an extension
# when one changes; tests/logging/native/test_layout.py holds this list to the #includes).
EXTENSIONS = {
    "_caller": {  # the process that logs: call sites, limits, the byte lane, its mover, scan
        "sources": ["caller.c", "callsite.c", "keep.c", "counter.c", "sequence.c", "lane.c",
                    "lane_push.c", "lane_take.c", "lane_mover.c", "mover.c", "scan.c",
                    "secret.c", "context.c", "limiter.c", "limit_sites.c", "trace.c"],
        "depends": ["caller.h", "callsite.h", "compat.h", "context.h", "counter.h", "emitter.h",
                    "entry.h", "keep.h", "lane.h", "limiter.h", "mover.h", "plain.h", "scan.h",
                    "secret.h", "sequence.h", "trace.h"],
    },
    "_writer": {  # the side that reads frames and writes lines: decoder, renderers
        "sources": ["writer.c", "frame.c", "line.c", "render.c", "render_lane.c"],
        "depends": ["buffer.h", "compat.h", "entry.h", "frame.h", "line.h", "plain.h",
                    "render.h", "render_lane.h", "writer.h"],
    },
}  # fmt: skip
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
            [f"{_NATIVE}/{source}" for source in files["sources"]],
            depends=[f"{_NATIVE}/{header}" for header in files["depends"]],
            optional=_OPTIONAL,
            extra_compile_args=_CFLAGS,
            extra_link_args=_LDFLAGS,
        )
        for name, files in EXTENSIONS.items()
    ],
)
