# Playback through the real snd-hda-intel driver (PCI, scatter-gather DMA) into qemu's emulated HDA codec,
# whose output lands in a WAV file on the host: what aplay plays with mmap access must arrive unchanged.
# The comparisons happen on the host after the VM exits (hwlib.play_on_hda declares them).
import hwlib


def test_aplay_mmap_stereo_sines_bit_exact(t):
    # A different tone per channel, so swapped or duplicated channels would not match.
    hwlib.play_on_hda(t, hwlib.stereo_sines(440, 1000, 1.0, amplitude=0.5), label="aplay -M 440/1000 Hz")


def test_aplay_mmap_counter_bit_exact(t):
    # Every frame is distinct: a single dropped, repeated or altered frame fails the host check.
    hwlib.play_on_hda(t, hwlib.counter(48000), label="aplay -M frame counter")


def test_master_below_100_percent_alters_samples(t):
    # A negative control for the host checks: at Master 50% the codec scales the samples, so the host
    # must NOT find this signal unchanged. The signal played right after at 100% must be found, which
    # shows that the scaled one did reach the WAV and that the checker tells the two apart.
    scaled = hwlib.stereo_sines(523.25, 659.25, 0.5, amplitude=0.5)
    card = hwlib.hda_card(volume_percent=50)
    levels = hwlib.run(["amixer", "-c", card.id, "sget", "Master"]).stdout
    assert "[100%]" not in levels, f"Master did not move from 100%:\n{levels}"
    path = hwlib.write_wav(t.tmp / "scaled.wav", hwlib.pad(scaled, after_seconds=0.2))
    hwlib.run(["aplay", "-q", "-M", "-D", card.hw(0), str(path)])
    t.expect_hda(scaled, label="signal played at Master 50%", present=False)
    hwlib.play_on_hda(t, hwlib.counter(12000, start=777), label="signal played at Master 100% after it")
    # Master back at 100% for the tests after this one: hda_card() above did that.
