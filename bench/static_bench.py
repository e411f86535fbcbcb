"""Speed of the static checker, next to libcst's bare parse and flake8, in one run.

    python bench/static_bench.py --files 500

Generates N realistic job modules (bench/jobgen.py: 260-340 lines, about 80% compliant) in a
temporary folder and reports, for the same files:

* libcst parse only, one process (and divided by the usable cores: the floor for a parallel run);
* ``netraven-contracts check`` cold (``--no-cache``), all cores and ``--jobs 1``;
* ``netraven-contracts check`` warm (second run with the cache);
* ``flake8`` (pyflakes + pycodestyle, its default process pool);
* one file, interpreter start included: ``netraven-contracts check FILE`` (cold and cached) and
  ``flake8 FILE``;
* Fixit running a one-visitor rule (dict literals returned from ``run`` without ``success`` or
  ``device_id``), the least such a check costs in Fixit, when ``fixit`` is installed.

Wall times are the median of ``--repeat`` runs. This machine is noisy: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import jobgen  # noqa: E402

FIXIT_RULE = '''
import libcst as cst
from fixit import LintRule


class ReturnedDictHasSuccessAndDeviceId(LintRule):
    """A dict literal returned from run() must have "success" and "device_id"."""

    def __init__(self):
        super().__init__()
        self.in_run = 0

    def visit_FunctionDef(self, node):
        if node.name.value == "run":
            self.in_run += 1

    def leave_FunctionDef(self, node):
        if node.name.value == "run":
            self.in_run -= 1

    def visit_Return(self, node):
        if self.in_run and isinstance(node.value, cst.Dict):
            keys = {e.key.evaluated_value for e in node.value.elements
                    if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)}
            if not {"success", "device_id"} <= keys:
                self.report(node, "result lacks success or device_id")
'''


def _median_wall(command: list[str], repeat: int, cwd: Path, env: dict[str, str] | None = None,
                 before=None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _parse_all(paths: list[Path]) -> float:
    import libcst as cst

    texts = [p.read_text() for p in paths]
    start = time.perf_counter()
    for text in texts:
        cst.parse_module(text)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated corpus")
    args = parser.parse_args()

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    bindir = Path(sys.executable).parent
    # an installed package has its bytecode compiled (flake8's was, by pip); an editable checkout
    # may not, and PYTHONDONTWRITEBYTECODE would keep it that way: compile it, as pip would
    import compileall

    import netraven_contracts

    compileall.compile_dir(str(Path(netraven_contracts.__file__).parent), quiet=1)
    checker = [str(bindir / "netraven-contracts")]
    flake8 = [str(bindir / "flake8")]
    workdir = Path(tempfile.mkdtemp(prefix="nrj-bench-"))
    jobs = workdir / "jobs"
    paths = jobgen.generate(jobs, args.files)
    lines = sum(len(p.read_text().splitlines()) for p in paths)
    env = dict(os.environ, XDG_CACHE_HOME=str(workdir / "xdg"))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cache_dir = workdir / "xdg"

    def drop_cache() -> None:
        shutil.rmtree(cache_dir, ignore_errors=True)

    rows: list[tuple[str, float, float | None]] = []
    parse = min(_parse_all(paths) for _ in range(args.repeat))
    rows.append(("libcst parse only, 1 process", parse, None))
    rows.append((f"libcst parse only / {cores} cores (floor)", parse / cores, None))
    cold = _median_wall(checker + ["check", "--no-cache", "-q", "jobs"], args.repeat, workdir, env)
    rows.append((f"netraven-contracts check, cold, {cores} processes", cold, None))
    cold1 = _median_wall(checker + ["check", "--no-cache", "--jobs", "1", "-q", "jobs"], args.repeat, workdir, env)
    rows.append(("netraven-contracts check, cold, --jobs 1", cold1, None))
    drop_cache()
    subprocess.run(checker + ["check", "-q", "jobs"], cwd=workdir, stdout=subprocess.DEVNULL, env=env)
    warm = _median_wall(checker + ["check", "-q", "jobs"], args.repeat, workdir, env)
    rows.append(("netraven-contracts check, warm cache", warm, None))
    flake = _median_wall(flake8 + ["jobs"], args.repeat, workdir, env)
    rows.append(("flake8 (default plugins)", flake, None))

    one = str(paths[0].relative_to(workdir))
    single_cold = _median_wall(checker + ["check", "--no-cache", "-q", one], max(args.repeat, 5), workdir, env)
    subprocess.run(checker + ["check", "-q", one], cwd=workdir, stdout=subprocess.DEVNULL, env=env)
    single_warm = _median_wall(checker + ["check", "-q", one], max(args.repeat, 5), workdir, env)
    single_flake = _median_wall(flake8 + [one], max(args.repeat, 5), workdir, env)

    fixit_all = fixit_one = None
    if shutil.which("fixit", path=str(bindir)):
        (workdir / "nrjbench_rule.py").write_text(FIXIT_RULE)
        (workdir / "pyproject.toml").write_text(
            '[tool.fixit]\nroot = true\ndisable = ["fixit.rules"]\nenable = [".nrjbench_rule"]\n')
        fixit = [str(bindir / "fixit"), "lint"]
        fixit_env = dict(env, PYTHONPATH=str(workdir))
        fixit_all = _median_wall(fixit + ["jobs"], args.repeat, workdir, fixit_env)
        fixit_one = _median_wall(fixit + [one], max(args.repeat, 5), workdir, fixit_env)
        rows.append(("fixit lint, one-visitor rule", fixit_all, None))

    print(f"{args.files} job modules, {lines} lines, {cores} usable cores, median of {args.repeat} runs\n")
    print("| what | seconds | files/s |")
    print("|---|---:|---:|")
    for name, seconds, _ in rows:
        print(f"| {name} | {seconds:.2f} | {args.files / seconds:,.0f} |")
    print()
    print(f"cold run / parse floor: {cold / (parse / cores):.2f}x (target <= 1.5x)")
    print(f"cold run / warm run: {cold / warm:.1f}x (target >= 20x)")
    print()
    print("| one file, interpreter start included | seconds |")
    print("|---|---:|")
    print(f"| netraven-contracts check FILE (cold) | {single_cold:.3f} |")
    print(f"| netraven-contracts check FILE (cached) | {single_warm:.3f} |")
    print(f"| flake8 FILE | {single_flake:.3f} |")
    if fixit_one is not None:
        print(f"| fixit lint FILE (one-visitor rule) | {fixit_one:.3f} |")
    print()
    print(f"single file, cold / flake8: {single_cold / single_flake:.2f}x (target <= 2x)")
    if args.keep:
        print(f"\ncorpus kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
