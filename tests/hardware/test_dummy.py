# The timer-paced snd-dummy driver: short playback and capture runs complete without an xrun. aplay and
# arecord report every xrun on stderr ("underrun!!!" / "overrun!!!"); pcmd's own long runs build on this.
import hwlib


def _no_xrun(result: hwlib.Result) -> None:
    for report in ("underrun!!!", "overrun!!!"):
        assert report not in result.stderr, f"{report} reported:\n{result.stderr}"


def test_playback_without_xrun(t):
    card = hwlib.load_driver("snd-dummy")
    path = hwlib.write_wav(t.tmp / "tone.wav", hwlib.sine(440, 2.0))
    result = hwlib.run(["aplay", "-M", "-D", card.hw(0), "-v", str(path)], timeout=60)
    _no_xrun(result)
    assert "MMAP_INTERLEAVED" in result.stderr, f"aplay -M did not use mmap access:\n{result.stderr}"


def test_capture_without_xrun(t):
    card = hwlib.load_driver("snd-dummy")
    recorded = t.tmp / "captured.raw"
    result = hwlib.run(["arecord", "-M", "-D", card.hw(0, 1), "-f", "S16_LE", "-r", "48000", "-c", "2",
                        "-t", "raw", "-d", "2", str(recorded)], timeout=60)
    _no_xrun(result)
    frames = recorded.stat().st_size // 4
    assert frames == 2 * 48000, f"captured {frames} frames, expected {2 * 48000}"
