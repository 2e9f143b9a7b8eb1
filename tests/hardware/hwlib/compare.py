# Bit-exact comparison of a known signal with what came back from a device, at an unknown frame offset
# (a capture starts before the signal arrives; the HDA WAV holds every test's playback one after another).
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import TestFailure
from .wav import Audio

# How many frames of the expected signal are searched for at once; long enough to be unique in practice.
NEEDLE_FRAMES = 256
# Bound on candidate positions tried, so a pathological capture (e.g. a repeating pattern) cannot hang a test.
MAX_CANDIDATES = 20000


@dataclass
class Match:
    """Where `expected` was found in `captured`, and how many of its trailing frames were missing."""

    offset: int
    matched_frames: int
    missing_tail_frames: int

    @property
    def end(self) -> int:
        return self.offset + self.matched_frames


def find_bit_exact(expected: Audio, captured: Audio, start_frame: int = 0, allow_missing_tail: int = 0) -> Match:
    """Finds the first offset >= start_frame at which every frame of `expected` equals `captured`. Up to
    `allow_missing_tail` frames at the end of `expected` may lie beyond the end of `captured` (a recording
    cut short); nothing else may differ. Raises TestFailure saying what was closest when there is no match."""
    if (expected.rate, expected.channels, expected.format) != (captured.rate, captured.channels, captured.format):
        raise TestFailure(f"cannot compare bit-exactly: expected {expected.describe()}, captured {captured.describe()}")
    if expected.frame_count == 0:
        raise TestFailure("expected signal is empty")
    exp = np.ascontiguousarray(expected.frames)
    cap = np.ascontiguousarray(captured.frames)
    frame_bytes = exp.itemsize * expected.channels
    nonzero = np.flatnonzero(exp.any(axis=1))
    lead = int(nonzero[0]) if len(nonzero) else 0
    needle = exp[lead:lead + NEEDLE_FRAMES].tobytes()
    haystack = cap.tobytes()
    best = (-1, -1)  # (frames matched before the first difference, offset)
    search_from = (start_frame + lead) * frame_bytes
    for _ in range(MAX_CANDIDATES):
        pos = haystack.find(needle, search_from)
        if pos < 0:
            break
        search_from = pos + 1
        if pos % frame_bytes:
            continue
        offset = pos // frame_bytes - lead
        if offset < start_frame:
            continue
        available = min(expected.frame_count, captured.frame_count - offset)
        differs = np.flatnonzero((exp[:available] != cap[offset:offset + available]).any(axis=1))
        matched = int(differs[0]) if len(differs) else available
        if len(differs) == 0 and expected.frame_count - available <= allow_missing_tail:
            return Match(offset, available, expected.frame_count - available)
        if matched > best[0]:
            best = (matched, offset)
    raise TestFailure(_explain_miss(exp, cap, start_frame, lead, best, allow_missing_tail))


def assert_bit_exact(expected: Audio, captured: Audio, start_frame: int = 0, allow_missing_tail: int = 0) -> Match:
    """find_bit_exact under the name a test reads best."""
    return find_bit_exact(expected, captured, start_frame, allow_missing_tail)


def _explain_miss(exp: np.ndarray, cap: np.ndarray, start: int, lead: int, best: tuple[int, int],
                  allow_missing_tail: int) -> str:
    head = f"expected {len(exp)} frames not found bit-exactly in {len(cap)} captured frames (searched from frame {start})"
    matched, offset = best
    if offset < 0:
        cap_peak = int(np.abs(cap.astype(np.float64)).max()) if cap.size else 0
        exp_peak = int(np.abs(exp.astype(np.float64)).max())
        return (f"{head}: frames {lead}..{lead + NEEDLE_FRAMES} of the expected signal occur nowhere "
                f"(peak |sample| expected {exp_peak}, captured {cap_peak}; scaled by a mixer or resampled?)")
    if offset + matched >= len(cap):
        return (f"{head}: best candidate at frame {offset} matched up to the end of the capture, "
                f"but {len(exp) - matched} trailing frames are missing (allowed {allow_missing_tail})")
    return (f"{head}: best candidate at frame {offset} matched {matched} frames, then frame {matched} is "
            f"{cap[offset + matched].tolist()} instead of {exp[matched].tolist()}")
