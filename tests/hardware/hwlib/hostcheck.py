# The host side of the HDA checks: after the VM has exited, finds each expected signal the guest tests
# declared (context.TestContext.expect_hda) in the WAV file qemu wrote, in declaration order.
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .compare import find_bit_exact
from .context import HDA_CHECKS_FILE
from .errors import TestFailure
from .wav import read_wav

# Where scripts/hwtest tells qemu to write the HDA output, relative to the results folder.
HDA_OUTPUT_FILE = "hda-out.wav"


@dataclass
class HostCheckResult:
    test: str
    label: str
    passed: bool
    detail: str


def run_hda_checks(results: Path) -> list[HostCheckResult]:
    """Checks every declared expectation against results/hda-out.wav. Each is searched for from the end of the
    previous match, so two tests that play the same signal need two occurrences."""
    checks_path = results / HDA_CHECKS_FILE
    if not checks_path.exists():
        return []
    checks = [json.loads(line) for line in checks_path.read_text().splitlines() if line.strip()]
    output_path = results / HDA_OUTPUT_FILE
    try:
        captured = read_wav(output_path)
    except TestFailure as error:
        return [HostCheckResult(c["test"], c["label"], False, f"no usable HDA output from qemu: {error}") for c in checks]
    outcomes = []
    cursor = 0
    for check in checks:
        try:
            expected = read_wav(results / check["expected"])
            match = find_bit_exact(expected, captured, start_frame=cursor,
                                   allow_missing_tail=check.get("allow_missing_tail_frames", 0))
        except TestFailure as error:
            if check.get("present", True):
                outcomes.append(HostCheckResult(check["test"], check["label"], False, str(error)))
            else:
                outcomes.append(HostCheckResult(check["test"], check["label"], True,
                                                f"absent from HDA frame {cursor} on, as required"))
            continue
        if not check.get("present", True):
            outcomes.append(HostCheckResult(check["test"], check["label"], False,
                                            f"found bit-exactly at HDA frame {match.offset}, but must not be there"))
            continue
        cursor = match.end
        detail = f"bit-exact at HDA frame {match.offset} ({match.matched_frames} frames"
        detail += f", {match.missing_tail_frames} missing at the end)" if match.missing_tail_frames else ")"
        outcomes.append(HostCheckResult(check["test"], check["label"], True, detail))
    return outcomes
