# pcmd serving several real cards at once (issue 13): the HDA card and snd-aloop served by one daemon under
# their stable names, a pcmplay client on each at the same time, both bit-exact (the HDA output in qemu's WAV
# on the host, the loopback's in what arecord captures on its other end); with no --device, every card's
# devices served, listed by `pcmctl devices` with the default marked, and `pcmctl default` followed by a
# client that names no device; a playing stream moved from snd-aloop to the HDA card with nothing skipped or
# repeated; a card loaded after pcmd started served and usable. (The card pulled mid-stream is in
# test_unplug.py.)
#
# Buffers as in test_pcmd_clients: 4096-frame periods x 4 and 500 ms clients, because the emulated machine
# stalls; these tests are about which device gets which bits, not latency.
import re
import time

import numpy as np

import hwlib

from test_pcmd_clients import CLIENT_LATENCY_MS, RATE, _pcmctl, _wait_for_streams
from test_pcmd_clients import _pcmd as _serve


def _pcmd(t, socket, *args: str) -> hwlib.Background:
    """pcmd serving `socket` with a state directory of the test's own; returns once pcmctl gets an answer."""
    return _serve(t, socket, "--state-directory", str(t.tmp / "state"), *args)


def _devices(t, socket) -> list[dict[str, str]]:
    """`pcmctl devices` as rows of column name -> value."""
    lines = [line for line in hwlib.run(_pcmctl(t, socket, "devices"), timeout=60).stdout.splitlines() if line.strip()]
    header = lines[0].split()
    rows = []
    for line in lines[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        hwlib.check(len(cells) >= len(header) - 1, f"unexpected pcmctl devices row {line!r} for header {header}")
        rows.append(dict(zip(header, cells)))
    return rows


def _pcmplay(t, socket, path, name: str, device: str | None) -> list[str]:
    command = [str(t.product("pcmplay")), "--socket", str(socket), "--quiet", "--latency", CLIENT_LATENCY_MS,
               "--name", name]
    if device is not None:
        command += ["--device", device]
    return command + [str(path)]


@hwlib.timeout(300)
def test_two_cards_two_clients_bit_exact(t):
    hda = hwlib.hda_card()
    loop = hwlib.load_driver("snd-aloop")
    socket = t.tmp / "socket"
    hda_name, loop_name = f"{hda.id},0", f"{loop.id},0"
    # Every frame distinct on each card, and the two signals different from each other.
    to_hda = hwlib.counter(hwlib.frames_for(1.5, RATE))
    to_loop = hwlib.Audio((hwlib.counter(hwlib.frames_for(1.5, RATE)).frames.astype(np.int32) * -1 - 1).astype(np.int16), RATE)
    # The HDA output loses a stream's last ~30 ms when it stops: silence after what is checked.
    hda_path = hwlib.write_wav(t.tmp / "to-hda.wav", hwlib.pad(to_hda, after_seconds=0.3))
    loop_path = hwlib.write_wav(t.tmp / "to-loop.wav", to_loop)
    captured_path = t.dir / "loopback-capture.wav"

    daemon = _pcmd(t, socket, "--device", hda_name, "--device", loop_name)
    rows = _devices(t, socket)
    hwlib.check([r["DEVICE"] for r in rows] == [hda_name, loop_name], f"devices listed: {rows}")
    hwlib.check([r["DEFAULT"] for r in rows] == ["yes", "no"], f"the first device served is the default: {rows}")
    # The loopback's other end records what pcmd plays into Loopback,0.
    recorder = hwlib.start(["arecord", "-q", "-D", loop.hw(1, 0), "-f", "S16_LE", "-r", str(RATE), "-c", "2",
                            "-d", "6", str(captured_path)])
    hwlib.wait_for_state(loop, 1, "c", 0, "RUNNING")
    players = [hwlib.start(_pcmplay(t, socket, hda_path, "to-hda", hda_name)),
               hwlib.start(_pcmplay(t, socket, loop_path, "to-loop", loop_name))]
    _wait_for_streams(t, socket, lambda rows: {"to-hda", "to-loop"} <= {r["NAME"] for r in rows}, "both players")
    for player in players:
        result = player.wait(timeout=120)
        hwlib.check(not result.stderr.strip(), f"client complaint: {result.stderr.strip()}")
    recorder.wait(timeout=120)
    daemon.stop(check=True)
    t.expect_hda(to_hda, label="the HDA card's client, served beside the loopback")
    match = hwlib.assert_bit_exact(to_loop, hwlib.read_wav(captured_path))
    t.log(f"the loopback's client found at frame {match.offset} of the capture")


@hwlib.timeout(300)
def test_every_card_served_and_default_followed(t):
    hda = hwlib.hda_card()
    dummy = hwlib.load_driver("snd-dummy")
    loop = hwlib.load_driver("snd-aloop")
    socket = t.tmp / "socket"
    daemon = _pcmd(t, socket)
    rows = _devices(t, socket)
    names = [r["DEVICE"] for r in rows]
    for card in (hda, dummy, loop):
        hwlib.check(f"{card.id},0" in names, f"{card.id},0 is not served with no --device: {names}")
    hwlib.check(sum(r["DEFAULT"] == "yes" for r in rows) == 1, f"exactly one default device: {rows}")
    hwlib.check(all(r["STATE"] == "running" for r in rows), f"every device streams: {rows}")

    # Device 0 follows `pcmctl default`: a player that names no device lands on the dummy card.
    hwlib.run(_pcmctl(t, socket, "default", f"{dummy.id},0"), timeout=60)
    shown = hwlib.run(_pcmctl(t, socket, "default"), timeout=60).stdout.strip()
    hwlib.check(shown == f"{dummy.id},0", f"pcmctl default shows {shown!r}")
    tone = hwlib.write_wav(t.tmp / "tone.wav", hwlib.sine(440, 3, amplitude=0.1))
    player = hwlib.start(_pcmplay(t, socket, tone, "follower", None))
    streams = _wait_for_streams(t, socket, lambda rows: any(r["NAME"] == "follower" for r in rows), "the player")
    device_ids = {r["DEVICE"]: r["ID"] for r in rows}
    row = next(r for r in streams if r["NAME"] == "follower")
    hwlib.check(row["DEV"] == device_ids[f"{dummy.id},0"], f"the player went to device {row['DEV']}, not the dummy card")
    hwlib.check(not player.wait(timeout=120).stderr.strip(), "the player complained")
    result = daemon.stop(check=True)
    lost = [line for line in result.stderr.splitlines() if "device not served" in line]
    t.log(f"devices served: {names}; left out: {lost}")


@hwlib.timeout(300)
def test_move_from_loopback_to_hda_nothing_skipped_or_repeated(t):
    # The stream starts on snd-aloop, whose other end shows exactly which frames it played, and is moved to
    # the HDA card mid-stream with `pcmctl move`: the loopback must hold the counter up to some frame k and
    # nothing of it after, and qemu's HDA output the counter from frame k to the end, bit for bit. (A move
    # from snd-dummy could not show the frame it stopped at: its output is thrown away.)
    hda = hwlib.hda_card()
    loop = hwlib.load_driver("snd-aloop")
    socket = t.tmp / "socket"
    hda_name, loop_name = f"{hda.id},0", f"{loop.id},0"
    signal = hwlib.counter(hwlib.frames_for(4, RATE))
    path = hwlib.write_wav(t.tmp / "counter.wav", hwlib.pad(signal, after_seconds=0.3))
    captured_path = t.dir / "loopback-capture.wav"
    daemon = _pcmd(t, socket, "--device", loop_name, "--device", hda_name)
    recorder = hwlib.start(["arecord", "-q", "-D", loop.hw(1, 0), "-f", "S16_LE", "-r", str(RATE), "-c", "2",
                            "-d", "10", str(captured_path)])
    hwlib.wait_for_state(loop, 1, "c", 0, "RUNNING")
    player = hwlib.start(_pcmplay(t, socket, path, "moving", loop_name))
    rows = _wait_for_streams(t, socket, lambda rows: any(r["NAME"] == "moving" and r["STATE"] == "running" for r in rows),
                             "the player running")
    stream_id = next(r["ID"] for r in rows if r["NAME"] == "moving")
    time.sleep(1.5)
    hwlib.run(_pcmctl(t, socket, "move", stream_id, hda_name), timeout=60)
    result = player.wait(timeout=120)
    hwlib.check(not result.stderr.strip(), f"the player complained: {result.stderr.strip()}")
    recorder.wait(timeout=120)
    stopped = daemon.stop(check=True)
    hwlib.check("stream moved" in stopped.stderr, "pcmd did not log the move")

    # Where the loopback's part ends: the counter from its first frame, then never again.
    captured = hwlib.read_wav(captured_path)
    start = hwlib.find_bit_exact(hwlib.Audio(signal.frames[:RATE // 10], RATE), captured).offset
    frames = captured.frames[start:start + signal.frame_count]
    same = (frames == signal.frames[:len(frames)]).all(axis=1)
    k = int(np.argmin(same)) if not same.all() else len(frames)
    hwlib.check(RATE // 2 < k < signal.frame_count - RATE // 2, f"the loopback played {k} frames before the move")
    after = captured.frames[start + k:]
    hwlib.check(not after.any(), "the loopback played something after the move that was not the counter's next frame")
    t.log(f"moved after frame {k} of {signal.frame_count}")
    rest = hwlib.Audio(signal.frames[k:], RATE)
    t.expect_hda(rest, label=f"the moved stream's counter from frame {k} on, on the HDA card")


@hwlib.timeout(300)
def test_card_loaded_after_start_is_served_and_usable(t):
    # Hotplug: with no --device, a card that appears while pcmd runs (snd-aloop loaded after the start) is
    # opened, listed under its stable name, announced in the log, and plays bit-exact.
    hwlib.hda_card()
    if "snd-aloop" in hwlib.loaded_modules():
        hwlib.run(["rmmod", "snd_aloop"], timeout=60)
    socket = t.tmp / "socket"
    daemon = _pcmd(t, socket)
    before = [r["DEVICE"] for r in _devices(t, socket)]
    hwlib.check(not any(name.startswith("Loopback,") for name in before), f"the loopback is served before it exists: {before}")
    loop = hwlib.load_driver("snd-aloop")
    deadline = time.monotonic() + 30
    while f"{loop.id},0" not in [r["DEVICE"] for r in _devices(t, socket)]:
        if time.monotonic() > deadline:
            hwlib.fail(f"{loop.id},0 not served 30 s after the module loaded: {_devices(t, socket)}")
        time.sleep(0.2)
    t.log(f"devices before: {before}; after: {[r['DEVICE'] for r in _devices(t, socket)]}")

    signal = hwlib.counter(hwlib.frames_for(1, RATE))
    path = hwlib.write_wav(t.tmp / "counter.wav", hwlib.pad(signal, after_seconds=0.3))
    captured_path = t.dir / "loopback-capture.wav"
    recorder = hwlib.start(["arecord", "-q", "-D", loop.hw(1, 0), "-f", "S16_LE", "-r", str(RATE), "-c", "2",
                            "-d", "5", str(captured_path)])
    hwlib.wait_for_state(loop, 1, "c", 0, "RUNNING")
    result = hwlib.run(_pcmplay(t, socket, path, "late-card", f"{loop.id},0"), timeout=120, check=False)
    hwlib.check(result.returncode == 0 and not result.stderr.strip(), f"playing on the new card: {result.stderr.strip()}")
    recorder.wait(timeout=120)
    stopped = daemon.stop(check=True)
    hwlib.check("device plugged in: serving it" in stopped.stderr, "pcmd did not log the new card")
    hwlib.assert_bit_exact(signal, hwlib.read_wav(captured_path))
