"""``netraven-contracts``: argument parsing and output only; the work is done elsewhere.

Exit status of ``check``: 0 no error-level finding (with ``--fail-on warning``: no warning
either), 1 there is one, 2 usage error, bad configuration, or an internal failure.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exits with 2 too; keep its wording
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def _codes(value: str) -> list[str]:
    return [v for v in (part.strip() for part in value.split(",")) if v]


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .output import FORMATS

    parser = _Parser(prog="netraven-contracts",
                     description="Check that NetRaven job modules honour the job-result contract.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = sub.add_parser("check", help="check job modules (files, or folders walked for job modules)",
                           description="Check job modules. Named files are always checked; folders are "
                                       "walked for the configured job paths (default: *.py directly inside "
                                       "a folder named jobs, except __init__.py and _private.py).")
    check.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: .)")
    check.add_argument("--format", choices=sorted(FORMATS), default="text", help="output format (default: text)")
    check.add_argument("--show-info", action="store_true",
                       help="text, github and sarif output: show info-level findings too (json has them always)")
    check.add_argument("--fail-on", choices=("error", "warning", "info"), default="error",
                       help="lowest severity that makes the exit status 1 (default: error)")
    check.add_argument("--select", type=_codes, metavar="CODES", help="comma-separated codes or prefixes to report")
    check.add_argument("--ignore", type=_codes, metavar="CODES", help="comma-separated codes or prefixes to ignore")
    check.add_argument("--extend-ignore", type=_codes, metavar="CODES", help="add to the configured ignore list")
    check.add_argument("--config", metavar="FILE", help="pyproject.toml to read [tool.netraven-contracts] from")
    check.add_argument("--statistics", action="store_true", help="print the number of findings per code")
    check.add_argument("--fix", action="store_true",
                       help="fix what can be fixed (NRJ003 fall-through, NRJ006, NRJ008, NRJ012) in place, "
                            "then report what remains")
    check.add_argument("--diff", action="store_true", help="print the fixes as a unified diff; write nothing "
                       "(exit 1 when there is something to fix)")
    check.add_argument("--jobs", "-j", type=int, metavar="N", help="processes to use (default: all cores)")
    check.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    check.add_argument("--cache-dir", metavar="DIR", help="where to keep the cache (default: $XDG_CACHE_HOME/"
                       "netraven-contracts, else .netraven_contracts_cache/ in the project)")
    check.add_argument("--quiet", "-q", action="store_true", help="no summary line on stderr")

    explain = sub.add_parser("explain", help="explain a rule, with an example of the fault and of the fix")
    explain.add_argument("code", metavar="CODE")

    rules = sub.add_parser("rules", help="list every rule")
    rules.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return _check(args)
        if args.command == "explain":
            return _explain(args.code)
        if args.command == "rules":
            return _rules(args.format)
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("netraven-contracts: interrupted", file=sys.stderr)
        return 130


def _check(args: argparse.Namespace) -> int:
    from .config import ConfigError, load_settings
    from .output import FORMATS, format_statistics, summary
    from .rules import Severity
    from .runner import check_targets, collect_targets

    if args.jobs is not None and args.jobs < 1:
        print("netraven-contracts: error: --jobs must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    try:
        settings = load_settings(args.config)
        if args.select is not None or args.ignore is not None or args.extend_ignore is not None:
            settings = settings.with_overrides(select=args.select, ignore=args.ignore,
                                               extend_ignore=args.extend_ignore)
    except ConfigError as exc:
        print(f"netraven-contracts: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    targets = collect_targets(args.paths or ["."], settings)
    if not targets:
        print(f"netraven-contracts: error: nothing to check: {', '.join(args.paths or ['.'])} holds no job "
              f"module (job paths: {', '.join(settings.job_paths)}, from {settings.source or 'the defaults'}); "
              "name the files, or set job-paths in [tool.netraven-contracts]", file=sys.stderr)
        return EXIT_ERROR
    if args.fix or args.diff:
        status = _fix(targets, settings, write=not args.diff, quiet=args.quiet)
        if args.diff or status == EXIT_ERROR:
            return status
    cache = None
    if not args.no_cache:
        from .cache import Cache, default_cache_dir

        cache = Cache(args.cache_dir or default_cache_dir(settings))
    result = check_targets(targets, settings, jobs=args.jobs, cache=cache)
    findings = sorted(result.findings, key=lambda f: (f.path, f.line, f.column, f.code, f.message))

    threshold = Severity(args.fail_on).rank
    status = EXIT_ERROR if result.internal_errors else \
        EXIT_FINDINGS if any(f.severity.rank >= threshold for f in findings) else EXIT_OK
    try:
        sys.stdout.write(FORMATS[args.format](findings, args.show_info))
        if args.statistics:  # on stderr where stdout is a document (json, sarif), so it stays parseable
            (sys.stderr if args.format in ("json", "sarif") else sys.stdout).write(format_statistics(findings))
        sys.stdout.flush()
    except BrokenPipeError:  # `check | head`: the reader left; the exit status still tells
        _silence_stdout()
    for error in result.internal_errors:
        print(f"netraven-contracts: {error}", file=sys.stderr)
    if not args.quiet:
        print(summary(findings, result.files, args.show_info or args.format == "json"), file=sys.stderr)
    return status


def _silence_stdout() -> None:
    # Python would report the broken pipe again when it flushes stdout at exit
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _fix(targets: list, settings: object, *, write: bool, quiet: bool) -> int:
    """Apply (or, without ``write``, show as a diff) the fixes; the check that follows reports the rest."""
    import difflib

    from .static.fixes import fix_file

    changed = fixed = 0
    failed = False
    for target in targets:
        try:
            outcome = fix_file(target.path, settings=settings)
        except OSError as exc:
            print(f"netraven-contracts: {target.shown}: cannot fix it ({exc.strerror or exc})", file=sys.stderr)
            failed = True
            continue
        if outcome is None or outcome.source == outcome.fixed:
            continue
        changed += 1
        fixed += len(outcome.applied)
        if write:
            outcome.write()
        else:
            sys.stdout.writelines(difflib.unified_diff(
                outcome.source.splitlines(keepends=True), outcome.fixed.splitlines(keepends=True),
                fromfile=f"a/{target.shown}", tofile=f"b/{target.shown}"))
    if not quiet:
        verb = "Fixed" if write else "Would fix"
        print(f"{verb} {fixed} finding{'s' if fixed != 1 else ''} in {changed} file{'s' if changed != 1 else ''}.",
              file=sys.stderr)
    if failed:
        return EXIT_ERROR
    return EXIT_FINDINGS if (changed and not write) else EXIT_OK


def _explain(code: str) -> int:
    from .ruledocs import explain
    from .rules import get_rule

    try:
        rule = get_rule(code)
    except KeyError as exc:
        print(f"netraven-contracts: error: {exc.args[0]}", file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(explain(rule))
    return EXIT_OK


def _rules(fmt: str) -> int:
    from . import ruledocs

    sys.stdout.write({"text": ruledocs.rules_table, "markdown": ruledocs.rules_markdown,
                      "json": ruledocs.rules_json}[fmt]())
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
