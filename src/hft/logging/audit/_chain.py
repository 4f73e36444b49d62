"""The audit chain's on-disk format, shared by the writer and the verifier.

One record per line. A record's *canonical form* is its JSON object without ``digest``,
serialised by orjson with sorted keys; the line is that object with ``"digest":"<hex>"``
appended as its last key::

    {"alg":…,"event":…,"fields":{…},"logger":…,"pipeline_seq":…,"prev":…,"seq":…,…,"digest":"…"}

``digest`` is SHA-256 of the canonical bytes, or HMAC-SHA256 with the configured key (``alg``
says which); ``prev`` is the previous record's digest (``GENESIS`` for the first record ever),
and ``seq`` counts 0, 1, 2, … across every file of the chain. The verifier recomputes the
digest over the exact bytes written (the line minus its digest suffix), so any edited byte
shows, whitespace included.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeGuard

import orjson

GENESIS: Final = "0" * 64
SHA256: Final = "sha256"
HMAC_SHA256: Final = "hmac-sha256"
_HEAD: Final = b',"digest":"'
_TAIL: Final = b'"}'
_SUFFIX_LEN: Final = len(_HEAD) + 64 + len(_TAIL)
_HEX: Final = re.compile(rb"[0-9a-f]{64}")
_STAMP: Final = r"\d{8}T\d{6}\.\d{6}Z"
TORN_MARK: Final = ".torn-"


def alg_for(key: bytes | None) -> str:
    """The ``alg`` a chain written with *key* carries."""
    return SHA256 if key is None else HMAC_SHA256


def digest_of(canonical: bytes, key: bytes | None) -> str:
    """SHA-256 of *canonical*, or HMAC-SHA256 under *key* when one is given (hex)."""
    if key is None:
        return hashlib.sha256(canonical).hexdigest()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def seal(canonical: bytes, key: bytes | None) -> tuple[bytes, str]:
    """The line (newline included) for a record's canonical bytes, and its digest."""
    digest = digest_of(canonical, key)
    return canonical[:-1] + _HEAD + digest.encode() + _TAIL + b"\n", digest


class LineError(ValueError):
    """A line that is not a sealed audit record."""


@dataclass(slots=True)
class Entry:
    """One parsed record: where it is, what it claims and what its bytes hash to."""

    line: int
    seq: int
    prev: str
    digest: str
    #: The digest recomputed from the line's bytes; ``None`` when that needs a key not given.
    computed: str | None
    alg: str
    ts_ns: int

    @property
    def valid(self) -> bool:
        """True when the stored digest matches the bytes (keyed records need the key)."""
        return self.computed == self.digest


def parse_line(raw: bytes, line: int, key: bytes | None) -> Entry:
    """Parse and check one line (without its newline); raise :class:`LineError` if malformed."""
    if len(raw) < _SUFFIX_LEN + 2 or raw[-_SUFFIX_LEN:][: len(_HEAD)] != _HEAD:
        raise LineError("no digest at the end of the line")
    stored = raw[-64 - len(_TAIL) : -len(_TAIL)]
    if not raw.endswith(_TAIL) or _HEX.fullmatch(stored) is None:
        raise LineError("malformed digest")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise LineError(f"not JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise LineError("not a JSON object")
    seq, prev, alg, ts_ns = obj.get("seq"), obj.get("prev"), obj.get("alg"), obj.get("ts_ns")
    if not (_is_int(seq) and isinstance(prev, str) and alg in (SHA256, HMAC_SHA256)):
        raise LineError("missing or mistyped seq, prev or alg")
    canonical = raw[:-_SUFFIX_LEN] + b"}"
    computed = None if alg == HMAC_SHA256 and key is None else digest_of(canonical, _key(alg, key))
    ts = ts_ns if _is_int(ts_ns) else 0
    return Entry(line, seq, prev, stored.decode(), computed, alg, ts)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _key(alg: str, key: bytes | None) -> bytes | None:
    """Unkeyed records are checked as SHA-256 even when a key is given (and then flagged)."""
    return key if alg == HMAC_SHA256 else None


# -- files of one chain -------------------------------------------------------------------


def free_name(path: Path, suffix: str) -> Path:
    """``<path>.<suffix>``, or ``.<suffix>.<n>`` when that name is taken."""
    target = path.with_name(f"{path.name}.{suffix}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.{suffix}.{n}")
        n += 1
    return target


def rotated_files(path: Path) -> list[Path]:
    """The rotated predecessors of *path*, oldest first (their names sort in time order)."""
    pattern = re.compile(re.escape(path.name) + rf"\.({_STAMP})(?:\.(\d+))?$")
    found = []
    for candidate in path.parent.glob(f"{glob_escape(path.name)}.*"):
        match = pattern.match(candidate.name)
        if match:
            found.append((match[1], int(match[2] or 0), candidate))
    return [p for *_, p in sorted(found)]


def side_files(path: Path) -> list[Path]:
    """Torn tails set aside from *path* at restarts, oldest first."""
    return sorted(path.parent.glob(f"{glob_escape(path.name)}{TORN_MARK}*"))


def is_side_file(path: Path) -> bool:
    """True for a ``<file>.torn-<stamp>`` side file."""
    return re.search(re.escape(TORN_MARK) + _STAMP + r"(\.\d+)?$", path.name) is not None


def glob_escape(name: str) -> str:
    """*name* with glob wildcards made literal."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def fsync_dir(folder: Path) -> None:
    """Make a file's creation, rename or removal in *folder* durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Tail:
    """The end of a chain file: its last complete line and what follows it."""

    size: int
    #: Offsets of the last complete line (newline included); ``start == end == 0`` when none.
    start: int
    end: int
    line: bytes


def read_tail(path: Path, size: int | None = None, chunk: int = 1 << 16) -> Tail:
    """The last complete line of the first *size* bytes of *path* (all of it by default)."""
    with path.open("rb") as file:
        size = os.fstat(file.fileno()).st_size if size is None else size
        while True:
            start = max(0, size - chunk)
            file.seek(start)
            data = file.read(size - start)
            end = data.rfind(b"\n")
            begin = data.rfind(b"\n", 0, max(end, 0))
            if start == 0 or begin >= 0:
                break
            chunk *= 2
    if end < 0:
        return Tail(size, 0, 0, b"")
    return Tail(size, start + begin + 1, start + end + 1, data[begin + 1 : end])
