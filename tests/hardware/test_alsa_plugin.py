# Unmodified ALSA applications through the pcmd ALSA plugin, with pcmd serving real kernel drivers: aplay (RW and
# mmap) reaches qemu's HDA output bit for bit; arecord records snd-aloop bit for bit; speaker-test, sox, GStreamer
# (alsasink and alsasrc) and mpv play and record through it; alsabat's frequency check passes through pcmd and
# snd-aloop in each direction and on the round trip; an aplay stopped longer than its buffer reports an underrun
# and recovers; a daemon killed under aplay makes it exit with an error instead of hanging.
#
# The applications find the plugin as the fast tier's do: ALSA_PLUGIN_DIR is the build folder (the product
# asound_module_pcm_pcmd), ALSA_CONFIG_PATH adds the repository's alsa/50-pcmd.conf, which defines `pcmd`, to
# alsa-lib's own configuration, and PCMD_SOCKET names the test's daemon.
#
# What pcmd plays into snd-aloop's playback end is read back by arecord on the capture end (hw:Loopback,1,0),
# which snd-aloop delivers unchanged (test_pcmd_streaming.py's capture test relies on the same). Buffers are
# large, as in test_pcmd_clients.py (4096-frame periods x 4): the emulated machine stalls for tens to hundreds of
# milliseconds, and these tests are about bits, counts and recovery, not latency.
import os
import re
import signal as signals
import time

import numpy as np

import hwlib

RATE = 48000
PERIOD = ["--period", "4096", "--periods", "4"]
PLUGIN_FILE = "libasound_module_pcm_pcmd.so"
# The emulated guest starts programs slowly (GStreamer scans its plugins on first use): generous timeouts.
APP_TIMEOUT = 150


def _pcmd(t, *args: str) -> hwlib.Background:
    """Starts pcmd serving t.tmp/socket and waits until pcmctl gets an answer from it."""
    socket = t.tmp / "socket"
    daemon = hwlib.start([str(t.product("pcmd")), "--socket", str(socket), "--log-level", "info", *PERIOD, *args])
    deadline = time.monotonic() + 60
    while True:
        if not daemon.running():
            result = daemon.wait(check=False)
            hwlib.fail(f"pcmd exited with status {result.returncode} before serving clients:\n{result.stderr[-3000:]}")
        answer = hwlib.run([str(t.product("pcmctl")), "devices", "--socket", str(socket)], check=False, timeout=60)
        if answer.returncode == 0:
            return daemon
        if time.monotonic() > deadline:
            hwlib.fail(f"pcmd did not serve {socket} within 60 s: {answer.stderr}")
        time.sleep(0.2)


def _apps(t) -> dict[str, str]:
    """The environment of an ALSA application using the plugin and the test's daemon."""
    plugin = t.product(PLUGIN_FILE)
    return {
        "ALSA_PLUGIN_DIR": str(plugin.parent),
        "ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{t.repo() / 'alsa' / '50-pcmd.conf'}",
        "PCMD_SOCKET": str(t.tmp / "socket"),
        # Writable homes for GStreamer's registry and mpv's state; no user daemon elsewhere.
        "HOME": str(t.tmp),
        "XDG_CONFIG_HOME": str(t.tmp),
        "XDG_RUNTIME_DIR": str(t.tmp),
        "GST_REGISTRY": str(t.tmp / "gst-registry.bin"),
        # alsabat 1.2.8 fails before opening anything in a UTF-8 locale (a stale errno).
        "LC_ALL": "C",
    }


def _run_app(t, argv: list[str], timeout: float = APP_TIMEOUT, check: bool = True) -> hwlib.Result:
    started = time.monotonic()
    result = hwlib.run(argv, timeout=timeout, check=check, env=_apps(t))
    t.log(f"{argv[0]} took {time.monotonic() - started:.2f} s, exit status {result.returncode}")
    return result


def _start_app(t, argv: list[str]) -> hwlib.Background:
    return hwlib.start(argv, env=_apps(t))


def _wait_for_stream(t, condition, what: str, timeout: float = 60) -> None:
    """Waits until a row of `pcmctl streams` (as a line of text) satisfies `condition`."""
    deadline = time.monotonic() + timeout
    while True:
        listing = hwlib.run([str(t.product("pcmctl")), "streams", "--socket", str(t.tmp / "socket")],
                            timeout=60).stdout
        if any(condition(line) for line in listing.splitlines()[1:]):
            return
        if time.monotonic() > deadline:
            hwlib.fail(f"{what} not seen within {timeout} s:\n{listing}")
        time.sleep(0.2)


def _loopback_recorder(t, card: hwlib.Card, name: str) -> tuple[hwlib.Background, os.PathLike]:
    """arecord on snd-aloop's capture end (what pcmd plays into the playback end), running before it returns."""
    path = t.dir / name
    recorder = hwlib.start(["arecord", "-q", "-D", card.hw(1, 0), "-f", "S16_LE", "-r", str(RATE), "-c", "2",
                            "-t", "wav", str(path)])
    hwlib.wait_for_state(card, 1, "c", 0, "RUNNING")
    return recorder, path


def _stop_recorder(recorder: hwlib.Background, path, after_seconds: float = 1.5) -> hwlib.Audio:
    """Lets the last audio pass pcmd's 341 ms buffer, stops arecord (SIGINT: it closes the WAV properly)."""
    time.sleep(after_seconds)
    recorder.stop(signals.SIGINT)
    return hwlib.read_wav(path)


def _heard(audio: hwlib.Audio) -> hwlib.Audio:
    first, last = hwlib.nonsilent_span(audio)
    hwlib.check(last > first, f"nothing but silence was recorded ({audio.describe()})")
    return audio.slice(first, last)


def _middle(audio: hwlib.Audio, seconds: float = 0.5) -> hwlib.Audio:
    frames = hwlib.frames_for(seconds, audio.rate)
    hwlib.check(audio.frame_count >= frames, f"only {audio.frame_count} frames of sound, expected at least {frames}")
    start = (audio.frame_count - frames) // 2
    return audio.slice(start, start + frames)


def _aplay_on_hda(t, mode: list[str], label: str) -> None:
    card = hwlib.hda_card()
    signal = hwlib.counter(RATE)  # 1 s, every frame distinct
    source = hwlib.write_wav(t.tmp / "source.wav", hwlib.pad(signal, after_seconds=0.3))
    daemon = _pcmd(t, "--device", card.hw(0))
    result = _run_app(t, ["aplay", "-q", "-D", "pcmd", *mode, str(source)])
    hwlib.check(not result.stderr.strip(), f"aplay {' '.join(mode)} complained: {result.stderr.strip()}")
    daemon.stop(check=True)
    t.expect_hda(signal, label=label)


def test_hda_aplay_bit_exact(t):
    _aplay_on_hda(t, [], "aplay -D pcmd (RW) through pcmd: a frame counter")


def test_hda_aplay_mmap_bit_exact(t):
    _aplay_on_hda(t, ["-M"], "aplay -M -D pcmd (mmap) through pcmd: a frame counter")


def _arecord_from_aloop(t, mode: list[str]) -> None:
    card = hwlib.load_driver("snd-aloop")
    signal = hwlib.counter(RATE)
    played = hwlib.write_wav(t.tmp / "played.wav", hwlib.pad(signal, after_seconds=0.3))
    daemon = _pcmd(t, "--device", card.hw(1, 0), "--mode", "capture")
    hwlib.wait_for_state(card, 1, "c", 0, "RUNNING")
    take = t.dir / "take.wav"
    recorder = _start_app(t, ["arecord", "-D", "pcmd", *mode, "-f", "S16_LE", "-r", str(RATE), "-c", "2", "-d", "6",
                              str(take)])
    # snd-aloop does not wait for its capture end: play only once arecord's stream exists.
    _wait_for_stream(t, lambda line: "arecord" in line, "arecord's stream")
    hwlib.run(["aplay", "-q", "-M", "-D", card.hw(0, 0), str(played)], timeout=60)
    result = recorder.wait(timeout=APP_TIMEOUT)
    daemon.stop(check=True)
    recorded = hwlib.read_wav(take)
    hwlib.check(recorded.frame_count == 6 * RATE, f"arecord -d 6 wrote {recorded.describe()}")
    hwlib.check("overrun" not in result.stderr, f"arecord reported an overrun: {result.stderr.strip()}")
    match = hwlib.assert_bit_exact(signal, recorded)
    t.log(f"arecord {' '.join(mode)}: the counter found at frame {match.offset} of {recorded.frame_count}")


def test_aloop_arecord_bit_exact(t):
    _arecord_from_aloop(t, [])


def test_aloop_arecord_mmap_bit_exact(t):
    _arecord_from_aloop(t, ["-M"])


def test_aloop_speaker_test(t):
    card = hwlib.load_driver("snd-aloop")
    daemon = _pcmd(t, "--device", card.hw(0, 0))
    recorder, path = _loopback_recorder(t, card, "speaker-test.wav")
    # One loop: a 440 Hz sine on the left channel, then on the right.
    result = _run_app(t, ["speaker-test", "-D", "pcmd", "-c", "2", "-r", str(RATE), "-t", "sine", "-f", "440",
                          "-l", "1"])
    recorded = _stop_recorder(recorder, path)
    daemon.stop(check=True)
    t.log(f"speaker-test said: {' | '.join(result.stdout.strip().splitlines()[-4:])}")
    for channel in (0, 1):
        only = hwlib.Audio(recorded.frames[:, [channel, channel]], RATE)
        tone = _middle(_heard(only))
        m = hwlib.measure_sine(tone, 0)
        t.log(f"channel {channel}: {_heard(only).frame_count} frames of sound, {m}")
        hwlib.check(abs(m.freq - 440) < 0.5 and m.thdn_db < -40, f"channel {channel} is not speaker-test's 440 Hz: {m}")


def test_aloop_sox_bit_exact(t):
    card = hwlib.load_driver("snd-aloop")
    signal = hwlib.counter(RATE)
    source = hwlib.write_wav(t.tmp / "source.wav", signal)
    daemon = _pcmd(t, "--device", card.hw(0, 0))
    recorder, path = _loopback_recorder(t, card, "sox.wav")
    _run_app(t, ["sox", "-q", str(source), "-t", "alsa", "pcmd"])
    recorded = _stop_recorder(recorder, path)
    daemon.stop(check=True)
    match = hwlib.assert_bit_exact(signal, recorded)
    t.log(f"sox -t alsa pcmd: the counter found at frame {match.offset} of {recorded.frame_count}")


@hwlib.timeout(400)
def test_aloop_gstreamer_alsasink_and_alsasrc(t):
    card = hwlib.load_driver("snd-aloop")
    daemon = _pcmd(t, "--device", card.hw(0, 0))
    recorder, path = _loopback_recorder(t, card, "alsasink.wav")
    # 150 buffers of 1024 frames: 3.2 s of a 440 Hz sine at 0.5 of full scale.
    _run_app(t, ["gst-launch-1.0", "-q", "audiotestsrc", "num-buffers=150", "freq=440", "volume=0.5", "!",
                 f"audio/x-raw,format=S16LE,rate={RATE},channels=2", "!", "alsasink", "device=pcmd"])
    recorded = _stop_recorder(recorder, path)
    daemon.stop(check=True)
    heard = _heard(recorded)
    t.log(f"alsasink: {heard.frame_count} frames of sound")
    hwlib.check(abs(heard.frame_count - 150 * 1024) < RATE // 10,
                f"alsasink played {heard.frame_count} frames of {150 * 1024}")
    m = hwlib.assert_sine(_middle(heard), 440, 0.5)
    breaks = hwlib.sine_breaks(heard, 440)
    t.log(f"alsasink: {m}; breaks in the sine: {len(breaks)}")
    hwlib.check(not breaks, f"the sine through alsasink broke: {[str(b) for b in breaks[:5]]}")

    # alsasrc: pcmd captures snd-aloop, GStreamer records through the plugin.
    signal = hwlib.counter(RATE)
    played = hwlib.write_wav(t.tmp / "played.wav", hwlib.pad(signal, after_seconds=0.3))
    daemon = _pcmd(t, "--device", card.hw(1, 0), "--mode", "capture")
    hwlib.wait_for_state(card, 1, "c", 0, "RUNNING")
    # Raw samples straight to a file (wavenc is in another package, plugins-good).
    take = t.dir / "alsasrc.raw"
    # 600 buffers of 10 ms (alsasrc's default): 6 s.
    source = _start_app(t, ["gst-launch-1.0", "-q", "alsasrc", "device=pcmd", "num-buffers=600", "!",
                            f"audio/x-raw,format=S16LE,rate={RATE},channels=2", "!", "filesink", f"location={take}"])
    _wait_for_stream(t, lambda line: "gst-launch" in line, "alsasrc's stream")
    hwlib.run(["aplay", "-q", "-M", "-D", card.hw(0, 0), str(played)], timeout=60)
    source.wait(timeout=APP_TIMEOUT)
    daemon.stop(check=True)
    recorded = hwlib.from_bytes(take.read_bytes(), 2, RATE)
    match = hwlib.assert_bit_exact(signal, recorded)
    t.log(f"alsasrc: the counter found at frame {match.offset} of {recorded.frame_count}")


@hwlib.timeout(400)
def test_aloop_mpv(t):
    card = hwlib.load_driver("snd-aloop")
    tone = hwlib.sine(997, 3, amplitude=0.5)
    source = hwlib.write_wav(t.tmp / "tone.wav", hwlib.pad(tone, after_seconds=0.3))
    daemon = _pcmd(t, "--device", card.hw(0, 0))
    recorder, path = _loopback_recorder(t, card, "mpv.wav")
    _run_app(t, ["mpv", "--no-config", "--really-quiet", "--no-video", "--ao=alsa", "--audio-device=alsa/pcmd",
                 str(source)])
    recorded = _stop_recorder(recorder, path)
    daemon.stop(check=True)
    heard = _heard(recorded)
    m = hwlib.measure_sine(_middle(heard), 0)
    t.log(f"mpv: {heard.frame_count} frames of sound for {tone.frame_count}; {m}")
    # At 100% volume mpv hands the file's S16 samples on unchanged (checked on the host), and so does the plugin.
    match = hwlib.assert_bit_exact(tone, recorded)
    t.log(f"mpv: the file found bit-exact at frame {match.offset} of {recorded.frame_count}")


def _alsabat_tone(t, device: str) -> hwlib.Background:
    """alsabat playing its 997 Hz tone (both channels) on `device`, at the device format (snd-aloop's two ends must
    agree on it), for longer than any check takes (it is stopped after the check). alsabat -P alone only plays."""
    return _start_app(t, ["alsabat", "-P", device, "-c", "2", "-r", str(RATE), "-f", "S16_LE", "-n", "60s"])


def _device_xruns(log: str) -> str:
    counts = re.findall(r"audio thread stopped .*?pcm\.stream=(\w+) pcm\.xruns=(\d+)", log)
    return ", ".join(f"{stream} {count}" for stream, count in counts) or "not reported"


def _alsabat_check(t, device: str, tone: hwlib.Background, daemon: hwlib.Background) -> None:
    """alsabat recording 2 s from `device` and running its frequency check on them, while `tone` plays.

    Capture and playback in one alsabat (-P/-C, -D) do not work through a sound server in the emulated guest:
    alsabat analyses the first 65536 frames it records and cancels the capture when its playback ends, so the
    path's latency (the plugin's buffer plus pcmd's 341 ms) leaves silence in the analysed window (a burst, whose
    spectrum has many peaks: "Detected at least 10 signals", -1003) or an empty recording ("not a riff/wave file").
    Here the tone plays on its own, and the check records once it flows."""
    time.sleep(3)
    hwlib.check(tone.running(), "alsabat's tone ended before the check recorded it")
    result = _run_app(t, ["alsabat", "-C", device, "-c", "2", "-r", str(RATE), "-f", "S16_LE", "-n", "2s", "-F", "997"],
                      check=False)
    still_playing = tone.running()
    tone.stop(signals.SIGTERM)
    stopped = daemon.stop(check=True)
    verdicts = [line.strip() for line in result.stdout.splitlines()
                if re.search(r"(?i)detected|pass|fail|return value", line)]
    xruns = _device_xruns(stopped.stderr)
    t.log(f"alsabat -C {device}: exit status {result.returncode}; {' | '.join(verdicts)}; pcmd device xruns: {xruns}")
    hwlib.check(still_playing, "alsabat's tone ended while the check recorded: the window is not all tone")
    hwlib.check(result.returncode == 0, f"alsabat -C {device} failed its check (exit status {result.returncode}; "
                                         f"pcmd device xruns: {xruns}; host load {os.getloadavg()[0]:.1f}):\n"
                                         f"{result.stdout[-2000:]}\n{result.stderr[-1000:]}")


def test_aloop_alsabat_playback_through_pcmd(t):
    card = hwlib.load_driver("snd-aloop")
    daemon = _pcmd(t, "--device", card.hw(0, 0))
    tone = _alsabat_tone(t, "pcmd")
    _wait_for_stream(t, lambda line: "alsabat" in line and "running" in line, "alsabat's stream running")
    _alsabat_check(t, card.hw(1, 0), tone, daemon)


def test_aloop_alsabat_capture_through_pcmd(t):
    card = hwlib.load_driver("snd-aloop")
    daemon = _pcmd(t, "--device", card.hw(1, 0), "--mode", "capture")
    hwlib.wait_for_state(card, 1, "c", 0, "RUNNING")
    tone = _alsabat_tone(t, card.hw(0, 0))
    _alsabat_check(t, "pcmd", tone, daemon)


def test_aloop_alsabat_round_trip_through_pcmd(t):
    # pcmd plays into one end of the cable and records the other: the tone goes through the plugin and the daemon
    # out, and back in through the daemon and the plugin.
    card = hwlib.load_driver("snd-aloop")
    daemon = _pcmd(t, "--mode", "duplex", "--device", card.hw(0, 0), "--capture-device", card.hw(1, 0))
    hwlib.wait_for_state(card, 1, "c", 0, "RUNNING")
    tone = _alsabat_tone(t, "pcmd")
    _wait_for_stream(t, lambda line: "alsabat" in line and "running" in line, "alsabat's stream running")
    _alsabat_check(t, "pcmd", tone, daemon)


@hwlib.timeout(300)
def test_aloop_aplay_stalled_reports_underrun_and_recovers(t):
    card = hwlib.load_driver("snd-aloop")
    signal = hwlib.counter(6 * RATE)
    source = hwlib.write_wav(t.tmp / "six-seconds.wav", signal)
    daemon = _pcmd(t, "--device", card.hw(0, 0))
    recorder, path = _loopback_recorder(t, card, "stalled.wav")
    # aplay's default buffer is at most 500 ms; it is stopped for 2 s.
    player = _start_app(t, ["aplay", "-D", "pcmd", str(source)])
    _wait_for_stream(t, lambda line: "aplay" in line and "running" in line, "aplay's stream running")
    time.sleep(1.5)
    player.send_signal(signals.SIGSTOP)
    time.sleep(2)
    player.send_signal(signals.SIGCONT)
    result = player.wait(timeout=APP_TIMEOUT, check=False)
    recorded = _stop_recorder(recorder, path)
    daemon.stop(check=True)
    long = re.search(r"underrun!!! \(at least ([0-9.]+) ms long\)", result.stderr)
    t.log(f"aplay: exit status {result.returncode}; {result.stderr.strip()}")
    hwlib.check(result.returncode == 0, f"aplay did not recover from the stall: exit status {result.returncode}")
    hwlib.check(long is not None, f"aplay reported no underrun after a 2 s stall: {result.stderr.strip()}")
    # aplay measures the underrun from the PCM's trigger time: a time on the wrong clock shows as decades.
    hwlib.check(0 <= float(long.group(1)) < 60_000, f"aplay reports an underrun {long.group(1)} ms long for a 2 s stall")
    # Recovery: everything after the stall arrived, in one piece (the file's last 2 s, bit for bit).
    tail = signal.slice(4 * RATE)
    match = hwlib.assert_bit_exact(tail, recorded)
    gaps = hwlib.silent_runs(_heard(recorded), min_frames=RATE // 10)
    t.log(f"the file's last 2 s found at frame {match.offset}; gaps of 100 ms or more: {gaps}")
    hwlib.check(len(gaps) >= 1, "no gap where aplay was stopped: the underrun was not real")


@hwlib.timeout(300)
def test_dummy_daemon_killed_under_aplay(t):
    card = hwlib.load_driver("snd-dummy")
    source = hwlib.write_wav(t.tmp / "long.wav", hwlib.sine(440, 30, amplitude=0.2))
    for mode in ([], ["-M"]):
        daemon = _pcmd(t, "--device", card.hw(0))
        player = _start_app(t, ["aplay", "-D", "pcmd", *mode, str(source)])
        _wait_for_stream(t, lambda line: "aplay" in line and "running" in line, "aplay's stream running")
        time.sleep(1)
        daemon.send_signal(signals.SIGKILL)
        killed = time.monotonic()
        result = player.wait(timeout=60, check=False)
        seconds = time.monotonic() - killed
        daemon.wait(timeout=20, check=False)
        t.log(f"aplay {' '.join(mode)}: exit status {result.returncode} {seconds:.2f} s after SIGKILL of pcmd; "
              f"{result.stderr.strip()}")
        hwlib.check(result.returncode != 0, f"aplay {' '.join(mode)} exited 0 with its daemon gone")
        hwlib.check("No such device" in result.stderr,
                    f"aplay {' '.join(mode)} did not fail with ENODEV: {result.stderr.strip()}")
        # Emulated time: generous, but far from the 30 s the file lasts.
        hwlib.check(seconds < 10, f"aplay {' '.join(mode)} took {seconds:.1f} s to notice its daemon was gone")
