"""The pre-commit hooks, through real `pre-commit` in a subprocess.

A hook repository is built from this checkout (its package and `.pre-commit-hooks.yaml`,
committed in a temporary git repository, so uncommitted work is what gets tested), and a user's
repository points at it by path and commit (`repo: <path>`, `rev: <sha>`), as a project using the
hooks would point at the published repository. pre-commit builds the hook's virtualenv once per
module (`PRE_COMMIT_HOME` under a temporary folder; pip's own download cache is the user's, so
only the first run on a machine downloads the dependencies).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pre_commit.clientlib import load_manifest

from netraven_contracts.config import Settings
from netraven_contracts.static import check_file

ROOT = Path(__file__).resolve().parent.parent.parent
CORPUS = ROOT / "tests" / "data" / "corpus" / "static"
FAULTY = CORPUS / "s02_except_without_device_id.py"  # NRJ006 (error) and NRJ012 (warning) on line 9, both fixable
UNFIXABLE = CORPUS / "s06_returns_bool.py"  # NRJ004: no automatic fix
HOOK_REPO_CONTENT = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "netraven_contracts", "netraven",
                     "pytest_plugin")
TIMEOUT = 900  # the first hook install downloads libcst & co. on a fresh machine


def _git_env(base: dict[str, str]) -> dict[str, str]:
    # a test run from inside a git hook inherits GIT_DIR & co.; they must not leak into our repositories
    env = {k: v for k, v in base.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env.update(GIT_AUTHOR_NAME="netraven tests", GIT_AUTHOR_EMAIL="tests@example.invalid",
               GIT_COMMITTER_NAME="netraven tests", GIT_COMMITTER_EMAIL="tests@example.invalid",
               GIT_CONFIG_NOSYSTEM="1")
    return env


def git(*args: str, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = _git_env(dict(os.environ))
    env["PRE_COMMIT_HOME"] = str(tmp_path_factory.mktemp("pre-commit-home"))
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> tuple[Path, str]:
    """This project as a hook repository: a path and the commit to pin."""
    repo = tmp_path_factory.mktemp("hook-repo")
    for name in HOOK_REPO_CONTENT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            shutil.copy2(source, repo / name)
    git("init", "-q", cwd=repo, env=env)
    git("add", "-A", cwd=repo, env=env)
    git("commit", "-q", "-m", "hooks under test", cwd=repo, env=env)
    return repo, git("rev-parse", "HEAD", cwd=repo, env=env)


def pre_commit(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pre_commit", *args, "--color", "never"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


def _config(hook_repo: tuple[Path, str], *hook_ids: str) -> str:
    repo_path, sha = hook_repo
    return f"repos:\n- repo: {repo_path}\n  rev: {sha}\n  hooks:\n" + "".join(f"  - id: {h}\n" for h in hook_ids)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, hook_repo: tuple[Path, str],
              env: dict[str, str]) -> tuple[Path, str]:
    """The hook repository with its environment built (pip-installed) once for the module."""
    repo = tmp_path_factory.mktemp("install")
    git("init", "-q", cwd=repo, env=env)
    (repo / ".pre-commit-config.yaml").write_text(_config(hook_repo, "netraven-contracts", "netraven-contracts-fix"))
    proc = pre_commit("install-hooks", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return hook_repo


def user_repo(path: Path, hook_repo: tuple[Path, str], hook_id: str, env: dict[str, str]) -> Path:
    """A project with a faulty job module staged, and a job package's __init__ and a helper
    module that the hook's default `files` pattern must leave alone."""
    path.mkdir()
    git("init", "-q", cwd=path, env=env)
    (path / ".pre-commit-config.yaml").write_text(_config(hook_repo, hook_id))
    jobs = path / "worker" / "jobs"
    jobs.mkdir(parents=True)
    shutil.copy(FAULTY, jobs / "inventory.py")
    (jobs / "__init__.py").write_text("")
    (jobs / "_common.py").write_text("def helper():\n    return 1\n")
    (path / "worker" / "helpers.py").write_text("def run():\n    return None\n")
    git("add", "-A", cwd=path, env=env)
    return path


FILES = ("worker/jobs/inventory.py", "worker/jobs/__init__.py", "worker/jobs/_common.py", "worker/helpers.py")


def _expected_lines(path: Path, shown: str) -> list[str]:
    # exactly what `netraven-contracts check` prints for the file (errors and warnings)
    return [str(f) for f in check_file(path, display_path=shown) if f.severity.value != "info"]


def test_check_hook_fails_on_a_faulty_job_module_and_passes_once_it_is_fixed(
        tmp_path: Path, installed: tuple[Path, str], env: dict[str, str]) -> None:
    repo = user_repo(tmp_path / "project", installed, "netraven-contracts", env)
    faulty = repo / "worker" / "jobs" / "inventory.py"
    expected = _expected_lines(faulty, "worker/jobs/inventory.py")
    assert [line.split(": ")[1].split()[0] for line in expected] == ["NRJ006", "NRJ012"]
    assert [line.split(":")[1] for line in expected] == ["9", "9"]

    failed = pre_commit("run", "--files", *FILES, cwd=repo, env=env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    output = failed.stdout.splitlines()
    assert output[0].startswith("netraven-contracts") and output[0].endswith("Failed")
    assert output[1:3] == ["- hook id: netraven-contracts", "- exit code: 1"]
    # only the job module was handed to the hook: no NRJ001/NRJ020 for __init__, _common or helpers
    assert [line for line in output if ": NRJ" in line] == expected
    assert "Found 1 error, 1 warning in 1 of 1 file checked." in output

    # the job fixed by hand: the contract's keys, the ad-hoc key moved under details
    text = faulty.read_text()
    fixed = text.replace('return {"success": False, "error": str(err)}',
                         'return {"success": False, "device_id": device.id, "details": {"error": str(err)}}')
    assert fixed != text
    faulty.write_text(fixed)
    git("add", "-A", cwd=repo, env=env)
    passed = pre_commit("run", "--files", *FILES, cwd=repo, env=env)
    assert passed.returncode == 0, passed.stdout
    assert passed.stdout.startswith("netraven-contracts") and passed.stdout.rstrip().endswith("Passed")


def test_fix_hook_repairs_the_job_module_and_then_passes(
        tmp_path: Path, installed: tuple[Path, str], env: dict[str, str]) -> None:
    repo = user_repo(tmp_path / "project", installed, "netraven-contracts-fix", env)
    faulty = repo / "worker" / "jobs" / "inventory.py"
    before = faulty.read_text()
    others = {name: (repo / name).read_text() for name in FILES[1:]}

    fixing = pre_commit("run", "--files", *FILES, cwd=repo, env=env)
    # the fixes leave nothing behind, but pre-commit fails a hook that changed files
    assert fixing.returncode == 1, fixing.stdout
    assert "- files were modified by this hook" in fixing.stdout.splitlines()
    assert "Fixed 2 findings in 1 file." in fixing.stdout.splitlines()
    after = faulty.read_text()
    assert after != before
    assert [f.code for f in check_file(faulty)] == []
    assert {name: (repo / name).read_text() for name in others} == others

    git("add", "-A", cwd=repo, env=env)
    again = pre_commit("run", "--files", *FILES, cwd=repo, env=env)
    assert again.returncode == 0, again.stdout
    assert faulty.read_text() == after


def test_fix_hook_fails_while_unfixable_findings_remain(
        tmp_path: Path, installed: tuple[Path, str], env: dict[str, str]) -> None:
    repo = user_repo(tmp_path / "project", installed, "netraven-contracts-fix", env)
    saver = repo / "worker" / "jobs" / "saver.py"
    shutil.copy(UNFIXABLE, saver)
    (repo / "worker" / "jobs" / "inventory.py").unlink()
    git("add", "-A", cwd=repo, env=env)
    before = saver.read_text()
    proc = pre_commit("run", "--files", "worker/jobs/saver.py", cwd=repo, env=env)
    output = proc.stdout.splitlines()
    assert proc.returncode == 1
    assert output[1:3] == ["- hook id: netraven-contracts-fix", "- exit code: 1"]
    assert "- files were modified by this hook" not in output
    assert [line for line in output if ": NRJ" in line] == _expected_lines(saver, "worker/jobs/saver.py")
    assert [line.split(": ")[1].split()[0] for line in output if ": NRJ" in line] == ["NRJ004"]
    assert saver.read_text() == before


def test_manifest_declares_both_hooks() -> None:
    hooks = {hook["id"]: hook for hook in load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))}
    assert sorted(hooks) == ["netraven-contracts", "netraven-contracts-fix"]
    assert hooks["netraven-contracts"]["entry"] == "netraven-contracts check"
    assert hooks["netraven-contracts-fix"]["entry"] == "netraven-contracts check --fix"
    for hook in hooks.values():
        assert (hook["language"], hook["types"], hook["require_serial"], hook["pass_filenames"]) == (
            "python", ["python"], True, True)
        assert hook["files"] == hooks["netraven-contracts"]["files"]


@pytest.mark.parametrize("path", [
    "jobs/backup.py", "netraven/worker/jobs/config_backup.py", "jobs/__init__.py", "jobs/_shared.py",
    "jobs/sub/deep.py", "myjobs/backup.py", "jobs.py", "jobs/backup.pyi", "jobs/backup.py.orig", "jobs/x_y.py",
])
def test_hook_files_pattern_is_the_default_job_path_rule(path: str) -> None:
    # pre-commit matches `files` with re.search against the path relative to the repository root
    (hook,) = [h for h in load_manifest(str(ROOT / ".pre-commit-hooks.yaml")) if h["id"] == "netraven-contracts"]
    # (the CLI's rule, on the file placed in a repository at /repo, whatever the current directory)
    assert bool(re.search(hook["files"], path)) is Settings().is_job_path(f"/repo/{path}")
