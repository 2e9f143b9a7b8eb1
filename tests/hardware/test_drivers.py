# The three kernel sound drivers the tier relies on load in the guest and register the cards and PCM
# devices the other tests use. If one of these fails, every later result is suspect.
import hwlib


def _has_playback_and_capture(card: hwlib.Card, device: int = 0) -> None:
    for stream in ("p", "c"):
        path = card.proc_dir() / f"pcm{device}{stream}"
        assert path.is_dir(), f"{card.id} has no {path}"


def test_hda_intel_loads(t):
    card = hwlib.load_driver("snd-hda-intel")
    hwlib.check(card.driver == "HDA-Intel", f"card {card.id} has driver {card.driver}, expected HDA-Intel")
    assert (card.proc_dir() / "pcm0p").is_dir(), "the HDA card has no playback device 0"
    listed = hwlib.run(["aplay", "-l"]).stdout
    assert f"card {card.index}: Intel" in listed, f"aplay -l does not list the HDA card:\n{listed}"
    # qemu's hda-output codec is the generic analog output with a Master control (what hda_card() sets).
    controls = hwlib.run(["amixer", "-c", card.id, "scontrols"]).stdout
    assert "'Master'" in controls, f"no Master control on the HDA card:\n{controls}"


def test_aloop_loads(t):
    card = hwlib.load_driver("snd-aloop")
    hwlib.check(card.driver == "Loopback", f"card {card.id} has driver {card.driver}, expected Loopback")
    _has_playback_and_capture(card, 0)
    _has_playback_and_capture(card, 1)
    assert (card.substream_dir(1, "c", 7)).is_dir(), "snd-aloop should have 8 substreams per device"


def test_dummy_loads(t):
    card = hwlib.load_driver("snd-dummy")
    hwlib.check(card.driver == "Dummy", f"card {card.id} has driver {card.driver}, expected Dummy")
    _has_playback_and_capture(card, 0)
    listed = hwlib.run(["arecord", "-l"]).stdout
    assert f"card {card.index}: Dummy" in listed, f"arecord -l does not list the dummy card:\n{listed}"
