# Measuring what came back from a device when it is not expected to be bit-identical: the frequency and
# amplitude of a sine, and the places where a stream broke (an xrun shows as a jump in a sine or a
# counter, or as a run of silence inside the signal).
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import TestFailure
from .signals import FULL_SCALE
from .wav import Audio


@dataclass
class SineMeasurement:
    """A sine fitted to one channel. `amplitude` is a fraction of full scale; `thdn_db` is everything that is
    not the fitted sine (noise, distortion, glitches), relative to it."""

    freq: float
    amplitude: float
    dc: float
    thdn_db: float

    def __str__(self) -> str:
        return f"{self.freq:.3f} Hz, amplitude {self.amplitude:.5f} FS, THD+N {self.thdn_db:.1f} dB"


@dataclass
class Break:
    """A discontinuity at `frame` (index into the analysed audio) on `channel`."""

    frame: int
    channel: int
    detail: str

    def __str__(self) -> str:
        return f"frame {self.frame} ch {self.channel}: {self.detail}"


def measure_sine(audio: Audio, channel: int = 0) -> SineMeasurement:
    """Finds the dominant frequency (windowed FFT, refined by parabolic interpolation and then by the phase
    advance between the signal's halves) and the amplitude of a sine on one channel (least-squares fit)."""
    x = _unit(audio)[:, channel]
    if len(x) < 64:
        raise TestFailure(f"measure_sine(): {len(x)} frames are too few to measure")
    window = np.hanning(len(x))
    spectrum = np.abs(np.fft.rfft((x - x.mean()) * window))
    peak = int(np.argmax(spectrum[1:])) + 1
    if 1 <= peak < len(spectrum) - 1 and spectrum[peak] > 0:
        a, b, c = np.log(spectrum[peak - 1:peak + 2] + 1e-300)
        peak_bin = peak + 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else float(peak)
    else:
        peak_bin = float(peak)
    freq = _refine_frequency(x, peak_bin * audio.rate / len(x), audio.rate)
    fit, dc, amplitude = _fit(x, freq, audio.rate)
    residual = x - fit - dc
    fit_rms = np.sqrt(np.mean(fit ** 2))
    thdn = 20 * np.log10(max(np.sqrt(np.mean(residual ** 2)), 1e-12) / max(fit_rms, 1e-12))
    return SineMeasurement(freq, amplitude, float(dc), float(thdn))


def assert_sine(audio: Audio, freq: float, amplitude: float, channel: int = 0, freq_tolerance_hz: float = 0.5,
                amplitude_tolerance_db: float = 0.2, max_thdn_db: float = -60.0) -> SineMeasurement:
    """Fails unless one channel holds a sine of `freq` Hz and `amplitude` (fraction of full scale) within the
    tolerances, with everything else at least -max_thdn_db below it."""
    m = measure_sine(audio, channel)
    problems = []
    if abs(m.freq - freq) > freq_tolerance_hz:
        problems.append(f"frequency {m.freq:.3f} Hz, expected {freq} ± {freq_tolerance_hz}")
    if amplitude <= 0 or m.amplitude <= 0:
        problems.append(f"amplitude {m.amplitude:.5f}, expected {amplitude}")
    elif abs(20 * np.log10(m.amplitude / amplitude)) > amplitude_tolerance_db:
        problems.append(f"amplitude {m.amplitude:.5f} FS ({20 * np.log10(m.amplitude / amplitude):+.2f} dB), "
                        f"expected {amplitude} ± {amplitude_tolerance_db} dB")
    if m.thdn_db > max_thdn_db:
        problems.append(f"THD+N {m.thdn_db:.1f} dB, expected at most {max_thdn_db} dB")
    if problems:
        raise TestFailure(f"channel {channel} is not the expected sine: " + "; ".join(problems) + f" (measured {m})")
    return m


def sine_breaks(audio: Audio, freq: float, channel: int | None = None, tolerance: float | None = None) -> list[Break]:
    """Discontinuities in a pure sine of known frequency. A sine obeys x[n+1] = 2cos(w)x[n] - x[n-1]; rounding
    leaves at most 2 LSB of error, while a dropped, repeated or zeroed stretch leaves a large one. Analyse only
    the part that holds the sine (see nonsilent_span): its edges count as breaks. `tolerance` is in sample
    units (default 4 LSB of 16 bits, at the format's scale)."""
    x = audio.frames.astype(np.float64)
    if tolerance is None:
        tolerance = 4.0 * FULL_SCALE[audio.format] / 32767 if audio.format != "FLOAT_LE" else 4.0 / 32767
    k = 2 * np.cos(2 * np.pi * freq / audio.rate)
    channels = range(audio.channels) if channel is None else [channel]
    breaks: list[Break] = []
    for c in channels:
        residual = np.abs(x[2:, c] - k * x[1:-1, c] + x[:-2, c])
        for frame in _first_of_runs(np.flatnonzero(residual > tolerance) + 1):
            breaks.append(Break(int(frame), c, f"sine prediction off by {residual[frame - 1]:.1f} (tolerance {tolerance:.1f})"))
    return sorted(breaks, key=lambda b: (b.frame, b.channel))


def counter_breaks(audio: Audio) -> list[Break]:
    """Discontinuities in a signals.counter() signal: every step must be +1 frame. Reports each jump with how
    many frames were lost or repeated."""
    values = audio.frames.astype(np.int64)
    if audio.format == "S24_3LE":
        values //= 256
    elif audio.format == "S32_LE":
        values //= 65536
    elif audio.format != "S16_LE":
        raise TestFailure(f"counter_breaks(): unsupported format {audio.format}")
    breaks: list[Break] = []
    for c in range(audio.channels):
        step = np.diff(values[:, c]) % 65536
        for i in np.flatnonzero(step != 1):
            jump = int(step[i]) - 1
            if jump == -1:
                detail = "frame repeated"
            elif jump < 32768:
                detail = f"{jump} frames missing"
            else:
                detail = f"went back {65536 - jump} frames"
            breaks.append(Break(int(i) + 1, c, detail))
    return sorted(breaks, key=lambda b: (b.frame, b.channel))


def nonsilent_span(audio: Audio) -> tuple[int, int]:
    """(first, last + 1) frame index holding a non-zero sample; (0, 0) for all silence."""
    nonzero = np.flatnonzero(audio.frames.any(axis=1))
    return (0, 0) if len(nonzero) == 0 else (int(nonzero[0]), int(nonzero[-1]) + 1)


def silent_runs(audio: Audio, min_frames: int = 2) -> list[tuple[int, int]]:
    """Runs of all-zero frames at least `min_frames` long between the first and last non-silent frame, as
    (start frame, length): the dropouts an underrun leaves in a signal that has no silence of its own."""
    first, last = nonsilent_span(audio)
    silent = ~audio.frames[first:last].any(axis=1)
    edges = np.diff(np.concatenate([[0], silent.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(first + int(s), int(e - s)) for s, e in zip(starts, stops) if e - s >= min_frames]


def _unit(audio: Audio) -> np.ndarray:
    return audio.frames.astype(np.float64) / FULL_SCALE[audio.format]


def _fit(x: np.ndarray, freq: float, rate: int) -> tuple[np.ndarray, float, float]:
    """Least-squares a*sin + b*cos + c at `freq`, through the 3x3 normal equations (a general lstsq is
    tens of times slower in the emulated guest)."""
    phase = 2 * np.pi * freq * np.arange(len(x)) / rate
    s, c = np.sin(phase), np.cos(phase)
    n = float(len(x))
    gram = np.array([[s @ s, s @ c, s.sum()], [s @ c, c @ c, c.sum()], [s.sum(), c.sum(), n]])
    a, b, dc = np.linalg.solve(gram, np.array([s @ x, c @ x, x.sum()]))
    return a * s + b * c, float(dc), float(np.hypot(a, b))


def _refine_frequency(x: np.ndarray, freq: float, rate: int) -> float:
    """Refines a frequency estimate from the phase advance between the two halves of the signal: at the
    right frequency, the windowed DFT coefficient of the second half is the first one turned by exactly
    w * N/2. Two rounds take the FFT estimate (within a fraction of a bin) to a small fraction of a mHz,
    with four trigonometric passes instead of the dozens a search of the fit residual needs, which
    matters at the emulated guest's speed."""
    half = len(x) // 2
    window = np.hanning(half)
    n = np.arange(half)
    first, second = x[:half] * window, x[half:2 * half] * window
    for _ in range(2):
        w = 2 * np.pi * freq / rate
        kernel = np.exp(-1j * w * n)
        turn = np.angle((second @ kernel) * np.conj(first @ kernel) * np.exp(-1j * w * half))
        freq += turn / (2 * np.pi * half) * rate
    return float(freq)


def _first_of_runs(indices: np.ndarray) -> list[int]:
    """Collapses runs of neighbouring indices (one glitch disturbs up to three predictions) to their first."""
    result: list[int] = []
    last = -10
    for i in indices.tolist():
        if i > last + 3:
            result.append(i)
        last = i
    return result
