# WAV files as numpy arrays, for the hardware tests: reading what arecord, sox or qemu wrote and
# writing the known signals the tests play. Python's own `wave` module reads neither
# WAVE_FORMAT_EXTENSIBLE (what sox writes for more than 16 bits or 2 channels) nor float, so the
# RIFF chunks are parsed here directly.
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import TestFailure

# ALSA format name -> (WAV format tag, bytes per sample in the file, numpy dtype of a sample in memory).
# S24_3LE is packed 3-byte audio; it is held in memory as int32 with the 24-bit value sign-extended.
FORMATS = {
    "U8": (1, 1, np.uint8),
    "S16_LE": (1, 2, np.int16),
    "S24_3LE": (1, 3, np.int32),
    "S32_LE": (1, 4, np.int32),
    "FLOAT_LE": (3, 4, np.float32),
}

_PCM = 1
_FLOAT = 3
_EXTENSIBLE = 0xFFFE


@dataclass
class Audio:
    """Interleaved audio: `frames` has shape (frame count, channels)."""

    frames: np.ndarray
    rate: int
    format: str = "S16_LE"

    @property
    def channels(self) -> int:
        return self.frames.shape[1]

    @property
    def frame_count(self) -> int:
        return self.frames.shape[0]

    @property
    def seconds(self) -> float:
        return self.frame_count / self.rate

    def channel(self, index: int) -> np.ndarray:
        return self.frames[:, index]

    def slice(self, start: int, stop: int | None = None) -> "Audio":
        return Audio(self.frames[start:stop], self.rate, self.format)

    def describe(self) -> str:
        return f"{self.frame_count} frames, {self.channels} ch, {self.rate} Hz, {self.format}"

    def to_bytes(self) -> bytes:
        """The samples as they are laid out in a WAV data chunk (and in an ALSA buffer)."""
        if self.format == "S24_3LE":
            as32 = self.frames.astype("<i4").reshape(-1)
            return as32.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
        _, _, dtype = FORMATS[self.format]
        return self.frames.astype(np.dtype(dtype).newbyteorder("<")).tobytes()


def from_bytes(data: bytes, channels: int, rate: int, format: str = "S16_LE") -> Audio:
    """Audio from raw interleaved bytes (e.g. `arecord -t raw` output). A partial last frame is dropped."""
    if format not in FORMATS:
        raise TestFailure(f"unsupported sample format {format!r} (supported: {', '.join(FORMATS)})")
    _, width, dtype = FORMATS[format]
    frame_bytes = width * channels
    usable = len(data) - len(data) % frame_bytes
    raw = np.frombuffer(data[:usable], dtype=np.uint8)
    if format == "S24_3LE":
        triples = raw.reshape(-1, 3).astype(np.int32)
        values = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        values = np.where(values & 0x800000, values - 0x1000000, values).astype(np.int32)
    else:
        values = raw.view(np.dtype(dtype).newbyteorder("<")).astype(dtype)
    return Audio(values.reshape(-1, channels), rate, format)


def read_wav(path: str | Path) -> Audio:
    """Reads a PCM or float WAV file (plain or WAVE_FORMAT_EXTENSIBLE). Raises TestFailure with the reason."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as error:
        raise TestFailure(f"cannot read WAV {path}: {error}") from None
    if len(blob) < 12 or blob[0:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise TestFailure(f"{path} is not a RIFF/WAVE file ({len(blob)} bytes)")
    fmt = None
    data = None
    offset = 12
    while offset + 8 <= len(blob):
        chunk_id = blob[offset:offset + 4]
        (size,) = struct.unpack_from("<I", blob, offset + 4)
        body = blob[offset + 8:offset + 8 + size]
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data":
            # A writer that was killed (qemu at guest power-off) may leave a size that is too big
            # or 0: take what the file really holds.
            data = blob[offset + 8:] if size == 0 or offset + 8 + size > len(blob) else body
            break
        offset += 8 + size + (size & 1)
    if fmt is None or data is None:
        raise TestFailure(f"{path}: missing {'fmt' if fmt is None else 'data'} chunk")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt, 0)
    if tag == _EXTENSIBLE and len(fmt) >= 40:
        (tag,) = struct.unpack_from("<H", fmt, 24)  # first two bytes of the sub-format GUID
    format = _format_for(tag, bits)
    if format is None:
        raise TestFailure(f"{path}: unsupported WAV encoding (format tag {tag}, {bits} bits)")
    return from_bytes(data, channels, rate, format)


def write_wav(path: str | Path, audio: Audio) -> Path:
    """Writes a plain WAV file that aplay, sox and qemu understand; returns the path."""
    path = Path(path)
    tag, width, _ = FORMATS[audio.format]
    data = audio.to_bytes()
    block_align = width * audio.channels
    fmt = struct.pack("<HHIIHH", tag, audio.channels, audio.rate, audio.rate * block_align, block_align, width * 8)
    header = b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE"
    header += b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + data)
    return path


def _format_for(tag: int, bits: int) -> str | None:
    if tag == _FLOAT and bits == 32:
        return "FLOAT_LE"
    if tag == _PCM:
        return {8: "U8", 16: "S16_LE", 24: "S24_3LE", 32: "S32_LE"}.get(bits)
    return None
