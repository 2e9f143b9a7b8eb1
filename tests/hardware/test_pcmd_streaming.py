# pcmd on real kernel drivers: playback through snd-hda-intel reaches qemu's WAV bit for bit, capture
# from snd-aloop reaches pcmd's sink bit for bit, full duplex on snd-dummy runs without xruns, and a
# stalled daemon (SIGSTOP longer than its buffer) has its xrun detected, counted and recovered.
import re
import signal as signals
import time

import hwlib

RATE = 48000


def _pcmd(t, *args: str) -> list[str]:
    return [str(t.product("pcmd")), "--log-level", "debug", *args]


def _xruns(log: str, stream: str) -> int:
    """The xrun count of `stream` from pcmd's 'audio thread stopped' line."""
    for line in log.splitlines():
        if "audio thread stopped" in line and f"pcm.stream={stream}" in line:
            found = re.search(r"pcm\.xruns=(\d+)", line)
            if found:
                return int(found.group(1))
    hwlib.fail(f"pcmd did not report how its {stream} stream stopped:\n{log[-3000:]}")


def _negotiated(log: str, stream: str) -> dict[str, str]:
    for line in log.splitlines():
        if "device opened" in line and f"pcm.stream={stream}" in line:
            return dict(re.findall(r"(pcm\.[a-z-]+)=(\S+)", line))
    hwlib.fail(f"pcmd did not log the {stream} configuration it negotiated:\n{log[-3000:]}")


def test_hda_playback_bit_exact(t):
    card = hwlib.hda_card()
    signal = hwlib.counter(RATE)  # 1 s, every frame distinct
    source = hwlib.write_wav(t.tmp / "source.wav", signal)
    # This test is about bits, not latency: a buffer as large as aplay's default (340 ms), so
    # that the emulated machine's stalls (qemu TCG on a shared host) cannot cause an xrun.
    result = hwlib.run(_pcmd(t, "--device", card.hw(0), "--source", f"file:{source}",
                             "--period", "4096", "--periods", "4", "--duration", "2.5"), timeout=120)
    t.expect_hda(signal, label="pcmd playing a frame counter from its built-in file source")
    config = _negotiated(result.stderr, "playback")
    hwlib.check(config.get("pcm.access") == "MMAP_INTERLEAVED", f"access: {config}")
    hwlib.check(config.get("pcm.period") == "4096" and config.get("pcm.buffer") == "16384", f"sizes: {config}")
    hwlib.check(_xruns(result.stderr, "playback") == 0, "xruns during HDA playback")


def test_aloop_capture_bit_exact(t):
    card = hwlib.load_driver("snd-aloop")
    signal = hwlib.counter(RATE)
    played = hwlib.write_wav(t.tmp / "played.wav", hwlib.pad(signal, after_seconds=0.3))
    captured_path = t.dir / "captured.wav"
    pcmd = hwlib.start(_pcmd(t, "--device", card.hw(1, 0), "--mode", "capture",
                             "--sink", f"file:{captured_path}", "--period", "4096", "--periods", "4"))
    # snd-aloop does not wait for its capture end: play only once pcmd records.
    hwlib.wait_for_state(card, 1, "c", 0, "RUNNING")
    hwlib.run(["aplay", "-q", "-M", "-D", card.hw(0, 0), str(played)], timeout=60)
    # The last frames pass through two 340 ms buffers (aplay's and pcmd's) before the sink has them.
    time.sleep(1.5)
    result = pcmd.stop(signals.SIGTERM, check=True)
    captured = hwlib.read_wav(captured_path)
    match = hwlib.assert_bit_exact(signal, captured)
    t.log(f"found at frame {match.offset} of {captured.frame_count}")
    hwlib.check(_xruns(result.stderr, "capture") == 0, "xruns during loopback capture")


def test_dummy_full_duplex_30s_no_xruns(t):
    card = hwlib.load_driver("snd-dummy")
    result = hwlib.run(_pcmd(t, "--device", card.hw(0), "--mode", "duplex", "--source", "sine", "--duration", "30"),
                       timeout=180)
    playback, capture = _xruns(result.stderr, "playback"), _xruns(result.stderr, "capture")
    config = _negotiated(result.stderr, "playback")
    t.log(f"defaults negotiated: {config}; xruns playback={playback} capture={capture}")
    hwlib.check(playback == 0 and capture == 0, f"xruns in 30 s of duplex: playback {playback}, capture {capture}")


def test_stall_xrun_detected_and_recovered(t):
    card = hwlib.load_driver("snd-dummy")
    pcmd = hwlib.start(_pcmd(t, "--device", card.hw(0), "--source", "sine", "--period", "256"))
    hwlib.wait_for_state(card, 0, "p", 0, "RUNNING")
    time.sleep(1)
    # Stop the whole daemon for far longer than its 16 ms buffer: the device must run dry.
    pcmd.send_signal(signals.SIGSTOP)
    time.sleep(1.5)
    pcmd.send_signal(signals.SIGCONT)
    time.sleep(2)
    state = hwlib.substream_state(card, 0, "p", 0)
    result = pcmd.stop(signals.SIGTERM, check=True)
    hwlib.check(state == "RUNNING", f"after the stall the device is {state}, not streaming again")
    hwlib.check("xrun recovered" in result.stderr, f"no xrun was reported:\n{result.stderr[-3000:]}")
    hwlib.check(_xruns(result.stderr, "playback") >= 1, "the xrun was not counted")
    starts = result.stderr.count("device started")
    hwlib.check(starts >= 2, f"the stream was not restarted after the xrun ({starts} starts)")


def test_device_that_appears_later_is_opened(t):
    # The card is not there when pcmd starts (a USB interface not yet plugged in): pcmd waits for
    # it in the background, then streams once the driver loads.
    if "snd-dummy" in hwlib.loaded_modules():
        hwlib.run(["modprobe", "-r", "snd-dummy"])
    pcmd = hwlib.start(_pcmd(t, "--device", "hw:Dummy,0", "--source", "sine", "--period", "1024"))
    time.sleep(2)
    hwlib.check(pcmd.running(), "pcmd gave up on a card that is not there yet")
    card = hwlib.load_driver("snd-dummy")
    hwlib.wait_for_state(card, 0, "p", 0, "RUNNING", timeout=30)
    result = pcmd.stop(signals.SIGTERM, check=True)
    hwlib.check("device not available; retrying in the background" in result.stderr, "the missing card was not reported")
    hwlib.check("device back" in result.stderr, f"the card's arrival was not reported:\n{result.stderr[-3000:]}")
