"""The fenced blocks of README.md and docs/*.md, and what each says about how it is checked.

A block is checked by its language, or by the HTML comment on the line just above its fence
(invisible on GitHub and in the built site)::

    <!-- example name=router continues=container needs=pushgateway -->   before a ```python block
    <!-- output quickstart -->        the block is what example ``quickstart`` prints (… = anything)
    <!-- check settings -->          a settings file: ``hft config validate`` takes it as <env>.yaml
    <!-- check promtool -->          a prometheus.yml: ``promtool check config`` accepts it
    <!-- check rsyslogd continues=collector name=... -->   an rsyslog config: ``rsyslogd -N1``

Every ``python`` block runs; ``name`` lets a later block continue it (its code runs first),
``needs`` names a server the test starts on loopback. Every ``yaml`` block and every block that
loads an rsyslog module must say how it is checked: an unchecked one is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^`]*)$")
_MARKER = re.compile(r"^ *<!-- (?P<kind>example|output|check)\b(?P<args>[^>]*)-->\s*$")
_ARG = re.compile(r"(\w+)=(\S+)")
CHECKS = frozenset({"settings", "promtool", "rsyslogd"})
SERVERS = frozenset({"pushgateway", "rsyslog"})


class ExampleError(ValueError):
    """A block or marker the collector cannot make sense of."""


@dataclass(frozen=True)
class Block:
    """One fenced block, where it is, and its marker."""

    path: str
    line: int
    lang: str
    code: str
    kind: str = ""  # example | output | check | "" (no marker)
    check: str = ""  # settings | promtool | rsyslogd (kind check); the example's name (output)
    args: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """``file:line`` of the fence, as test ids and failures show it."""
        return f"{self.path}:{self.line}"

    @property
    def name(self) -> str:
        """The name a later block continues (``name=``), else empty."""
        return self.args.get("name", "")


def markdown_files(root: Path = ROOT) -> list[Path]:
    """README.md and every page of the docs site."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def parse(text: str, path: str) -> list[Block]:
    """The fenced blocks of one Markdown text, each with the marker just above it."""
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = _closing(lines, index, opening["fence"], path)
        indent = len(opening["indent"])
        code = "\n".join(line[indent:] for line in lines[index + 1 : end]) + "\n"
        lang = (opening["info"].split() or [""])[0]
        marker = _MARKER.match(lines[index - 1]) if index else None
        blocks.append(_block(path, index + 1, lang, code, marker))
        index = end + 1
    return blocks


def _closing(lines: list[str], start: int, fence: str, path: str) -> int:
    for end in range(start + 1, len(lines)):
        if lines[end].strip() == fence:
            return end
    raise ExampleError(f"{path}:{start + 1}: fence never closed")


def _block(path: str, line: int, lang: str, code: str, marker: re.Match[str] | None) -> Block:
    if marker is None:
        return Block(path, line, lang, code)
    words = marker["args"].split()
    args = dict(_ARG.findall(marker["args"]))
    plain = [word for word in words if "=" not in word]
    kind = marker["kind"]
    check = plain[0] if plain else ""
    block = Block(path, line, lang, code, kind, check, args)
    _validate(block)
    return block


def _validate(block: Block) -> None:
    if block.kind == "check" and block.check not in CHECKS:
        raise ExampleError(f"{block.where}: check {block.check!r} is not one of {sorted(CHECKS)}")
    if block.kind == "output" and not block.check:
        raise ExampleError(f"{block.where}: output of which example?")
    if block.kind == "example" and block.lang != "python":
        raise ExampleError(f"{block.where}: an example marker is for a python block")
    if (need := block.args.get("needs")) is not None and need not in SERVERS:
        raise ExampleError(f"{block.where}: needs {need!r}: no such server ({sorted(SERVERS)})")


def collect(root: Path = ROOT) -> list[Block]:
    """Every block of every page; raises :class:`ExampleError` for an unchecked config block."""
    blocks = [
        block
        for page in markdown_files(root)
        for block in parse(page.read_text(), str(page.relative_to(root)))
    ]
    for block in blocks:
        if block.lang == "yaml" and block.kind != "check":
            raise ExampleError(
                f"{block.where}: a yaml block needs <!-- check settings|promtool -->"
            )
        if "module(load=" in block.code and block.check != "rsyslogd":
            raise ExampleError(f"{block.where}: an rsyslog config needs <!-- check rsyslogd -->")
    return blocks


def source(block: Block, blocks: list[Block]) -> str:
    """The block's code after the code of the blocks it continues, oldest first."""
    parent_name = block.args.get("continues")
    if parent_name is None:
        return block.code
    parents = [b for b in blocks if b.name == parent_name and b.path == block.path]
    if len(parents) != 1:
        raise ExampleError(f"{block.where}: continues {parent_name!r}: {len(parents)} such blocks")
    return source(parents[0], blocks) + block.code


def output_pattern(expected: str) -> re.Pattern[str]:
    """What an output block allows: its text exactly, ``…`` standing for any run of characters."""
    parts = [re.escape(part) for part in expected.strip().split("…")]
    return re.compile(".*?".join(parts), re.DOTALL)
