# Capture through the real snd-aloop driver: what is played into hw:Loopback,0,N comes out of
# hw:Loopback,1,N. Both ends use mmap access, as pcmd does.
import hwlib

RATE = 48000


def _round_trip(t, signal: hwlib.Audio, subdevice: int = 0) -> hwlib.Audio:
    """Starts arecord on the capture end, plays `signal` (with silence after it) into the playback end, and
    returns what was recorded."""
    card = hwlib.load_driver("snd-aloop")
    played = hwlib.write_wav(t.tmp / "played.wav", hwlib.pad(signal, after_seconds=0.3))
    recorded = t.dir / "recorded.wav"
    seconds = int(signal.seconds + 2)
    # The capture end is opened first, so it sets the loopback's format for the playback end.
    recorder = hwlib.start(["arecord", "-q", "-M", "-D", card.hw(1, subdevice), "-f", "S16_LE", "-r", str(RATE),
                            "-c", str(signal.channels), "-d", str(seconds), str(recorded)])
    # snd-aloop does not wait for its capture end: what is played before arecord runs is lost.
    hwlib.wait_for_state(card, 1, "c", subdevice, "RUNNING")
    hwlib.run(["aplay", "-q", "-M", "-D", card.hw(0, subdevice), str(played)], timeout=60)
    recorder.wait(timeout=seconds + 60)
    return hwlib.read_wav(recorded)


def test_counter_round_trip_bit_exact(t):
    signal = hwlib.counter(RATE)  # 1 s
    captured = _round_trip(t, signal)
    match = hwlib.assert_bit_exact(signal, captured)
    t.log(f"found at frame {match.offset} of {captured.frame_count}")
    breaks = hwlib.counter_breaks(captured.slice(match.offset, match.end))
    assert not breaks, "counter broken: " + "; ".join(map(str, breaks[:5]))


def test_sine_round_trip_measured(t):
    # The analysis path on real captured data: the right tone and level, with no discontinuity.
    signal = hwlib.sine(997, 1.0, amplitude=0.25, channels=2)
    captured = _round_trip(t, signal, subdevice=1)
    # Measured where the tone starts, for its length: snd-aloop may deliver a stray period of the
    # playback buffer's old contents well after the stream has drained (seen ~0.4 s later), so the
    # last non-silent frame is not the end of the tone.
    first, _ = hwlib.nonsilent_span(captured)
    body = captured.slice(first, first + signal.frame_count)
    assert body.frame_count == signal.frame_count, f"only {body.frame_count} frames recorded after the tone began"
    measured = hwlib.assert_sine(body, 997, 0.25, channel=0)
    hwlib.assert_sine(body, 997, 0.25, channel=1)
    t.log(f"measured {measured}")
    breaks = hwlib.sine_breaks(body.slice(1, body.frame_count - 1), 997)
    assert not breaks, "sine broken: " + "; ".join(map(str, breaks[:5]))
    assert not hwlib.silent_runs(body), f"dropouts: {hwlib.silent_runs(body)[:5]}"
