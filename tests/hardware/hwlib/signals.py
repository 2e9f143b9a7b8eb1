# Known signals for the hardware tests to play: sines, a frame counter that makes every lost or
# repeated frame visible, silence, and padding. All are deterministic, so what a test plays can be
# regenerated and compared bit for bit with what came back.
from __future__ import annotations

import numpy as np

from .errors import TestFailure
from .wav import Audio

# Full scale of each integer format, for amplitudes given as a fraction of it.
FULL_SCALE = {"U8": 127, "S16_LE": 32767, "S24_3LE": 8388607, "S32_LE": 2147483647, "FLOAT_LE": 1.0}


def frames_for(seconds: float, rate: int) -> int:
    return int(round(seconds * rate))


def sine(freq: float, seconds: float, rate: int = 48000, channels: int = 2, amplitude: float = 0.5,
         format: str = "S16_LE", phase: float = 0.0) -> Audio:
    """A sine of `freq` Hz at `amplitude` (fraction of full scale) on every channel, rounded to `format`."""
    if format not in FULL_SCALE or format == "U8":
        raise TestFailure(f"sine(): unsupported format {format!r}")
    n = np.arange(frames_for(seconds, rate), dtype=np.float64)
    wave = amplitude * np.sin(2 * np.pi * freq * n / rate + phase)
    return _from_unit(np.repeat(wave[:, None], channels, axis=1), rate, format)


def stereo_sines(left_hz: float, right_hz: float, seconds: float, rate: int = 48000, amplitude: float = 0.5,
                 format: str = "S16_LE") -> Audio:
    """A different sine on each channel, so a swapped or duplicated channel is caught."""
    left = sine(left_hz, seconds, rate, 1, amplitude, format)
    right = sine(right_hz, seconds, rate, 1, amplitude, format)
    return Audio(np.hstack([left.frames, right.frames]), rate, format)


def counter(frame_count: int, rate: int = 48000, channels: int = 2, format: str = "S16_LE", start: int = 0) -> Audio:
    """A sawtooth that counts frames: channel c of frame n holds (start + n + c * 4099) modulo the format's
    range. Any dropped, repeated or reordered frame breaks the count (see analysis.counter_breaks), and no
    two frames within 65536 are equal, so an offset search finds exactly one place. The first frame is not
    silent, which the offset search needs."""
    if format not in ("S16_LE", "S32_LE", "S24_3LE"):
        raise TestFailure(f"counter(): unsupported format {format!r}")
    n = np.arange(start, start + frame_count, dtype=np.int64)[:, None] + 4099 * np.arange(channels)[None, :]
    values = (n % 65536) - 32768
    if format == "S24_3LE":
        values = values * 256
    elif format == "S32_LE":
        values = values * 65536
    return Audio(values.astype(np.int16 if format == "S16_LE" else np.int32), rate, format)


def silence(frame_count: int, rate: int = 48000, channels: int = 2, format: str = "S16_LE") -> Audio:
    from .wav import FORMATS
    return Audio(np.zeros((frame_count, channels), dtype=FORMATS[format][2]), rate, format)


def concat(*parts: Audio) -> Audio:
    """Joins signals of the same rate, channel count and format."""
    first = parts[0]
    for part in parts[1:]:
        if (part.rate, part.channels, part.format) != (first.rate, first.channels, first.format):
            raise TestFailure(f"concat(): {part.describe()} does not match {first.describe()}")
    return Audio(np.vstack([p.frames for p in parts]), first.rate, first.format)


def pad(audio: Audio, before_seconds: float = 0.0, after_seconds: float = 0.0) -> Audio:
    """Adds silence around a signal. Playback to the qemu HDA device loses the last ~25-35 ms of every stream
    when it stops (qemu writes its WAV in blocks and drops the unfinished one), so whatever is compared
    afterwards must be followed by silence that is allowed to go missing."""
    return concat(silence(frames_for(before_seconds, audio.rate), audio.rate, audio.channels, audio.format),
                  audio,
                  silence(frames_for(after_seconds, audio.rate), audio.rate, audio.channels, audio.format))


def _from_unit(values: np.ndarray, rate: int, format: str) -> Audio:
    if format == "FLOAT_LE":
        return Audio(values.astype(np.float32), rate, format)
    scaled = np.round(values * FULL_SCALE[format])
    return Audio(scaled.astype(np.int16 if format == "S16_LE" else np.int32), rate, format)
