# Self-tests of the analysis library on synthetic data (no driver needed): each detector must find the
# fault it exists for and stay quiet on a clean signal. A checker that cannot fail would let the whole
# tier pass while the hardware path is broken.
import numpy as np

import hwlib


def _expect_failure(function, *args, contains: str = "", **kwargs) -> str:
    try:
        function(*args, **kwargs)
    except hwlib.TestFailure as failure:
        assert contains in str(failure), f"failure message {str(failure)!r} lacks {contains!r}"
        return str(failure)
    raise AssertionError(f"{function.__name__} did not fail")


def test_bit_exact_search_finds_offset_and_rejects_one_lsb(t):
    # 997 Hz: a sine whose period is a whole number of frames would match at many offsets.
    signal = hwlib.sine(997, 0.2, channels=2)
    captured = hwlib.concat(hwlib.silence(1234), signal, hwlib.silence(500))
    match = hwlib.find_bit_exact(signal, captured)
    assert match.offset == 1234 and match.matched_frames == signal.frame_count, match
    corrupted = hwlib.Audio(captured.frames.copy(), captured.rate)
    corrupted.frames[1234 + 3000, 1] += 1
    message = _expect_failure(hwlib.find_bit_exact, signal, corrupted, contains="matched 3000 frames")
    t.log(message)


def test_bit_exact_search_tail_and_order(t):
    a = hwlib.counter(4800)
    b = hwlib.counter(4800, start=20000)
    captured = hwlib.concat(a, b)
    # b lies after a; searching from a's end must still find it, searching past it must not.
    assert hwlib.find_bit_exact(b, captured, start_frame=4800).offset == 4800
    _expect_failure(hwlib.find_bit_exact, b, captured, start_frame=4801, contains="not found")
    cut = captured.slice(0, 9000)
    _expect_failure(hwlib.find_bit_exact, b, cut, contains="600 trailing frames are missing")
    assert hwlib.find_bit_exact(b, cut, allow_missing_tail=600).missing_tail_frames == 600
    _expect_failure(hwlib.find_bit_exact, hwlib.sine(440, 0.1, rate=44100), captured, contains="cannot compare")


def test_scaled_signal_is_not_bit_exact(t):
    signal = hwlib.sine(440, 0.2)
    scaled = hwlib.Audio((signal.frames.astype(np.int32) * 3 // 4).astype(np.int16), signal.rate)
    _expect_failure(hwlib.find_bit_exact, signal, scaled, contains="occur nowhere")


def test_counter_breaks_finds_drop_and_repeat(t):
    signal = hwlib.counter(10000)
    assert hwlib.counter_breaks(signal) == []
    dropped = hwlib.Audio(np.delete(signal.frames, np.s_[5000:5007], axis=0), signal.rate)
    breaks = hwlib.counter_breaks(dropped)
    assert [(b.frame, b.detail) for b in breaks] == [(5000, "7 frames missing")] * 2, breaks
    repeated = hwlib.Audio(np.insert(signal.frames, 300, signal.frames[299], axis=0), signal.rate)
    assert [b.detail for b in hwlib.counter_breaks(repeated)] == ["frame repeated"] * 2


def test_sine_breaks_find_a_single_dropped_frame(t):
    signal = hwlib.sine(997, 0.5, amplitude=0.5, channels=1)
    assert hwlib.sine_breaks(signal, 997) == []
    dropped = hwlib.Audio(np.delete(signal.frames, 10000, axis=0), signal.rate)
    breaks = hwlib.sine_breaks(dropped, 997)
    assert len(breaks) == 1 and abs(breaks[0].frame - 10000) <= 2, breaks


def test_sine_measurement(t):
    measured = hwlib.assert_sine(hwlib.sine(1234.5, 1.0, amplitude=0.3), 1234.5, 0.3, freq_tolerance_hz=0.01,
                                 amplitude_tolerance_db=0.01, max_thdn_db=-85)
    t.log(f"measured {measured}")
    _expect_failure(hwlib.assert_sine, hwlib.sine(1240, 1.0, amplitude=0.3), 1234.5, 0.3, contains="frequency")
    _expect_failure(hwlib.assert_sine, hwlib.sine(1234.5, 1.0, amplitude=0.2), 1234.5, 0.3, contains="amplitude")
    noisy = hwlib.sine(1234.5, 1.0, amplitude=0.3)
    noisy.frames[::100] = 0
    _expect_failure(hwlib.assert_sine, noisy, 1234.5, 0.3, contains="THD+N")


def test_silent_runs(t):
    signal = hwlib.sine(500, 0.2, amplitude=0.5)
    gapped = hwlib.Audio(signal.frames.copy(), signal.rate)
    gapped.frames[4000:4100] = 0
    runs = hwlib.silent_runs(hwlib.pad(gapped, before_seconds=0.1, after_seconds=0.1), min_frames=10)
    assert runs == [(4800 + 4000, 100)], runs


def test_wav_round_trip_and_sox_agreement(t):
    for format, bits, encoding in (("S16_LE", 16, "signed-integer"), ("S24_3LE", 24, "signed-integer"),
                                   ("S32_LE", 32, "signed-integer"), ("FLOAT_LE", 32, "floating-point")):
        audio = hwlib.sine(440, 0.05, channels=3, amplitude=0.7, format=format)
        path = hwlib.write_wav(t.tmp / f"{format}.wav", audio)
        back = hwlib.read_wav(path)
        assert back.format == format and np.array_equal(back.frames, audio.frames), f"{format} round trip differs"
        # sox writes WAVE_FORMAT_EXTENSIBLE for 3 channels; its samples must read back the same. sox works in
        # 32-bit integers and keeps 25 bits of a float sample, so floats may move by an ulp or two.
        converted = t.tmp / f"{format}-sox.wav"
        hwlib.run(["sox", "-D", str(path), "-b", str(bits), "-e", encoding, str(converted)])
        from_sox = hwlib.read_wav(converted)
        same = (np.allclose(from_sox.frames, audio.frames, rtol=0, atol=2.0 ** -23) if format == "FLOAT_LE"
                else np.array_equal(from_sox.frames, audio.frames))
        assert same and from_sox.format == format, f"{format}: sox's extensible WAV reads differently"
