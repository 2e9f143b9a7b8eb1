# What a hardware test is handed: where to put its files, where the built products are, and how to declare
# a check that only the host can make (on the WAV qemu writes from the HDA output, which exists only after
# the VM has exited).
from __future__ import annotations

import json
import os
from pathlib import Path

from . import proc
from .errors import TestFailure
from .wav import Audio, read_wav, write_wav

# Environment the runner sets in the guest (and scripts/hwtest passes in).
RESULTS_ENV = "PCMD_HWTEST_RESULTS"     # host folder shared read-write with the guest (--rwdir)
BIN_ENV = "PCMD_HWTEST_BIN"             # folder of the built Swift products (.build/debug or .build/release)
REPO_ENV = "PCMD_HWTEST_REPO"           # the repository checkout (read-only in the guest)

# The list of host-side HDA checks, one JSON object per line, in the order the tests declared them.
HDA_CHECKS_FILE = "hda-checks.jsonl"


class TestContext:
    """Handed to every test function as its only argument.

    dir:   the test's folder in the results (kept on the host after the run: put what helps debugging here)
    tmp:   a scratch folder inside the guest (fast, discarded)
    """

    __test__ = False

    def __init__(self, test_id: str, results: Path, scratch: Path):
        self.id = test_id
        self.results = results
        self.dir = results / "tests" / _safe(test_id)
        self.tmp = scratch / _safe(test_id)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self._hda_checks = 0

    def log(self, message: str) -> None:
        """A line in the test's log (results/tests/<id>/log.txt)."""
        proc.log(message)

    def product(self, name: str) -> Path:
        """Path of a built Swift product (listed in tests/hardware/products). Fails if it was not built."""
        bin_dir = os.environ.get(BIN_ENV)
        if not bin_dir:
            raise TestFailure(f"{BIN_ENV} is not set: run the tests through scripts/hwtest")
        path = Path(bin_dir) / name
        if not path.is_file():
            raise TestFailure(f"product {name!r} not built: {path} is missing (is it listed in tests/hardware/products?)")
        return path

    def repo(self) -> Path:
        return Path(os.environ.get(REPO_ENV, Path(__file__).resolve().parents[3]))

    def expect_hda(self, expected: Audio | str | Path, allow_missing_tail_frames: int = 0, label: str = "",
                   present: bool = True) -> None:
        """Declares that `expected` must appear, bit for bit, in the HDA output that qemu writes on the host.

        The host checks every declaration after the VM exits, in the order they were made, each one searched
        for after the end of the previous match: declare right after the playback finishes. The HDA device
        plays at 48000 Hz, 2 channels, S16_LE: only audio in that format can arrive unchanged. Every stream
        loses its last ~25-35 ms when it stops, so play silence after what you declare (signals.pad) or
        allow those frames to be missing. With present=False the check passes only if `expected` does NOT
        appear after the previous match (a negative control; it does not move the search position)."""
        audio = read_wav(expected) if isinstance(expected, (str, Path)) else expected
        if (audio.rate, audio.channels, audio.format) != (48000, 2, "S16_LE"):
            raise TestFailure(f"expect_hda(): the HDA output is 48000 Hz, 2 ch, S16_LE; got {audio.describe()}")
        self._hda_checks += 1
        path = write_wav(self.dir / f"hda-expected-{self._hda_checks}.wav", audio)
        entry = {
            "test": self.id,
            "expected": str(path.relative_to(self.results)),
            "allow_missing_tail_frames": int(allow_missing_tail_frames),
            "label": label or f"HDA output #{self._hda_checks}",
            "present": bool(present),
        }
        with open(self.results / HDA_CHECKS_FILE, "a") as checks:
            checks.write(json.dumps(entry) + "\n")
        proc.log(f"declared host check: {entry['label']} ({audio.describe()})")


def _safe(test_id: str) -> str:
    return test_id.replace("::", "--").replace("/", "_")
