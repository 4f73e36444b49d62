"""The ``hft`` command: ``run``, ``config show|validate``, ``audit verify``, ``level``, ``init``,
``logs cat|tail``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from hft.config import ConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hft", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def with_env(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--env", help="environment: dev, prod, … (default: $HFT_ENV or dev)")
        p.add_argument("--settings-dir", help="folder with base.yaml and <env>.yaml")
        return p

    run = with_env(commands.add_parser("run", help="run the trading app (simulated exchanges)"))
    run.add_argument("--duration", type=_positive, default=5.0, help="seconds to run (default 5)")

    config = commands.add_parser("config", help="inspect the settings")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    with_env(config_commands.add_parser("show", help="effective settings and where each came from"))
    validate = with_env(config_commands.add_parser("validate", help="check the settings"))
    validate.add_argument(
        "--check",
        action="store_true",
        help="also try what the settings name (paths, ports) without starting anything",
    )
    _audit_parser(commands)
    _level_parser(commands)
    _logs_parser(commands)
    init = commands.add_parser("init", help="write a starter settings/ (base, dev, prod)")
    init.add_argument("--dir", default="settings", help="where (default: ./settings)")
    init.add_argument("--force", action="store_true", help="replace files that exist")
    return parser


def _positive(text: str) -> float:
    """An argparse type: a finite number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _audit_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="check the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify",
        help="verify hash chains up to their checkpoint; exit 0 intact, 1 tampered, gap or"
        " truncated, 2 usage error or end unconfirmed, 3 torn tail, 4 not an audit trail",
    )
    verify.add_argument("paths", nargs="+", metavar="PATH", help="audit files of one chain")
    verify.add_argument(
        "--hmac-key-env", metavar="NAME", help="variable holding the HMAC key of a keyed chain"
    )
    end = verify.add_mutually_exclusive_group()
    end.add_argument(
        "--checkpoint", metavar="PATH", help="checkpoint to hold the end against (default: beside)"
    )
    end.add_argument(
        "--no-checkpoint", action="store_true", help="check the chain alone, not its end"
    )
    verify.add_argument("--expect-seq", type=int, metavar="N", help="the chain's last seq")
    verify.add_argument("--expect-digest", metavar="HEX", help="the digest of record N")


def _level_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    level = commands.add_parser(
        "level",
        help="list a running process's logger levels, or set one (its control socket)",
        description="Without PREFIX LEVEL: list the levels in force and each logger's. With"
        " them: put loggers under PREFIX ('' is the root) at LEVEL (NOTSET: remove PREFIX).",
    )
    level.add_argument("--pid", type=int, required=True, help="the hft process")
    level.add_argument("--runtime-dir", help="its logging.control.runtime_dir, if set")
    level.add_argument("prefix", nargs="?", metavar="PREFIX", help="logger-name prefix")
    level.add_argument("level", nargs="?", metavar="LEVEL", help="DEBUG … CRITICAL, or NOTSET")


def _logs_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    logs = commands.add_parser("logs", help="read the JSON logs hft wrote: cat, tail [-f]")
    logs_commands = logs.add_subparsers(dest="logs_command", required=True)
    cat = logs_commands.add_parser("cat", help="print logs (rotated and compressed files in order)")
    tail = logs_commands.add_parser("tail", help="print the last lines, -f: then follow")
    tail.add_argument("-n", "--lines", type=_count, default=10, help="how many (default 10)")
    tail.add_argument("-f", "--follow", action="store_true", help="then print lines as they come")
    for command in (cat, tail):
        command.add_argument(
            "paths", nargs="+", metavar="PATH", help="log file, rotated file, folder"
        )
        command.add_argument("--level", help="this level and above (DEBUG … CRITICAL)")
        command.add_argument("--logger", metavar="PREFIX", help="this logger and those under it")
        command.add_argument("--since", metavar="TIME", help="from TIME: ISO 8601 or an age (10m)")
        command.add_argument("--until", metavar="TIME", help="before TIME: ISO 8601 or an age (1h)")
        command.add_argument("--grep", metavar="REGEX", help="messages REGEX matches (re.search)")
        command.add_argument(
            "--field", action="append", default=[], metavar="K=V", help="a field's value (AND)"
        )
        command.add_argument(
            "--format",
            choices=("pretty", "json"),
            default="pretty",
            help="pretty: the console's line (default); json: each line as it is on disk",
        )
        command.add_argument(
            "--color",
            choices=("auto", "always", "never"),
            default="auto",
            help="colour pretty lines (auto: on a terminal)",
        )
        command.add_argument("--merge", action="store_true", help="interleave logs by time")


def _count(text: str) -> int:
    """An argparse type: a number of lines, 0 or more."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a number of lines: {text!r}")
    return int(text)


def _logs(args: argparse.Namespace) -> int:
    from hft.logging.reader.command import run

    return run(args)


def _level(args: argparse.Namespace) -> int:
    from hft.logging.control import ControlError, request

    if (args.prefix is None) != (args.level is None):
        print("hft: level: give PREFIX and LEVEL together, or neither to list", file=sys.stderr)
        return 2
    message = {"op": "list"}
    if args.prefix is not None:
        message = {"op": "set", "prefix": args.prefix, "level": args.level}
    try:
        reply = request(args.pid, message, args.runtime_dir)
    except ControlError as exc:
        print(f"hft: level: {exc}", file=sys.stderr)
        return 2
    if not reply.get("ok"):
        print(f"hft: level: pid {args.pid}: {reply.get('error')}", file=sys.stderr)
        return 1
    print(_render_levels(args.pid, reply["pipelines"]))
    return 0


_ROOT = '"" (root)'


def _render_levels(pid: int, pipelines: list[dict[str, dict[str, str]]]) -> str:
    """The levels of each pipeline of process *pid*, as ``hft level`` prints them."""
    lines = []
    for number, pipeline in enumerate(pipelines, 1):
        lines.append(f"pid {pid}" + (f", pipeline {number}:" if len(pipelines) > 1 else ":"))
        lines.append("  levels (prefix -> level, longest prefix wins):")
        levels = pipeline["levels"] or {"(none)": "backend levels only"}
        lines += [f"    {prefix or _ROOT:<30} {name}" for prefix, name in levels.items()]
        lines.append("  loggers (name -> lowest level that makes a record):")
        lines += [f"    {name:<30} {level}" for name, level in pipeline["loggers"].items()]
    return "\n".join(lines) if lines else f"pid {pid}: no pipeline serves the control channel"


def _run(args: argparse.Namespace) -> int:
    from hft.app.main_job import run_trading_app
    from hft.app.summary import format_run_report
    from hft.containers import create_application

    application = create_application(args.env, args.settings_dir)
    started = time.monotonic()
    try:
        report = run_trading_app(application, args.duration)
    except ConfigError:
        raise  # a setting that cannot be honoured: reported by main() like any other
    except ValueError as exc:  # a backend the settings enable but this build cannot make
        print(f"hft: cannot start: {exc}", file=sys.stderr)
        return 2
    print(format_run_report(report, time.monotonic() - started))
    return 130 if report.interrupted else 0


def _config(args: argparse.Namespace) -> int:
    from hft.config import LoggingConfigManager
    from hft.config._render import describe_sources, render_config_show

    manager = LoggingConfigManager(args.env, args.settings_dir)
    if args.config_command == "show":
        print(render_config_show(manager))
        return 0
    if args.check:
        from hft.logging.preflight import check_resources

        if problems := check_resources(manager.get_logging_config()):
            raise ConfigError(problems)
    print(f"OK: {describe_sources(manager)}{' (paths and ports checked)' if args.check else ''}")
    return 0


def _audit(args: argparse.Namespace) -> int:
    import os

    from hft.logging import verify_audit_files

    key = None
    if args.hmac_key_env:
        key = os.environ.get(args.hmac_key_env)
        if not key:
            print(f"hft: audit: variable {args.hmac_key_env} is not set", file=sys.stderr)
            return 2
    if (args.expect_seq is None) != (args.expect_digest is None):
        print("hft: audit: --expect-seq and --expect-digest go together", file=sys.stderr)
        return 2
    expect = None if args.expect_seq is None else (args.expect_seq, args.expect_digest)
    try:
        report = verify_audit_files(
            args.paths,
            key,
            checkpoint=args.checkpoint,
            expect=expect,
            find_checkpoint=not args.no_checkpoint,
        )
    except ValueError as exc:
        print(f"hft: audit: {exc}", file=sys.stderr)
        return 2
    print(report.render())
    return report.exit_code


def _init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from hft.config._starter import write_starter_settings

    for path in write_starter_settings(Path(args.dir), force=args.force):
        print(f"wrote {path}")
    print("next: edit them, then `hft config validate --check` and `hft run`")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hft`` console script."""
    args = _parser().parse_args(argv)
    handlers = {
        "run": _run,
        "config": _config,
        "audit": _audit,
        "level": _level,
        "logs": _logs,
        "init": _init,
    }
    try:
        return handlers[args.command](args)
    except ConfigError as exc:
        print(f"hft: configuration error:\n{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
