"""``netraven``: the worker's command line. Argument parsing, output and exit statuses only.

Exit statuses (documented in ``docs/worker.md``):

* 0 - done; every device's row is a success (``run``), no module rejected (``jobs list``)
* 1 - done, with failures: a device's row is a failure, a job module was rejected, or replay
  kept records the database refused
* 2 - usage: bad arguments, unknown device or job type, bad database URL or configuration file
* 3 - database: unreachable, not initialised, or results had to be spooled (``run``); the
  message says what to do
* 4 - internal error (a bug): one line, the traceback only with ``--debug``
* 130 - interrupted (Ctrl-C); devices without a row got one saying so
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, TextIO

EXIT_OK: Final = 0
EXIT_FAILURES: Final = 1
EXIT_USAGE: Final = 2
EXIT_DATABASE: Final = 3
EXIT_INTERNAL: Final = 4
EXIT_INTERRUPTED: Final = 130

logger = logging.getLogger("netraven")


class UsageError(Exception):
    """Reported as ``netraven: error: ...`` with exit status 2."""


# -- parsing ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    # Global options are accepted before and after the command: the subparsers' copies default
    # to SUPPRESS so they never overwrite a value given before the command.
    def common(suppress: bool) -> argparse.ArgumentParser:
        default: Any = argparse.SUPPRESS if suppress else None
        p = argparse.ArgumentParser(add_help=False)
        p.add_argument("--db", metavar="URL", default=default,
                       help="database URL (default: $NETRAVEN_DATABASE_URL, else "
                            "sqlite:///netraven.db in the working directory)")
        p.add_argument("-v", "--verbose", action="count",
                       default=argparse.SUPPRESS if suppress else 0,
                       help="log more (-vv: debug)")
        p.add_argument("--debug", action="store_true",
                       default=argparse.SUPPRESS if suppress else False,
                       help="show the traceback of an internal error")
        return p

    parser = argparse.ArgumentParser(
        prog="netraven", parents=[common(False)],
        description="NetRaven worker: inventory, job registry, dispatcher and job results.",
        epilog="exit statuses: 0 ok, 1 failures or rejected modules, 2 usage, 3 database "
               "unavailable or results spooled, 4 internal error, 130 interrupted")
    from netraven_contracts import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    shared = [common(True)]

    db = commands.add_parser("db", parents=shared, help="database schema")
    db_commands = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    db_commands.add_parser("init", parents=shared,
                           help="create the tables that do not exist yet (idempotent)")

    devices = commands.add_parser("devices", parents=shared, help="the device inventory")
    device_commands = devices.add_subparsers(dest="devices_command", metavar="COMMAND",
                                             required=True)
    add = device_commands.add_parser("add", parents=shared, help="add a device")
    add.add_argument("--hostname", required=True)
    add.add_argument("--ip", required=True, metavar="ADDRESS", help="IPv4 or IPv6 address")
    add.add_argument("--type", required=True, dest="device_type", metavar="TYPE",
                     help="netmiko device type, e.g. cisco_ios, juniper_junos, linux")
    add.add_argument("--port", type=int, default=22, help="SSH port (default 22)")
    add.add_argument("--username", help="SSH user (else ssh.username of the configuration)")
    add.add_argument("--serial-number")
    add.add_argument("--model")
    add.add_argument("--description")
    listing = device_commands.add_parser("list", parents=shared, help="list devices")
    listing.add_argument("--format", choices=("text", "json"), default="text")

    jobs = commands.add_parser("jobs", parents=shared, help="the job registry")
    job_commands = jobs.add_subparsers(dest="jobs_command", metavar="COMMAND", required=True)
    jobs_list = job_commands.add_parser(
        "list", parents=shared,
        help="registered job types with their JOB_META, and every rejected module with its codes")
    jobs_list.add_argument("--format", choices=("text", "json"), default="text")
    _add_registry_options(jobs_list)

    run = commands.add_parser("run", parents=shared,
                              help="run one job type over devices; one result row per device")
    run.add_argument("job_type", metavar="JOB_TYPE")
    targets = run.add_mutually_exclusive_group(required=True)
    targets.add_argument("--device", action="extend", nargs="+", metavar="HOST",
                         dest="devices", help="hostname(s) of the devices to run on")
    targets.add_argument("--all", action="store_true", help="run on every device")
    run.add_argument("--timeout", type=_positive_float, metavar="SECONDS",
                     help="time limit per device (default: worker.job_timeout, 60)")
    run.add_argument("--pool-size", type=_positive_int, metavar="N",
                     help="devices at a time (default: worker.thread_pool_size, 5)")
    run.add_argument("--config", metavar="FILE",
                     help="JSON file merged over the default worker configuration")
    run.add_argument("--spool", metavar="FILE",
                     help="where results go when the database stays down (default: "
                          "$NETRAVEN_SPOOL, else netraven-spool.jsonl)")
    run.add_argument("--db-retry", type=_positive_float, metavar="SECONDS",
                     help="how long a write is retried before it is spooled "
                          "(default: worker.db_retry_seconds, 20)")
    _add_registry_options(run)

    results = commands.add_parser("results", parents=shared, help="stored job results")
    results.add_argument("--job", type=int, metavar="ID", help="only the results of run ID")
    results.add_argument("--device", metavar="HOST", help="only the results of one device")
    results.add_argument("--format", choices=("text", "json"), default="text")
    result_commands = results.add_subparsers(dest="results_command", metavar="COMMAND")
    replay = result_commands.add_parser(
        "replay", parents=shared, help="write the spooled results once the database is back")
    replay.add_argument("--spool", metavar="FILE",
                        help="the spool file (default: $NETRAVEN_SPOOL, else netraven-spool.jsonl)")
    replay.add_argument("--db-retry", type=_positive_float, default=5.0, metavar="SECONDS",
                        help="how long to retry an unreachable database (default 5)")
    return parser


def _add_registry_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs-dir", metavar="DIR",
                        help="folder of job modules (default: the package netraven.worker.jobs)")
    parser.add_argument("--dry-run-timeout", type=_positive_float, metavar="SECONDS",
                        help="time limit of each module's dry-run scenarios")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


# -- entry point -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    from netraven.config import ConfigError
    from netraven.db.engine import DatabaseError, DatabaseURLError
    from netraven.worker.inventory import InventoryError
    from netraven.worker.job_registry import RegistryError

    try:
        return _dispatch_command(args)
    except (UsageError, DatabaseURLError, ConfigError, InventoryError, RegistryError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    except DatabaseError as exc:
        _error(str(exc))
        return EXIT_DATABASE
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `netraven results | head`
        return EXIT_OK
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        _error(f"internal error: {type(exc).__name__}: {exc}"
               + ("" if args.debug else " (run with --debug for the traceback)"))
        return EXIT_INTERNAL


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("netraven: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _error(message: str) -> None:
    print(f"netraven: error: {message}", file=sys.stderr)


def _dispatch_command(args: argparse.Namespace) -> int:
    if args.command == "db":
        return cmd_db_init(args)
    if args.command == "devices":
        return cmd_devices_add(args) if args.devices_command == "add" else cmd_devices_list(args)
    if args.command == "jobs":
        return cmd_jobs_list(args)
    if args.command == "run":
        return cmd_run(args)
    if getattr(args, "results_command", None) == "replay":
        return cmd_results_replay(args)
    return cmd_results(args)


def _engine(args: argparse.Namespace, *, pool_size: int = 5, check_schema: bool = True) -> Any:
    from netraven.db.engine import (SchemaMissing, create_db_engine, display_url, ensure_schema,
                                    resolve_database_url)

    url = resolve_database_url(args.db)
    sqlite_file = url.database if url.get_backend_name() == "sqlite" else None
    if check_schema and sqlite_file not in (None, "", ":memory:") \
            and not Path(sqlite_file).exists():  # type: ignore[arg-type]
        # Connecting would create an empty file where the user mistyped a path.
        raise SchemaMissing(f"{display_url(url)}: no such database file; create it with "
                            "`netraven db init`")
    engine = create_db_engine(url, pool_size=pool_size)
    if check_schema:
        ensure_schema(engine)
    return engine


# -- commands --------------------------------------------------------------------------------------


def cmd_db_init(args: argparse.Namespace) -> int:
    from netraven.db.engine import display_url, init_db

    engine = _engine(args, check_schema=False)
    tables = init_db(engine)
    print(f"database ready: {display_url(engine.url)} (tables: {', '.join(tables)})")
    return EXIT_OK


def cmd_devices_add(args: argparse.Namespace) -> int:
    from netraven.worker.inventory import add_device

    engine = _engine(args)
    device = add_device(engine, hostname=args.hostname, ip_address=args.ip,
                        device_type=args.device_type, port=args.port, username=args.username,
                        serial_number=args.serial_number, model=args.model,
                        description=args.description)
    print(f"added device {device.hostname} (id {device.id}, {device.ip_address}, "
          f"{device.device_type})")
    return EXIT_OK


def cmd_devices_list(args: argparse.Namespace) -> int:
    from netraven.worker.inventory import list_devices

    devices = list_devices(_engine(args))
    if args.format == "json":
        fields = ("id", "hostname", "ip_address", "device_type", "port", "username",
                  "serial_number", "model", "description")
        _print_json([{name: getattr(d, name) for name in fields} for d in devices])
        return EXIT_OK
    if not devices:
        print("no devices; add one with `netraven devices add --hostname H --ip A --type T`")
        return EXIT_OK
    _print_table(["ID", "HOSTNAME", "IP ADDRESS", "TYPE", "PORT"],
                 [[str(d.id), d.hostname, d.ip_address, d.device_type, str(d.port)]
                  for d in devices])
    return EXIT_OK


def _load_registry(args: argparse.Namespace, job_types: Sequence[str] | None = None) -> Any:
    from netraven.worker.job_registry import load_registry

    source = None
    if args.jobs_dir is not None:
        source = Path(args.jobs_dir)
        if not source.is_dir():
            raise UsageError(f"--jobs-dir {args.jobs_dir}: not a folder")
    return load_registry(source, job_types=job_types, dry_run_timeout=args.dry_run_timeout)


def cmd_jobs_list(args: argparse.Namespace) -> int:
    registry = _load_registry(args)
    if args.format == "json":
        _print_json(registry.as_dict())
    else:
        print(f"registered job types ({len(registry.registered)}):")
        for job in registry.registered.values():
            meta = job.meta
            print(f"  {job.job_type:<20} {meta.get('label', '')} "
                  f"[{meta.get('default_schedule', '')}]  {job.path}")
            for warning in job.warnings:
                print(f"      warning {warning.code}: {warning.message}")
        print(f"rejected job modules ({len(registry.rejected)}):")
        for module in registry.rejected:
            print(f"  {module.path}: {', '.join(module.codes) or 'rejected'}")
            for finding in module.findings:
                if finding.severity.value != "info":
                    where = f" (line {finding.line})" if finding.line else ""
                    print(f"      {finding.severity.value} {finding.code}{where} "
                          f"[{finding.source}]: {finding.message}")
    return EXIT_FAILURES if registry.rejected else EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from netraven.config import load_config
    from netraven.db.engine import display_url
    from netraven.worker.dispatcher import run_job
    from netraven.worker.inventory import load_devices
    from netraven.worker.result_store import RetryPolicy
    from netraven.worker.spool import Spool, default_spool_path

    config = load_config(args.config)
    worker = config["worker"]
    pool_size = args.pool_size or int(worker["thread_pool_size"])
    timeout = args.timeout or float(worker["job_timeout"])
    retry = RetryPolicy(seconds=args.db_retry or float(worker["db_retry_seconds"]))
    spool = Spool(default_spool_path(args.spool))

    # The database first: a down database is reported before the slower registry work.
    engine = _engine(args, pool_size=pool_size + 2)
    devices = load_devices(engine, None if args.all else args.devices)
    if not devices:
        print("no devices in the inventory; nothing to run "
              "(add one with `netraven devices add --hostname H --ip A --type T`)")
        return EXIT_OK

    registry = _load_registry(args, job_types=[args.job_type])
    job = registry.get(args.job_type)
    if job is None:
        rejected = registry.rejection(args.job_type)
        if rejected is not None:
            where = f" --jobs-dir {args.jobs_dir}" if args.jobs_dir else ""
            _error(f"job type {args.job_type!r} was rejected by the registry "
                   f"({rejected.summary()}); see `netraven jobs list{where}`")
            return EXIT_FAILURES
        available = ", ".join(_load_job_types(args)) or "none"
        raise UsageError(f"unknown job type {args.job_type!r}; job modules found: {available} "
                         "(`netraven jobs list` says which are registered)")

    out = sys.stdout

    def show(outcome: Any) -> None:
        name = f"{outcome.hostname} (id {outcome.device_id})"
        if outcome.ok:
            out.write(f"success  {name}\n")
        else:
            codes = f"{' '.join(outcome.codes)} " if outcome.codes else ""
            out.write(f"failure  {name}: {codes}{outcome.message}\n")
        out.flush()

    report = run_job(engine, job, devices, config=config, pool_size=pool_size,
                     timeout=timeout, spool=spool, retry=retry,
                     batch_size=int(worker["batch_size"]), on_outcome=show,
                     name=str(job.meta.get("label") or job.job_type))
    _print_run_summary(report, out)
    if report.spooled or not report.status_recorded or report.store.lost:
        _error(f"the database at {display_url(engine.url)} is unavailable: "
               f"{report.spooled} result(s) wait in the spool {spool.path}"
               + ("" if report.status_recorded else " with the run's status")
               + "; run `netraven results replay` once it is back"
               + (f"; {report.store.lost} result(s) could not be spooled either (see the log)"
                  if report.store.lost else ""))
        return EXIT_DATABASE
    return EXIT_OK if report.dispatch.failed == 0 else EXIT_FAILURES


def _load_job_types(args: argparse.Namespace) -> list[str]:
    from netraven.worker.job_registry import discover

    return sorted({c.job_type for c in discover(Path(args.jobs_dir) if args.jobs_dir else None)})


def _print_run_summary(report: Any, out: TextIO) -> None:
    summary = report.dispatch
    store = report.store
    parts = [f"{summary.total} device{'s' if summary.total != 1 else ''}",
             f"{summary.succeeded} success", f"{summary.failed} failure"]
    if summary.codes:
        parts.append("codes " + ", ".join(f"{code} x{n}"
                                          for code, n in sorted(summary.codes.items())))
    if summary.warnings:
        parts.append("warnings " + ", ".join(f"{code} x{n}" for code, n in
                                             sorted(summary.warnings.items())))
    stored = f"{store.stored + store.substituted} row(s) stored"
    if store.spooled:
        stored += f", {store.spooled} spooled"
    if summary.abandoned_threads:
        parts.append(f"{summary.abandoned_threads} hung call(s) abandoned")
    out.write(f"{report.job_type} run {report.job_id} ({report.status}): {'; '.join(parts)}; "
              f"{stored}\n")
    out.flush()


def cmd_results(args: argparse.Namespace) -> int:
    from sqlalchemy import select
    from sqlalchemy import exc as sa_exc
    from sqlalchemy.orm import Session

    from netraven.db.engine import as_database_error
    from netraven.db.models import Device, JobResult

    engine = _engine(args)
    statement = (select(JobResult, Device.hostname)
                 .outerjoin(Device, Device.id == JobResult.device_id)
                 .order_by(JobResult.id))
    if args.job is not None:
        statement = statement.where(JobResult.job_id == args.job)
    if args.device is not None:
        statement = statement.where(Device.hostname == args.device)
        with Session(engine) as session:
            try:
                known = session.scalar(select(Device.id).where(Device.hostname == args.device))
            except sa_exc.SQLAlchemyError as exc:
                raise as_database_error(exc, engine) from exc
        if known is None:
            raise UsageError(f"unknown device {args.device!r}; `netraven devices list` shows the inventory")
    try:
        with Session(engine) as session:
            rows = [{"id": r.id, "job_id": r.job_id, "device_id": r.device_id,
                     "hostname": hostname, "job_type": r.job_type, "status": r.status,
                     "result_time": r.result_time.isoformat(), "details": r.details}
                    for r, hostname in session.execute(statement)]
    except sa_exc.SQLAlchemyError as exc:
        raise as_database_error(exc, engine) from exc
    if args.format == "json":
        _print_json(rows)
        return EXIT_OK
    if not rows:
        print("no results")
        return EXIT_OK
    _print_table(["ID", "JOB", "DEVICE", "TYPE", "STATUS", "TIME", "DETAILS"],
                 [[str(r["id"]), str(r["job_id"]), f"{r['hostname']} ({r['device_id']})",
                   r["job_type"], r["status"], r["result_time"][:19], _summary(r["details"])]
                  for r in rows])
    return EXIT_OK


def _summary(details: Any, limit: int = 60) -> str:
    if isinstance(details, dict) and "error" in details:
        codes = details.get("codes") or []
        text = f"{' '.join(codes)} {details['error']}".strip()
    else:
        text = json.dumps(details, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cmd_results_replay(args: argparse.Namespace) -> int:
    from netraven.worker.result_store import RetryPolicy, replay_spool
    from netraven.worker.spool import Spool, default_spool_path

    spool = Spool(default_spool_path(args.spool))
    if not spool.exists():
        print(f"nothing to replay: {spool.path} is empty or absent")
        return EXIT_OK
    engine = _engine(args)
    report = replay_spool(engine, spool, retry=RetryPolicy(seconds=args.db_retry))
    print(f"replayed {spool.path}: {report.stored} result(s) stored, {report.duplicates} "
          f"already present, {report.substituted} stored as failure rows, "
          f"{report.statuses} run status(es) set; {report.kept} record(s) kept")
    for problem in report.problems:
        _error(problem)
    return EXIT_FAILURES if report.kept else EXIT_OK


# -- output helpers --------------------------------------------------------------------------------


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for line in [headers, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
