#!/usr/bin/python3
# Runs the hardware tests. scripts/hwtest calls it three ways:
#   runner.py list  [-k PATTERN]...                 print the test ids (no VM needed)
#   runner.py guest --results DIR [-k PATTERN]...   inside the VM: run the tests, write DIR/results.json
#   runner.py host  --results DIR                   on the host after the VM exited: HDA checks, summary
# scripts/test-systemd-vm uses the host mode too (--title), for the results.json its guest script writes.
# The summary ends with the line "N passed, N failed"; the exit status is 1 if anything failed.
from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import json
import os
import re
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import hwlib  # noqa: E402  (needs the path above)
from hwlib import proc  # noqa: E402
from hwlib.hostcheck import run_hda_checks  # noqa: E402

RESULTS_FILE = "results.json"
DEFAULT_TIMEOUT = 180.0
# Kernel messages that mean a driver (or the kernel) went wrong during a test, whatever the test saw.
KERNEL_TROUBLE = re.compile(r"BUG:|WARNING:|Oops|general protection fault|Call Trace:|blocked for more than")


@dataclass
class TestCase:
    id: str
    function: Callable | None        # None when the file could not be imported
    error: str = ""                  # the import error, for such a placeholder

    @property
    def timeout(self) -> float:
        return getattr(self.function, "hwtest_timeout", DEFAULT_TIMEOUT)


@dataclass
class Outcome:
    id: str
    passed: bool
    seconds: float = 0.0
    reason: str = ""
    notes: list[str] = field(default_factory=list)


class TestTimeout(Exception):
    pass


def discover(patterns: list[str]) -> list[TestCase]:
    """test_*.py files in name order, test_* functions in the order they are written. Ids are
    'concern::name' with the test_ prefixes dropped; -k patterns match any part of an id."""
    cases = []
    for path in sorted(HERE.glob("test_*.py")):
        concern = path.stem.removeprefix("test_")
        try:
            module = importlib.import_module(path.stem)
        except Exception as error:
            cases.append(TestCase(f"{concern}::<import>", None, _import_error(error)))
            continue
        functions = [f for name, f in vars(module).items()
                     if name.startswith("test_") and inspect.isfunction(f) and f.__module__ == module.__name__]
        for function in sorted(functions, key=lambda f: f.__code__.co_firstlineno):
            cases.append(TestCase(f"{concern}::{function.__name__.removeprefix('test_')}", function))
    if patterns:
        cases = [c for c in cases if any(p.lower() in c.id.lower() for p in patterns)]
    return cases


def _import_error(error: Exception) -> str:
    """The traceback of a failed test-file import without the importlib frames in between."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if not f.filename.startswith("<frozen") and "importlib" not in f.filename and f.filename != __file__]
    return "".join(traceback.format_list(frames) + traceback.format_exception_only(type(error), error))


# ---- guest ----

def run_guest(results: Path, patterns: list[str]) -> int:
    results.mkdir(parents=True, exist_ok=True)
    scratch = Path("/tmp/pcmd-hwtest")
    scratch.mkdir(parents=True, exist_ok=True)
    cases = discover(patterns)
    state = {"plan": [c.id for c in cases], "results": [], "finished": False,
             "kernel": os.uname().release, "started": time.time()}
    _save(results, state)
    print(f"hwtest: kernel {os.uname().release}, {len(cases)} tests", flush=True)
    signal.signal(signal.SIGALRM, _on_alarm)
    for number, case in enumerate(cases, 1):
        print(f"[{number:2}/{len(cases)}] {case.id} ...", end="", flush=True)
        outcome = _run_one(case, results, scratch)
        state["results"].append(outcome.__dict__)
        _save(results, state)
        verdict = "ok" if outcome.passed else "FAIL"
        print(f" {verdict} ({outcome.seconds:.1f} s)", flush=True)
        if not outcome.passed:
            print(_indent(outcome.reason, "      "), flush=True)
    _save_text(results / "dmesg.txt", _dmesg())
    state["finished"] = True
    _save(results, state)
    return 0 if all(r["passed"] for r in state["results"]) else 1


def _run_one(case: TestCase, results: Path, scratch: Path) -> Outcome:
    started = time.monotonic()
    if case.function is None:
        return Outcome(case.id, False, 0.0, f"could not import the test file:\n{case.error.rstrip()}")
    context = hwlib.TestContext(case.id, results, scratch)
    kernel_before = len(_dmesg().splitlines())
    outcome = Outcome(case.id, True)
    with open(context.dir / "log.txt", "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        proc.set_log(log)
        signal.setitimer(signal.ITIMER_REAL, case.timeout)
        try:
            case.function(context)
        except TestTimeout:
            outcome = Outcome(case.id, False, reason=f"timed out after {case.timeout:.0f} s (raise it with @hwlib.timeout)")
        except hwlib.TestFailure as failure:
            outcome = Outcome(case.id, False, reason=str(failure) or "assertion failed")
        except AssertionError:
            outcome = Outcome(case.id, False, reason=_assertion_text())
        except Exception:
            outcome = Outcome(case.id, False, reason=f"error:\n{traceback.format_exc().rstrip()}")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            leftovers = proc.end_background()
            if leftovers:
                proc.log("killed at the end of the test: " + "; ".join(leftovers))
            if not outcome.passed:
                print(f"FAILED: {outcome.reason}")
            proc.set_log(sys.__stdout__)
    new_kernel_lines = _dmesg().splitlines()[kernel_before:]
    if new_kernel_lines:
        _save_text(context.dir / "dmesg.txt", "\n".join(new_kernel_lines) + "\n")
    trouble = [line for line in new_kernel_lines if KERNEL_TROUBLE.search(line)]
    if trouble and outcome.passed:
        outcome = Outcome(case.id, False, reason="the kernel reported trouble during the test:\n" + "\n".join(trouble[:10]))
    outcome.seconds = time.monotonic() - started
    return outcome


def _on_alarm(signum, frame):
    raise TestTimeout()


def _assertion_text() -> str:
    """The failing assert statement and its message, since a bare assert carries none."""
    kind, value, tb = sys.exc_info()
    frames = traceback.extract_tb(tb)
    where = frames[-1] if frames else None
    text = str(value) if str(value) else "assertion failed"
    if where:
        text += f"\n  at {Path(where.filename).name}:{where.lineno}: {where.line}"
    return text


def _dmesg() -> str:
    try:
        return subprocess.run(["dmesg"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"(dmesg failed: {error})\n"


# ---- host ----

def run_host(results: Path, vm_status: int, title: str = "hardware tests") -> int:
    """Merges the guest's results with the HDA checks and prints the summary. A VM that exited with an error
    although every test passed is a failure of its own (vm::exit)."""
    outcomes: dict[str, Outcome] = {}
    order: list[str] = []
    state_path = results / RESULTS_FILE
    state = json.loads(state_path.read_text()) if state_path.exists() else None
    if state is None:
        order = ["vm::boot"]
        outcomes["vm::boot"] = Outcome("vm::boot", False, reason="the VM produced no results: it did not boot, or the "
                                       "runner did not start (see the output above)")
    else:
        order = list(state["plan"])
        for entry in state["results"]:
            outcomes[entry["id"]] = Outcome(**entry)
        missing = [i for i in order if i not in outcomes]
        for position, test_id in enumerate(missing):
            reason = ("did not finish: the VM stopped or was stopped (timeout) during this test" if position == 0
                      else "not run: the VM stopped before it")
            outcomes[test_id] = Outcome(test_id, False, reason=reason)
        if not state["plan"]:
            order = ["hwtest::selection"]
            outcomes["hwtest::selection"] = Outcome("hwtest::selection", False, reason="no test matched the selection")
    for check in run_hda_checks(results):
        outcome = outcomes.get(check.test)
        if outcome is None:
            continue
        if check.passed:
            outcome.notes.append(f"{check.label}: {check.detail}")
        else:
            outcome.passed = False
            failure = f"host check '{check.label}' failed: {check.detail}"
            outcome.reason = f"{outcome.reason}\n{failure}" if outcome.reason else failure
    if vm_status != 0 and all(outcomes[i].passed for i in order):
        order.append("vm::exit")
        outcomes["vm::exit"] = Outcome("vm::exit", False, reason=f"the VM run ended with status {vm_status}")
    passed = sum(1 for i in order if outcomes[i].passed)
    failed = len(order) - passed
    print("\n%s (results in %s):" % (title, results))
    for test_id in order:
        outcome = outcomes[test_id]
        print(f"  {'PASS' if outcome.passed else 'FAIL'}  {test_id}  ({outcome.seconds:.1f} s)")
        for note in outcome.notes:
            print(f"          {note}")
        if not outcome.passed:
            print(_indent(outcome.reason, "          "))
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


# ---- shared ----

def _save(results: Path, state: dict) -> None:
    temporary = results / (RESULTS_FILE + ".tmp")
    temporary.write_text(json.dumps(state, indent=1))
    temporary.replace(results / RESULTS_FILE)


def _save_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def main() -> int:
    parser = argparse.ArgumentParser(description="pcmd hardware test runner (use scripts/hwtest)")
    parser.add_argument("mode", choices=["list", "guest", "host"])
    parser.add_argument("--results", type=Path)
    parser.add_argument("--vm-status", type=int, default=0, help="host mode: exit status of the VM run")
    parser.add_argument("--title", default="hardware tests", help="host mode: what the summary calls the tests")
    parser.add_argument("-k", dest="patterns", action="append", default=[],
                        help="run only tests whose id contains this text (repeatable: any may match)")
    args = parser.parse_args()
    if args.mode == "list":
        for case in discover(args.patterns):
            print(case.id)
        return 0
    if args.results is None:
        parser.error(f"{args.mode} needs --results")
    return run_guest(args.results, args.patterns) if args.mode == "guest" else run_host(args.results, args.vm_status, args.title)


if __name__ == "__main__":
    sys.exit(main())
