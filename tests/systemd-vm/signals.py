#!/usr/bin/python3
# Writes the test signals of the systemd VM tier (scripts/test-systemd-vm) on the host, with hwlib:
#   signals.py EXPECTED_DIR PLAY_DIR
# For each stream the guest plays through an installed pcmd (the system unit's, then the user unit's), a
# frame counter goes to EXPECTED_DIR/<name>-expected.wav (what the host must find bit for bit in qemu's HDA
# output, named in the guest's hda-checks.jsonl) and the same counter followed by silence to
# PLAY_DIR/<name>.wav (what the guest plays: qemu drops the last ~35 ms of every stream, tests/hardware/README.md).
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hardware"))

import hwlib  # noqa: E402  (needs the path above)
from hwlib.hda import TRAILING_SILENCE_SECONDS  # noqa: E402

RATE = 48000
# Different starts, so that neither stream's frames can be mistaken for the other's (a counter repeats
# only after 65536 frames; the two overlap in no frame).
STREAMS = {"system": 0, "user": 32768}


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: signals.py EXPECTED_DIR PLAY_DIR", file=sys.stderr)
        return 2
    expected_dir, play_dir = Path(sys.argv[1]), Path(sys.argv[2])
    expected_dir.mkdir(parents=True, exist_ok=True)
    play_dir.mkdir(parents=True, exist_ok=True)
    for name, start in STREAMS.items():
        signal = hwlib.counter(RATE // 2, rate=RATE, start=start)  # 0.5 s, every frame distinct
        hwlib.write_wav(expected_dir / f"{name}-expected.wav", signal)
        hwlib.write_wav(play_dir / f"{name}.wav", hwlib.pad(signal, after_seconds=TRAILING_SILENCE_SECONDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
