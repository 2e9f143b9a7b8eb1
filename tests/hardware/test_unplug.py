# A card pulled mid-stream (issues 12 and 13): the HDA controller's PCI function is removed while a client
# plays on it (`echo 1 > /sys/bus/pci/devices/<hda>/remove`). pcmd survives, the client's stream moves to
# the default device (snd-dummy here) and plays on to its end, the dummy card never xruns; after
# `echo 1 > /sys/bus/pci/rescan` the card is back under the same stable name, pcmd reopens it by itself
# and new streams play on it again.
#
# This file sorts last on purpose: it takes the HDA card away, and although it brings it back, the other
# tests' HDA checks should not depend on a rescan.
import os
import time
from pathlib import Path

import hwlib

from test_pcmd_clients import CLIENT_LATENCY_MS, _wait_for_streams
from test_pcmd_devices import _devices, _pcmd


def _wait_until(condition, what: str, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            hwlib.fail(f"{what} not seen within {timeout} s")
        time.sleep(0.2)


@hwlib.timeout(420)
def test_hda_removed_mid_stream_stream_moves_to_default_and_card_comes_back(t):
    hda = hwlib.hda_card()
    dummy = hwlib.load_driver("snd-dummy")
    socket = t.tmp / "socket"
    hda_name, dummy_name = f"{hda.id},0", f"{dummy.id},0"
    pci = Path(os.path.realpath(f"/sys/class/sound/card{hda.index}/device"))
    hwlib.check((pci / "remove").exists(), f"the HDA card's device {pci} has no PCI remove file")
    t.log(f"HDA card {hda.id} (card {hda.index}) is PCI function {pci.name}")

    # The dummy card is served first, so it is the default device.
    daemon = _pcmd(t, socket, "--device", dummy_name, "--device", hda_name)
    ids = {r["DEVICE"]: r["ID"] for r in _devices(t, socket)}
    tone = hwlib.write_wav(t.tmp / "tone.wav", hwlib.sine(440, 12, amplitude=0.1))
    player = hwlib.start([str(t.product("pcmplay")), "--socket", str(socket), "--quiet", "--latency", CLIENT_LATENCY_MS,
                          "--name", "unplugged", "--device", hda_name, str(tone)])
    _wait_for_streams(t, socket, lambda rows: any(r["NAME"] == "unplugged" and r["STATE"] == "running" and r["DEV"] == ids[hda_name]
                                                  for r in rows), "the player running on the HDA card")
    time.sleep(2)

    Path(pci / "remove").write_text("1")
    t.log("HDA PCI function removed")
    _wait_for_streams(t, socket, lambda rows: any(r["NAME"] == "unplugged" and r["DEV"] == ids[dummy_name] for r in rows),
                      "the stream moved to the default device", timeout=20)
    states = {r["DEVICE"]: r["STATE"] for r in _devices(t, socket)}
    hwlib.check(states.get(hda_name) == "failed" and states.get(dummy_name) == "running", f"device states after the removal: {states}")
    result = player.wait(timeout=120)
    hwlib.check(result.returncode == 0 and not result.stderr.strip(),
                f"the player did not play on to its end: status {result.returncode}, {result.stderr.strip()}")
    xruns = {r["DEVICE"]: r["XRUNS"] for r in _devices(t, socket)}
    hwlib.check(xruns.get(dummy_name) == "0", f"the default device xrunned while the HDA card went away: {xruns}")

    # Back: the same stable name, reopened by pcmd without being asked, and playing again.
    Path("/sys/bus/pci/rescan").write_text("1")
    back = hwlib.hda_card()
    t.log(f"HDA card back as card {back.index} ({back.id})")
    hwlib.check(f"{back.id},0" == hda_name, f"the card came back as {back.id}, not {hda.id}")
    _wait_until(lambda: {r["DEVICE"]: r["STATE"] for r in _devices(t, socket)}.get(hda_name) == "running",
                "pcmd reopening the HDA card", timeout=30)
    again = hwlib.run([str(t.product("pcmplay")), "--socket", str(socket), "--quiet", "--latency", CLIENT_LATENCY_MS,
                       "--name", "again", "--device", hda_name, str(hwlib.write_wav(t.tmp / "short.wav", hwlib.sine(880, 1, amplitude=0.1)))],
                      timeout=120, check=False)
    hwlib.check(again.returncode == 0 and not again.stderr.strip(), f"playing on the card that came back: {again.stderr.strip()}")
    stopped = daemon.stop(check=True)
    hwlib.check("device lost: stream moved" in stopped.stderr, "pcmd did not log the rescue")
    hwlib.check("device back" in stopped.stderr, "pcmd did not log the card's return")
