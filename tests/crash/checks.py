"""The invariants the crash sweep holds every point to (the contract in docs/resilience.md).

Audit trail, after the fault and again after a restart and an append:

1. acknowledged => present (``durable: true``; with the default settings, after a clean close,
   or else lost only as counted and sealed/noted);
2. raised => absent (unless ``AuditWriteError.in_doubt`` said the bytes may be there);
3. no sequence number reused, no record duplicated;
4. ``hft audit verify`` exits with a documented code, and the right one for what is on disk;
5. after the restart the trail verifies, gaps only as sealed gap records;
6. the library's counts add up (``written + raised + lost + pending == routed``);
7. the checkpoint never claims more than the trail holds;
8. the trail is unhealthy while writes fail (and never "recovered" under a persistent fault).

A crash point is checked a second time on its power-loss state (:func:`power_loss_state`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from tests.crash.sweep import Fault, Harness, Scenario

VERDICTS = {0: ("INTACT",), 1: ("GAP",), 2: ("UNCONFIRMED", "ERROR"), 3: ("TORN TAIL",)}
_SIDE = re.compile(r"\.torn-")


class Results:
    """The workload's results file, parsed."""

    def __init__(self, path: Path) -> None:
        text = path.read_text() if path.exists() else ""
        self.lines = [line.split(" ") for line in text.splitlines()]
        self.acked = {int(f[1]) for f in self.lines if f[0] == "ack"}
        self.raised = {int(f[1]) for f in self.lines if f[0] == "raised"}
        self.in_doubt = {int(f[1]) for f in self.lines if f[0] == "raised" and f[2] == "1"}
        self.done = ["done"] in self.lines
        self.warnings = [f[1] for f in self.lines if f[0] == "warn"]

    def first(self, word: str) -> list[str] | None:
        """The first line starting with *word* (its fields), if any."""
        return next((f for f in self.lines if f[0] == word), None)

    def numbers(self, word: str) -> list[int | str]:
        """The second field of every line starting with *word*."""
        return [int(f[1]) if f[1].isdigit() else f[1] for f in self.lines if f[0] == word]


def check_point(harness: Harness, scenario: Scenario, fault: Fault, where: Path) -> list[str]:
    """Every invariant for one point (and its power-loss state, for a crash)."""
    run = Results(where / "results-run")
    check = {"audit": _audit, "spool": _spool, "file": _file}[scenario.kind]
    found = check(harness, scenario, fault, where, run, durable_acks=True)
    found += _recovers(scenario, fault, run)
    if fault.action == "crash" and scenario.kind == "audit":
        lost_power = power_loss_state(where)
        acks = scenario.durable and scenario.settings.get("fsync_policy", "every_batch")
        found += [
            f"power loss: {v}"
            for v in _audit(harness, scenario, fault, lost_power, run, durable_acks=bool(acks))
        ]
    return found


def _recovers(scenario: Scenario, fault: Fault, run: Results) -> list[str]:
    """After a transient fault (once, or twice in a row) the writer works again: the last
    call of the run, made at least two calls after the fault, is acknowledged."""
    fired = run.first("fired")
    if fault.action not in ("errno", "short") or fault.span == 0 or fired is None:
        return []
    last = scenario.n - 1
    if int(fired[1]) >= last - 1 or last in run.acked or not run.done:
        return []
    return [f"the writer did not recover from a transient fault: {run.lines[-8:]}"]


# -- the audit trail --------------------------------------------------------------------------


def _audit(
    harness: Harness,
    scenario: Scenario,
    fault: Fault,
    where: Path,
    run: Results,
    *,
    durable_acks: bool,
) -> list[str]:
    folder = where / "d"
    found = [f"after the fault: {v}" for v in _trail(scenario, folder, run, durable_acks)]
    found += _health(fault, run)
    found += _counts(run)
    harness.run(scenario, where, None, phase="restart")
    again = Results(where / "results-restart")
    if again.acked != set(range(3)) or not again.done:
        found.append(f"restart: the writer did not take 3 records: {again.lines}")
    found += [f"after restart: {v}" for v in _trail(scenario, folder, run, durable_acks, again)]
    return found


def _trail(
    scenario: Scenario,
    folder: Path,
    run: Results,
    durable_acks: bool,
    restart: Results | None = None,
) -> list[str]:
    records = trail_records(folder)
    found = _verify(scenario, folder, records, after_restart=restart is not None)
    found += _presence(scenario, records, run, durable_acks)
    if restart is not None:
        mine = {r["fields"]["i"] for r in records if _phase(r) == "restart"}
        if missing := restart.acked - mine:
            found.append(f"restart records acknowledged and missing: {sorted(missing)}")
    found += _unique(records)
    found += _checkpoint_within(folder, records)
    return found


def chain_files(folder: Path) -> list[Path]:
    """Every file of the audit chain (and its side files, checkpoint and note)."""
    return sorted(folder.glob("audit.log*"))


def trail_records(folder: Path) -> list[dict[str, Any]]:
    """The complete lines of every file of the chain, parsed (unparsable ones skipped)."""
    records = []
    for path in chain_files(folder):
        name = path.name
        if name.endswith((".checkpoint", ".lost")) or _SIDE.search(name):
            continue
        for line in path.read_bytes().split(b"\n")[:-1]:
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                records.append({"unparsable": line[:80].decode("ascii", "replace")})
    return records


def _phase(record: dict[str, Any]) -> str | None:
    fields = record.get("fields")
    return fields.get("phase") if isinstance(fields, dict) else None


def expected_code(folder: Path, records: list[dict[str, Any]]) -> int:
    """What verify must say, found from the files on disk alone."""
    files = chain_files(folder)
    if not (folder / "audit.log").exists() and not files:
        return 2  # no trail at all: unreadable
    note = folder / "audit.log.lost"
    noted = note.exists() and note.read_bytes().startswith(b'{"lost":')
    if noted or any(r.get("event") == "audit.gap" for r in records):
        return 1
    if not (folder / "audit.log.checkpoint").exists():
        return 2
    chain = [p for p in files if not p.name.endswith((".checkpoint", ".lost"))]
    torn = any(_SIDE.search(p.name) for p in chain)
    torn |= any(p.stat().st_size and not p.read_bytes().endswith(b"\n") for p in chain)
    return 3 if torn else 0


def _verify(
    scenario: Scenario, folder: Path, records: list[dict[str, Any]], *, after_restart: bool
) -> list[str]:
    files = [str(p) for p in chain_files(folder)] or [str(folder / "audit.log")]
    argv = [sys.executable, "-m", "hft.cli", "audit", "verify", *files]
    if scenario.keyed:
        argv += ["--hmac-key-env", "HFT_AUDIT_HMAC_KEY"]
    env = {**os.environ, "HFT_AUDIT_HMAC_KEY": "sweep-key"}
    env.pop("LD_PRELOAD", None)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    code, want = done.returncode, expected_code(folder, records)
    verdict = done.stdout.split(":", 1)[0]
    found = []
    if code not in VERDICTS or code != want or verdict not in VERDICTS[code]:
        found.append(f"verify exit {code} ({verdict}), expected {want}: {done.stdout[-600:]}")
    if after_restart and want == 2:
        found.append("after restart the end is still unconfirmed (no checkpoint)")
    return found


def _presence(
    scenario: Scenario, records: list[dict[str, Any]], run: Results, durable_acks: bool
) -> list[str]:
    mine = {r["fields"]["i"] for r in records if _phase(r) == "run"}
    found = []
    if appeared := (run.raised - run.in_doubt) & mine:
        found.append(f"records that raised are in the trail: {sorted(appeared)}")
    if scenario.durable and durable_acks:
        if missing := run.acked - mine:
            found.append(f"acknowledged (durable) records missing: {sorted(missing)}")
    elif durable_acks and run.done:
        counts = run.first("counts")
        lost = int(counts[4]) if counts else 0
        if len(run.acked - mine) > lost:
            found.append(f"accepted records missing beyond the {lost} lost: {run.acked - mine}")
    return found


def _unique(records: list[dict[str, Any]]) -> list[str]:
    seqs = Counter(r.get("seq") for r in records)
    calls = Counter((_phase(r), r["fields"].get("i")) for r in records if _phase(r))
    found = [f"seq {s} appears {n} times" for s, n in seqs.items() if n > 1]
    found += [f"record {c} appears {n} times" for c, n in calls.items() if n > 1]
    found += [f"unparsable line: {r['unparsable']}" for r in records if "unparsable" in r]
    return found


def _checkpoint_within(folder: Path, records: list[dict[str, Any]]) -> list[str]:
    path = folder / "audit.log.checkpoint"
    if not path.exists():
        return []
    checkpoint = orjson.loads(path.read_bytes())
    seq = checkpoint["seq"]
    if seq < 0:
        return []
    at = [r for r in records if r.get("seq") == seq]
    if not at or at[0].get("digest") != checkpoint["digest"]:
        return [f"the checkpoint claims seq {seq}, which the trail does not hold"]
    return []


def _health(fault: Fault, run: Results) -> list[str]:
    """Under a persistent fault, once a call raised, the trail is unhealthy and stays so."""
    if fault.action != "errno" or fault.span != 0 or not run.raised:
        return []
    found = []
    state = run.first("state")
    if state is not None and state[1] != "unhealthy":
        found.append(f"writes fail for good, yet the trail says {state[1]}")
    if "audit_trail_recovered" in run.warnings:
        found.append("'audit trail recovered' although every write after the fault failed")
    return found


def _counts(run: Results) -> list[str]:
    counts = run.first("counts")
    if counts is None:
        return []
    routed, written, raised, lost, pending = map(int, counts[1:])
    found = []
    if written + raised + lost + pending != routed:
        found.append(f"counts do not add up: {counts}")
    if raised != len(run.raised):
        found.append(f"raised {raised} counted, {len(run.raised)} calls told")
    return found


# -- the power-loss model -----------------------------------------------------------------------


def power_loss_state(where: Path) -> Path:
    """The folder as a power loss would leave it: the names its last folder fsync made durable,
    each with the content its last file fsync made durable (empty if never synced)."""
    state = where / "power"
    if state.exists():
        shutil.rmtree(state)
    (state / "d").mkdir(parents=True)
    shadow = where / "shadow"
    folder = str(where / "d")
    for listing in sorted(shadow.glob("dir-*.list")):
        head, *entries = listing.read_text().splitlines()
        if head != folder:
            continue
        for entry in entries:
            ino, name = entry.split(" ", 1)
            content = shadow / f"ino-{ino}"
            target = state / "d" / name
            if content.exists():
                shutil.copyfile(content, target)
            else:
                target.touch()
            target.chmod(0o600)
    return state


# -- the syslog spool -----------------------------------------------------------------------------


def _spool(
    harness: Harness,
    scenario: Scenario,
    fault: Fault,
    where: Path,
    run: Results,
    *,
    durable_acks: bool,
) -> list[str]:
    del fault, durable_acks
    harness.run(scenario, where, None, phase="restart")
    again = Results(where / "results-restart")
    replayed = again.numbers("replayed")
    found = [f"corrupt message replayed: {m}" for m in replayed if isinstance(m, str)]
    numbers = [m for m in replayed if isinstance(m, int)]
    sent = {m for m in run.numbers("sent") if isinstance(m, int)}
    found += [f"corrupt message sent: {m}" for m in run.numbers("sent") if isinstance(m, str)]
    if appeared := (run.raised & set(numbers)) - run.acked:
        found.append(f"messages whose append raised were replayed: {sorted(appeared)}")
    if missing := run.acked - sent - set(numbers):
        found.append(f"spooled messages neither sent nor replayed: {sorted(missing)}")
    if numbers != sorted(numbers):
        found.append(f"replayed out of order: {numbers}")
    if not again.done:
        found.append(f"the spool did not reopen: {again.lines}")
    return found


# -- the JSON file's rotation -------------------------------------------------------------------


def _file(
    harness: Harness,
    scenario: Scenario,
    fault: Fault,
    where: Path,
    run: Results,
    *,
    durable_acks: bool,
) -> list[str]:
    del fault, durable_acks
    folder = where / "d"
    found = [f"after the fault: {v}" for v in _lines(folder, run, torn_end_ok=True)]
    harness.run(scenario, where, None, phase="restart")
    again = Results(where / "results-restart")
    found += [f"after restart: {v}" for v in _lines(folder, run, torn_end_ok=False)]
    if again.acked != set(range(3)):
        found.append(f"restart: the backend did not take 3 records: {again.lines}")
    return found


def _lines(folder: Path, run: Results, *, torn_end_ok: bool) -> list[str]:
    from hft.logging.backends.rotated import UNREADABLE, read_rotated, rotated_groups

    found, seen = [], Counter[tuple[str, int]]()
    live = folder / "app.log"  # read as a reader does: each rotation once, never a .tmp
    for path in [*rotated_groups(live), *([live] if live.exists() else [])]:
        try:
            data = b"".join(read_rotated(path))
        except UNREADABLE as exc:
            found.append(f"{path.name} cannot be read: {exc!r}")
            continue
        lines = data.split(b"\n")
        if lines[-1] and not (torn_end_ok and path.name == "app.log"):
            found.append(f"{path.name} ends in a torn line")
        for line in lines[:-1]:
            try:
                fields = orjson.loads(line)["fields"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                found.append(f"{path.name}: unparsable line {line[:60]!r}")
                continue
            seen[(fields["phase"], fields["i"])] += 1
    mine = {i for phase, i in seen if phase == "run"}
    found += [f"line {k} written {n} times" for k, n in seen.items() if n > 1]
    if missing := run.acked - mine:
        found.append(f"written (acknowledged) lines missing: {sorted(missing)}")
    if appeared := run.raised & mine - run.acked:
        found.append(f"lines whose write raised are in the file: {sorted(appeared)}")
    return found
