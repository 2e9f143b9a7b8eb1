# Running commands from a hardware test: always with a timeout, always logged to the test's log, and with
# background processes (a player feeding a loopback while a recorder reads it) ended when the test ends.
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Sequence

from .errors import TestFailure

_background: list["Background"] = []
_log = sys.stdout  # replaced by the runner with the current test's log file


def set_log(stream) -> None:
    global _log
    _log = stream


def log(message: str) -> None:
    print(message, file=_log, flush=True)


@dataclass
class Result:
    """What a finished command did; stdout/stderr are text (bytes when run with text=False)."""

    argv: list[str]
    returncode: int
    stdout: str | bytes
    stderr: str | bytes


def run(argv: Sequence[str] | str, timeout: float = 60, check: bool = True, input: bytes | str | None = None,
        text: bool = True, env: dict[str, str] | None = None) -> Result:
    """Runs a command to completion. Fails the test when it times out, or (with check) exits non-zero; the
    failure names the command and quotes its stderr. A string is split like a shell would, without a shell."""
    args = shlex.split(argv) if isinstance(argv, str) else [str(a) for a in argv]
    log(f"$ {shlex.join(args)}")
    try:
        done = subprocess.run(args, input=input, capture_output=True, text=text, timeout=timeout,
                              env=_environment(env), start_new_session=True)
    except FileNotFoundError:
        raise TestFailure(f"command not found: {args[0]}") from None
    except subprocess.TimeoutExpired as expired:
        raise TestFailure(f"timed out after {timeout} s: {shlex.join(args)}\n{_tail(expired.stderr)}") from None
    _log_output(done.stdout, done.stderr, done.returncode)
    if check and done.returncode != 0:
        raise TestFailure(f"exit status {done.returncode}: {shlex.join(args)}\n{_tail(done.stderr)}")
    return Result(args, done.returncode, done.stdout, done.stderr)


class Background:
    """A command started with start(); wait() for it, or it is killed when the test ends."""

    def __init__(self, args: list[str], env: dict[str, str] | None, text: bool):
        self.args = args
        self.text = text
        log(f"$ {shlex.join(args)} &")
        try:
            self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=text,
                                            env=_environment(env), start_new_session=True)
        except FileNotFoundError:
            raise TestFailure(f"command not found: {args[0]}") from None
        _background.append(self)

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def send_signal(self, signum: int) -> None:
        if self.running():
            os.killpg(self.process.pid, signum)

    def wait(self, timeout: float = 60, check: bool = True) -> Result:
        """Waits for the command to end by itself; fails the test on timeout or (with check) non-zero exit."""
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure(f"still running after {timeout} s: {shlex.join(self.args)}") from None
        return self._finish(out, err, check)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 20, check: bool = False) -> Result:
        """Sends `signum` (SIGTERM by default) and waits for the exit; kills it if it does not go."""
        self.send_signal(signum)
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure(f"did not exit within {timeout} s of signal {signum}: {shlex.join(self.args)}") from None
        return self._finish(out, err, check)

    def kill(self) -> None:
        if self.running():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.communicate()

    def _finish(self, out, err, check: bool) -> Result:
        if self in _background:
            _background.remove(self)
        _log_output(out, err, self.process.returncode, f"[{self.args[0]} pid {self.process.pid}] ")
        if check and self.process.returncode != 0:
            raise TestFailure(f"exit status {self.process.returncode}: {shlex.join(self.args)}\n{_tail(err)}")
        return Result(self.args, self.process.returncode, out, err)


def start(argv: Sequence[str] | str, env: dict[str, str] | None = None, text: bool = True) -> Background:
    """Starts a command in the background (its own process group) with stdout and stderr captured."""
    args = shlex.split(argv) if isinstance(argv, str) else [str(a) for a in argv]
    return Background(args, env, text)


def end_background() -> list[str]:
    """Kills whatever a test left running; returns the commands that were still running."""
    leftovers = []
    while _background:
        job = _background.pop()
        if job.running():
            leftovers.append(shlex.join(job.args))
        job.kill()
    return leftovers


def _environment(extra: dict[str, str] | None) -> dict[str, str] | None:
    if not extra:
        return None
    merged = dict(os.environ)
    merged.update(extra)
    return merged


def _log_output(out, err, status: int, prefix: str = "") -> None:
    for name, stream in (("stdout", out), ("stderr", err)):
        if stream:
            shown = stream if isinstance(stream, str) else f"<{len(stream)} bytes>"
            log(f"{prefix}{name}:\n{shown.rstrip()}")
    log(f"{prefix}exit status {status}")


def _tail(stream, lines: int = 15) -> str:
    if not stream:
        return "(no stderr)"
    if isinstance(stream, bytes):
        stream = stream.decode(errors="replace")
    return "\n".join(stream.rstrip().splitlines()[-lines:])
