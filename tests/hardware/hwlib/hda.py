# Playing a known signal on the qemu HDA card and declaring it for the host-side bit-exact check.
from __future__ import annotations

from . import proc
from .context import TestContext
from .drivers import hda_card
from .signals import pad
from .wav import Audio, write_wav

# Silence played after the signal: more than the ~35 ms qemu drops when a stream stops.
TRAILING_SILENCE_SECONDS = 0.2


def play_on_hda(t: TestContext, audio: Audio, label: str = "", timeout: float = 120) -> None:
    """Plays `audio` (48 kHz stereo S16_LE) with `aplay -M` (mmap) on the HDA card with Master at 100%, followed
    by silence, and declares that it must reach the host's WAV unchanged."""
    card = hda_card()
    path = write_wav(t.tmp / "hda-play.wav", pad(audio, after_seconds=TRAILING_SILENCE_SECONDS))
    proc.run(["aplay", "-q", "-M", "-D", card.hw(0), str(path)], timeout=timeout)
    t.expect_hda(audio, label=label)
