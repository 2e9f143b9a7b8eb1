#!/usr/bin/python3
# Measurement, not a test: for each period size, 30 s of playback on snd-dummy with 2 periods per
# buffer, by pcmd and by `aplay -M` (the floor: no daemon), and the xruns each reported.
# Run inside the VM of scripts/hwtest (see tests/hardware/README.md), e.g.:
#   vng -r /boot/vmlinuz-*-amd64 --disable-kvm --force-9p --exec \
#     "python3 tests/hardware/measure/min_period.py .build/release/pcmd"
import re
import subprocess
import sys

PCMD = sys.argv[1]
SECONDS = int(sys.argv[2]) if len(sys.argv) > 2 else 30
PERIODS = [int(p) for p in sys.argv[3].split(",")] if len(sys.argv) > 3 else [512, 256, 128, 64]

subprocess.run(["modprobe", "snd-dummy"], check=True)
subprocess.run(["sox", "-n", "-r", "48000", "-c", "2", "-b", "16", "/tmp/sine.wav", "synth", str(SECONDS + 2), "sine", "440", "vol", "0.5"], check=True)
print(f"{'period':>7} {'pcmd xruns':>11} {'aplay xruns':>12}", flush=True)
for period in PERIODS:
    # Both play the same file, so both do the same work per frame.
    pcmd = subprocess.run([PCMD, "--device", "hw:Dummy,0", "--source", "file:/tmp/sine.wav", "--period", str(period), "--periods", "2",
                           "--duration", str(SECONDS)], capture_output=True, text=True)
    found = [re.search(r"pcm\.xruns=(\d+)", line).group(1) for line in pcmd.stderr.splitlines()
             if "audio thread stopped" in line and "pcm.xruns=" in line]
    pcmd_xruns = found[-1] if found else f"? (exit {pcmd.returncode})"
    aplay = subprocess.run(["aplay", "-M", "-D", "hw:Dummy,0", f"--period-size={period}", f"--buffer-size={2 * period}",
                            "/tmp/sine.wav"], capture_output=True, text=True)
    aplay_xruns = aplay.stderr.count("underrun!!!")
    print(f"{period:>7} {pcmd_xruns:>11} {aplay_xruns:>12}", flush=True)
