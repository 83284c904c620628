"""tests/checks/lib.sh's start and clean-up: check_begin, defer, defer_restore.

The behaviour checks themselves need a machine with snapd and the snap; these run small
scripts that source lib.sh the way a check does, with plain bash and no snap (a stub
`snap` on PATH where a script asks for --installed).
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

CHECKS = Path(__file__).resolve().parents[2] / "tests" / "checks"
LIB = CHECKS / "lib.sh"

HEADER = f"""\
set -euo pipefail
. {LIB}
record() {{ printf '%s\\n' "$*" >>"$LOG"; }}
"""


class Run:
    def __init__(self, done: subprocess.CompletedProcess[str], log: Path) -> None:
        self.status = done.returncode
        self.stdout = done.stdout
        self.stderr = done.stderr
        self.log = log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def run(tmp_path: Path):
    """run(BODY, *ARGS, snap_status=None): BODY after the header, as a check script."""

    def runner(body: str, *args: str, snap_status: int | None = None) -> Run:
        script = tmp_path / "check.sh"
        script.write_text(HEADER + body)
        log = tmp_path / "log"
        log.unlink(missing_ok=True)
        env = {**os.environ, "LOG": str(log)}
        env.pop("CHECK_SKIP_FILE", None)
        if snap_status is not None:
            bin_dir = tmp_path / "bin"
            bin_dir.mkdir(exist_ok=True)
            stub = bin_dir / "snap"
            stub.write_text(f'#!/bin/sh\nprintf "snap %s\\n" "$*" >>"$LOG"\nexit {snap_status}\n')
            stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
            env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
        done = subprocess.run(
            ["bash", str(script), *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        return Run(done, log)

    return runner


THREE = """\
check_begin demo -- "$@"
defer record one
defer record two
defer record three
record body
"""


def test_sourcing_lib_sets_no_trap() -> None:
    done = subprocess.run(
        ["bash", "-c", '. "$1"; trap -p EXIT', "sh", str(LIB)], capture_output=True, text=True, check=True
    )
    assert done.stdout == ""


def test_deferred_commands_run_last_first_after_a_passing_check(run) -> None:
    result = run(THREE + "finish demo\n")
    assert result.status == 0, result.stderr
    assert result.log == ["body", "three", "two", "one"]
    assert result.stdout == "demo: ok\n"
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("ending", "status"),
    [
        ('fail "it differs"\n', 1),
        ("false\n", 1),  # set -e
        ("exit 7\n", 7),
        ("(exit 3)\n", 3),  # set -e keeps the failing command's status
        ('problem "one"\nfinish demo\n', 1),
    ],
)
def test_deferred_commands_run_when_the_check_fails_and_its_status_stands(run, ending: str, status: int) -> None:
    result = run(THREE + ending + "record not-reached\n")
    assert result.status == status
    assert result.log == ["body", "three", "two", "one"]


def test_deferred_commands_run_after_a_skip(run) -> None:
    result = run(THREE + 'skip "not on this build"\n')
    assert result.status == 0
    assert result.log == ["body", "three", "two", "one"]
    assert result.stdout == "SKIP: not on this build\n"


FAILING_CLEANUP = """\
check_begin demo -- "$@"
defer record one
defer sh -c 'echo cleaning two; exit 4'
defer record three
"""


def test_a_failing_clean_up_is_reported_the_others_run_and_a_failing_checks_status_stands(run) -> None:
    result = run(FAILING_CLEANUP + "exit 5\n")
    assert result.status == 5
    assert result.log == ["three", "one"]
    assert "cleaning two" in result.stdout
    assert "demo: clean-up failed (exit 4): sh -c" in result.stderr


def test_a_failing_clean_up_fails_a_check_that_passed(run) -> None:
    result = run(FAILING_CLEANUP + "finish demo\n")
    assert result.status == 1
    assert result.log == ["three", "one"]
    assert "demo: clean-up failed (exit 4)" in result.stderr
    assert "demo: 1 clean-up(s) failed: exit 1" in result.stderr


def test_a_clean_up_stops_at_its_first_failing_command_under_set_e(run) -> None:
    result = run("""\
undo() { record undo-start; false; record undo-not-reached; }
check_begin demo -- "$@"
defer record one
defer undo
exit 0
""")
    assert result.status == 1
    assert result.log == ["undo-start", "one"]
    assert "demo: clean-up failed (exit 1): undo" in result.stderr


def test_a_clean_up_calling_fail_or_exit_ends_only_itself(run) -> None:
    result = run("""\
check_begin demo -- "$@"
defer record one
defer fail "cannot undo"
defer exit 9
exit 2
""")
    assert result.status == 2
    assert result.log == ["one"]
    assert "FAIL: cannot undo" in result.stderr
    assert "clean-up failed (exit 9): exit 9" in result.stderr


def test_defer_takes_its_words_when_called(run) -> None:
    result = run("""\
check_begin demo -- "$@"
value='two  words $HOME * ;'
defer record "$value"
value=changed
""")
    assert result.status == 0, result.stderr
    assert result.log == ["two  words $HOME * ;"]


def test_defer_in_a_subshell_is_refused(run) -> None:
    result = run("""\
check_begin demo -- "$@"
defer record main
( defer record lost ) || record refused
""")
    assert result.status == 0, result.stderr
    assert result.log == ["refused", "main"]
    assert "in a subshell" in result.stderr


def test_defer_needs_check_begin(run) -> None:
    result = run("defer record never\n")
    assert result.status == 1
    assert result.log == []
    assert "check_begin was not called" in result.stderr


def test_work_is_a_directory_removed_at_exit_even_on_failure(run, tmp_path: Path) -> None:
    result = run("""\
check_begin demo --work -- "$@"
[ -d "$WORK" ] && record "$WORK"
touch "$WORK/file"
fail "after making files"
""")
    assert result.status == 1
    (work,) = result.log
    assert work and not Path(work).exists()


RESTORABLE = """\
undo() { record "undo $*"; }
check_begin demo --work --restore-with undo "a b" c -- "$@"
record "body $*"
defer record deferred
defer_restore
"""


def test_restore_mode_runs_only_the_restore_command(run) -> None:
    result = run(RESTORABLE, "--restore")
    assert result.status == 0, result.stderr
    assert result.log == ["undo a b c"]


def test_defer_restore_runs_the_restore_command_at_exit(run) -> None:
    result = run(RESTORABLE + "fail differs\n", "fixtures")
    assert result.status == 1
    assert result.log == ["body fixtures", "undo a b c", "deferred"]


def test_restore_mode_exits_with_the_restore_commands_failure(run) -> None:
    result = run(
        """\
undo() { record undo; return 3; }
check_begin demo --restore-with undo -- "$@"
record body
""",
        "--restore",
    )
    assert result.status == 3
    assert result.log == ["undo"]
    assert "demo: restore failed (exit 3): undo" in result.stderr


def test_restore_mode_without_a_restore_command_exits_at_once(run) -> None:
    result = run('check_begin demo --root --installed -- "$@"\nrecord body\n', "--restore", snap_status=1)
    assert result.status == 0, result.stderr
    assert result.log == []  # neither the body nor snap list ran


def test_restore_mode_does_not_ask_for_the_snap(run) -> None:
    result = run(
        'undo() { record undo; }\ncheck_begin demo --installed --restore-with undo -- "$@"\n',
        "--restore",
        snap_status=1,
    )
    assert result.status == 0, result.stderr
    assert result.log == ["undo"]


def test_installed_needs_the_snap(run) -> None:
    missing = run('check_begin demo --installed -- "$@"\nrecord body\n', snap_status=1)
    assert missing.status == 1
    assert missing.log == ["snap list ondemand"]
    assert "the ondemand snap is not installed" in missing.stderr
    present = run('check_begin demo --installed -- "$@"\nrecord body\n', snap_status=0)
    assert present.status == 0, present.stderr
    assert present.log == ["snap list ondemand", "body"]


@pytest.mark.parametrize(
    ("begin", "message"),
    [
        ('check_begin demo "$@"\n', "no -- before the check's own arguments"),
        ('check_begin demo --wrok -- "$@"\n', "unknown option '--wrok'"),
        ('check_begin demo --restore-with -- "$@"\n', "--restore-with needs a command"),
        ('check_begin demo -- "$@"\ndefer_restore\n', "was given no --restore-with"),
    ],
)
def test_misuse_is_refused(run, begin: str, message: str) -> None:
    result = run(begin + "record body\n")
    assert result.status == 1
    assert message in result.stderr
    assert result.log == []


def test_checks_without_anything_to_restore_exit_at_once(tmp_path: Path) -> None:
    # What spread's restore-each runs after every task: no snap, no root needed here.
    log = tmp_path / "log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "snap"
    stub.write_text(f'#!/bin/sh\necho "$*" >>{log}\nexit 1\n')
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    for name in ("install", "services", "remove"):
        done = subprocess.run(
            ["bash", str(CHECKS / f"{name}.sh"), "--restore"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert (done.returncode, done.stdout, done.stderr) == (0, "", ""), name
    assert not log.exists()
