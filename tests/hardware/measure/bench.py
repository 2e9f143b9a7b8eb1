#!/usr/bin/python3
# Measurement, not a test: pcmd next to PipeWire and `aplay -M` (the floor) on the real snd-aloop driver, the
# way /work/shared/reference/peers.md §6 measured the peers. Each run plays into hw:Loopback,0,0 while
# `arecord` captures hw:Loopback,1,0; clients play 20 s, 48 kHz s16 stereo sines. Reported per run: the
# daemon's CPU (utime+stime from /proc/PID/stat over a steady 10 s window, per second of audio), the xruns the
# program itself reported, and what the capture shows over the same window (sine discontinuities, runs of
# silence). Two tables: CPU at the defaults and at period 1024 x 2 with 1 and 4 clients; xruns at period
# N x 2 for N in 1024, 256, 128, 64. A third compares unmodified ALSA applications: `aplay -D pcmd` (pcmd's ALSA
# plugin) against `aplay -D pipewire` (pipewire-alsa), each daemon and aplay at its defaults, playing the same
# file at 48 kHz and at 44.1 kHz: CPU and wakeups of aplay and of the daemon, and the latency the stream reports
# through snd_pcm_delay() next to the latency measured on the cable (alsa_latency.c, beside this file).
#
# Explicit periods clock the loopback cable from snd-dummy's hrtimer (an `aplay` on hw:Dummy,0,0 at the same
# period, and `Dummy.0.0` in /proc/asound/Loopback/timer_source); the defaults use snd-aloop's own jiffies
# timer. Timing in the VM is emulated: compare programs within one run, never with other machines.
#
# Run by scripts/bench-vm inside its VM:
#   python3 tests/hardware/measure/bench.py --bin .build/release --out bench-results [--only cpu|xruns|alsa] [--no-pipewire]
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import hwlib  # noqa: E402  (needs the path above)
from hwlib import proc as hwproc  # noqa: E402

RATE = 48000
TONE_HZ = 997.0          # not a divisor of the rate: every period holds a different stretch of the sine
TONE_AMPLITUDE = 0.2     # four clients mixed stay below full scale
CLIENT_SECONDS = 20
WINDOW_SECONDS = 10.0
SETTLE_SECONDS = 1.5     # after the last client started, before the window opens
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
LOOPBACK_TIMER = Path("/proc/asound/Loopback/timer_source")


@dataclass
class Setting:
    """Device period and periods per buffer; None for the program's own defaults."""

    period: int | None = None
    periods: int = 2

    @property
    def label(self) -> str:
        return "defaults" if self.period is None else f"{self.period}x{self.periods}"


@dataclass
class Outcome:
    program: str
    setting: str
    clients: int
    cpu_ms_per_s: float | None = None
    client_cpu_ms_per_s: float | None = None
    threads: dict[str, tuple[float, float]] = field(default_factory=dict)  # name/tid: (ms/s, wakeups/s)
    client_threads: dict[str, tuple[float, float]] = field(default_factory=dict)  # the first client's
    xruns: int | None = None
    xruns_note: str = ""
    breaks: int | None = None
    silent_runs: int | None = None
    amplitude: float | None = None
    client_underruns: int | None = None  # what pcmplay (or aplay) reported (the daemon played silence for it)
    wakeups_per_s: float | None = None          # the daemon's, all threads (voluntary context switches)
    client_wakeups_per_s: float | None = None   # the first client's, all threads
    capture_overruns: int = 0
    clock_underruns: int = 0
    problem: str = ""
    device: str = ""  # the period/buffer the program got, from /proc/asound
    # pcmd only: when each device xrun happened, in seconds after the first client connected (negative:
    # before it), from the log line's time less its event.ago (how long before the line it happened)
    xrun_offsets: list[float] = field(default_factory=list)


class Job:
    """A background process whose output goes to files (a daemon's log can outgrow a pipe)."""

    def __init__(self, argv: list[str], workdir: Path, name: str, env: dict[str, str] | None = None):
        self.argv = [str(a) for a in argv]
        self.out = workdir / f"{name}.out"
        self.err = workdir / f"{name}.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                            env={**os.environ, **(env or {})}, start_new_session=True)
        log(f"started {name} (pid {self.process.pid}): {shlex.join(self.argv)}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.running():
            os.kill(self.process.pid, signum)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()

    def wait(self, timeout: float) -> bool:
        try:
            self.process.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")


_log_file = None


def log(message: str) -> None:
    if _log_file:
        print(f"[{time.monotonic():10.3f}] {message}", file=_log_file, flush=True)


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def cpu_ticks(pid: int) -> int:
    """utime + stime of a whole process (all its threads), in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def thread_stats(pid: int) -> dict[str, tuple[int, int]]:
    """Per thread, keyed by 'name/tid': (utime + stime in clock ticks, voluntary context switches, i.e. how
    often it slept and was woken)."""
    result = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "stat").read_text()
            status = (task / "status").read_text()
        except FileNotFoundError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        switches = re.search(r"^voluntary_ctxt_switches:\s*(\d+)", status, re.MULTILINE)
        result[f"{name}/{task.name}"] = (int(fields[11]) + int(fields[12]), int(switches.group(1)) if switches else 0)
    return result


def per_second(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], seconds: float
               ) -> dict[str, tuple[float, float]]:
    """Each thread's CPU (ms) and wakeups per second between two thread_stats() samples."""
    result = {}
    for name, (ticks, switches) in after.items():
        ticks_before, switches_before = before.get(name, (0, 0))
        if ticks > ticks_before or switches > switches_before:
            result[name] = (round((ticks - ticks_before) * 1000 / TICKS_PER_SECOND / seconds, 1),
                            round((switches - switches_before) / seconds))
    return result


class Clock:
    """What paces the loopback cable: snd-aloop's jiffies timer, or snd-dummy's hrtimer at a given period
    (an aplay keeps hw:Dummy,0,0 running; a generous buffer so that the clock itself rarely underruns)."""

    def __init__(self, setting: Setting, workdir: Path):
        self.job: Job | None = None
        if setting.period is None:
            LOOPBACK_TIMER.write_text("\n")
            return
        self.job = Job(["aplay", "-q", "-D", "hw:Dummy,0,0", "-t", "raw", "-f", "S16_LE", "-r", str(RATE), "-c", "2",
                        f"--period-size={setting.period}", f"--buffer-size={8 * setting.period}", "/dev/zero"],
                       workdir, "clock")
        wait_until(lambda: hwlib.substream_state(hwlib.card("Dummy"), 0, "p", 0) == "RUNNING", 30, "the dummy clock")
        LOOPBACK_TIMER.write_text("Dummy.0.0\n")

    def stop(self) -> int:
        if self.job is None:
            return 0
        self.job.stop(signal.SIGTERM)
        LOOPBACK_TIMER.write_text("\n")
        return self.job.stderr().count("underrun!!!")


class Recorder:
    """arecord on the capture end of the cable. snd-aloop makes both ends of a cable agree on period and buffer
    size, so the recorder opens after the program under test and asks for nothing: it gets the program's
    sizes. It runs under SCHED_FIFO 50 (below the daemons' 70) so that it does not lose audio itself at small
    periods; its overruns are counted and reported apart."""

    def __init__(self, workdir: Path):
        self.path = workdir / "captured.wav"
        self.job = Job(["chrt", "-f", "50", "arecord", "-D", "hw:Loopback,1,0", "-f", "S16_LE", "-r", str(RATE),
                        "-c", "2", str(self.path)], workdir, "arecord")
        wait_until(lambda: hwlib.substream_state(hwlib.card("Loopback"), 1, "c", 0) == "RUNNING", 30, "arecord")
        self.started = time.monotonic()

    def stop(self) -> int:
        self.job.stop(signal.SIGINT)
        return self.job.stderr().count("overrun!!!")

    def analyse(self, outcome: Outcome, start: float, end: float, clients: int) -> None:
        """Discontinuities and silence in the capture between two monotonic times. The cable runs on the
        system clock, so time since the recorder started maps to frames; a quarter second is left at each
        edge for the mapping's error."""
        audio = hwlib.read_wav(self.path)
        first = int((start - self.started + 0.25) * RATE)
        last = min(int((end - self.started - 0.25) * RATE), audio.frame_count)
        if last - first < RATE:
            outcome.problem += f" capture window too short ({first}..{last} of {audio.frame_count} frames);"
            return
        window = audio.slice(first, last)
        # Each mixed stream adds up to half an LSB of rounding, and the sine predictor's gain is up to 4.
        tolerance = 4.0 * (0.5 * (clients + 1) + 1.0)
        outcome.breaks = len(hwlib.sine_breaks(window, TONE_HZ, channel=0, tolerance=tolerance))
        outcome.silent_runs = len(hwlib.silent_runs(window, min_frames=2))
        outcome.amplitude = round(hwlib.measure_sine(window, 0).amplitude, 4)


def tone_file(path: Path, rate: int = RATE) -> Path:
    if not path.exists():
        hwlib.write_wav(path, hwlib.sine(TONE_HZ, CLIENT_SECONDS, rate, 2, TONE_AMPLITUDE))
    return path


# --- the programs -----------------------------------------------------------------------------------------

class Pcmd:

    def __init__(self, bin_dir: Path, builtin: bool, latency_ms: int = 0):
        self.bin = bin_dir
        self.builtin = builtin
        self.latency_ms = latency_ms
        if builtin:
            self.key, self.label = "pcmd-builtin", "pcmd, built-in sine"
        elif latency_ms:
            self.key, self.label = f"pcmd-latency{latency_ms}", f"pcmd, pcmplay --latency {latency_ms} clients"
        else:
            self.key, self.label = "pcmd", "pcmd, pcmplay clients"

    def start(self, setting: Setting, workdir: Path) -> Job:
        self.socket = workdir / "pcmd.sock"
        argv = [self.bin / "pcmd", "--device", "hw:Loopback,0,0", "--socket", self.socket, "--log-level", "info"]
        if setting.period is not None:
            argv += ["--period", str(setting.period), "--periods", str(setting.periods)]
        if self.builtin:
            argv += ["--source", f"sine:{TONE_HZ:g}:{TONE_AMPLITUDE}"]
        self.job = Job(argv, workdir, "pcmd")
        wait_until(lambda: "serving clients" in self.job.stderr() or not self.job.running(), 60, "pcmd to serve")
        if not self.job.running():
            raise RuntimeError(f"pcmd exited: {self.job.stderr()[-2000:]}")
        wait_until(lambda: hwlib.substream_state(hwlib.card("Loopback"), 0, "p", 0) == "RUNNING", 30, "pcmd's device")
        return self.job

    def start_clients(self, count: int, tone: Path, workdir: Path) -> list[Job]:
        clients = [Job([self.bin / "pcmplay", "--quiet", "--socket", self.socket, "--name", f"bench{i}",
                        "--latency", str(self.latency_ms), tone],
                       workdir, f"client{i}") for i in range(count)]
        wait_until(lambda: self.job.stderr().count("stream opened") >= count, 60, f"{count} pcmplay streams")
        return clients

    def alsa_env(self, workdir: Path) -> dict[str, str]:
        """What an ALSA application needs to reach this daemon through the plugin just built, without
        installing it: the plugin's folder, and alsa-lib's own configuration plus `pcm.pcmd` on our socket."""
        conf = workdir / "asound-pcmd.conf"
        conf.write_text(f'pcm.pcmd {{\n    type pcmd\n    socket "{self.socket}"\n}}\n')
        return {"ALSA_PLUGIN_DIR": str(self.bin), "ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{conf}"}

    def connect_alsa(self, job: Job, program: str) -> None:
        """The plugin opens its stream when the application sets its parameters: wait for it (the daemon
        logs the connection with the application's pid, then the stream)."""
        def opened() -> bool:
            if not job.running():
                raise RuntimeError(f"{program} exited before its pcmd stream opened: {job.stderr()[-500:]}")
            log_text = self.job.stderr()
            connected = log_text.find(f"client connected peer.pid={job.pid} ")
            return connected >= 0 and "stream opened" in log_text[connected:]
        wait_until(opened, 60, f"{program}'s stream through the plugin")

    def xrun_offsets(self) -> list[float]:
        """Seconds from the first client's connection to each device xrun (negative: before it)."""
        def seconds(stamp: str) -> float:
            hours, minutes, rest = stamp.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(rest)
        text = self.job.stderr()
        connected = re.search(r"T(\d\d:\d\d:[\d.]+)Z \S+ pcmd: client connected", text)
        if connected is None:
            return []
        return [round(seconds(logged) - int(ago) / 1000 - seconds(connected.group(1)), 3)
                for logged, ago in re.findall(r'T(\d\d:\d\d:[\d.]+)Z \S+ pcmd: xrun recovered .*?event\.ago="?(\d+) ms', text)]

    def stop(self) -> tuple[int | None, str]:
        self.job.stop(signal.SIGTERM)
        found = re.findall(r"pcm\.xruns=(\d+)\S* \[PCMDaemon\] audio thread stopped", self.job.stderr())
        if not found:
            found = [m for line in self.job.stderr().splitlines() if "audio thread stopped" in line
                     for m in re.findall(r"pcm\.xruns=(\d+)", line)]
        return (int(found[-1]) if found else None), "device xruns (pcm.xruns at stop)"


PIPEWIRE_CONF = """\
context.properties = {{
    core.daemon = true
    core.name = pipewire-0
    support.dbus = false
    mem.allow-mlock = false
    default.clock.rate = 48000
{clock}}}
context.spa-libs = {{
    audio.convert.* = audioconvert/libspa-audioconvert
    api.alsa.*      = alsa/libspa-alsa
    support.*       = support/libspa-support
}}
context.modules = [
    {{ name = libpipewire-module-rt args = {{ nice.level = -11 rt.prio = 70 }} flags = [ ifexists nofail ] }}
    {{ name = libpipewire-module-protocol-native }}
    {{ name = libpipewire-module-metadata }}
    {{ name = libpipewire-module-spa-node-factory }}
    {{ name = libpipewire-module-client-node }}
    {{ name = libpipewire-module-access args = {{ }} }}
    {{ name = libpipewire-module-adapter }}
    {{ name = libpipewire-module-link-factory }}
]
context.objects = [
    {{ factory = adapter
      args = {{
        factory.name = api.alsa.pcm.sink
        node.name = loopsink
        media.class = Audio/Sink
        api.alsa.path = "hw:Loopback,0,0"
        audio.format = S16LE
        audio.rate = 48000
        audio.channels = 2
        audio.position = [ FL FR ]
        priority.driver = 2000
        node.pause-on-idle = false
{alsa}        adapter.auto-port-config = {{ mode = dsp monitor = false control = false position = preserve }}
      }}
    }}
]
"""

PORT_CONFIG = ('{ "direction": "Output", "mode": "dsp", "format": { "mediaType": "audio", "mediaSubtype": "raw", '
               '"format": "F32P", "rate": 48000, "channels": 2, "position": [ "FL", "FR" ] } }')


class PipeWire:
    """PipeWire without a session manager: a minimal config with one ALSA sink (the adapter configures its
    own ports), and each pw-cat stream given its port configuration with pw-cli and linked with pw-link,
    the two things WirePlumber would otherwise do."""

    def __init__(self, own_buffer: bool = False):
        # own_buffer: quantum N but PipeWire's own ALSA buffer (period N, the buffer it picks itself), the way
        # PipeWire is meant to run; otherwise the device gets exactly N x periods like every other program.
        self.own_buffer = own_buffer
        self.key = "pipewire-ownbuffer" if own_buffer else "pipewire"
        self.label = "PipeWire, quantum N, own ALSA buffer" if own_buffer else "PipeWire, pw-cat clients"

    def start(self, setting: Setting, workdir: Path) -> Job:
        clock = alsa = ""
        if setting.period is not None:
            n = setting.period
            clock = f"    default.clock.quantum = {n}\n    default.clock.min-quantum = {n}\n    default.clock.max-quantum = {n}\n"
            alsa = f"        api.alsa.period-size = {n}\n"
            if not self.own_buffer:
                alsa += f"        api.alsa.period-num = {setting.periods}\n"
        conf = workdir / "pipewire.conf"
        conf.write_text(PIPEWIRE_CONF.format(clock=clock, alsa=alsa))
        runtime = workdir / "xdg"
        runtime.mkdir(mode=0o700, exist_ok=True)
        self.env = {"XDG_RUNTIME_DIR": str(runtime), "PIPEWIRE_RUNTIME_DIR": str(runtime)}
        # Info level: the graph's "XRun!" lines (with a running count) are logged there.
        self.job = Job(["pipewire", "-c", conf], workdir, "pipewire", {**self.env, "PIPEWIRE_DEBUG": "3"})
        wait_until(lambda: (runtime / "pipewire-0").exists() or not self.job.running(), 60, "the pipewire socket")
        if not self.job.running():
            raise RuntimeError(f"pipewire exited: {self.job.stderr()[-2000:]}")
        wait_until(lambda: "loopsink:playback_FR" in self._pw(["pw-link", "-i"]), 60, "the PipeWire sink's ports")
        return self.job

    def _pw(self, argv: list[str], check: bool = False) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, env={**os.environ, **self.env})
        log(f"$ {shlex.join(argv)} -> {done.returncode} {done.stdout.strip()[:300]} {done.stderr.strip()[:300]}")
        if check and done.returncode != 0:
            raise RuntimeError(f"{shlex.join(argv)}: {done.stderr.strip()}")
        return done.stdout

    def start_clients(self, count: int, tone: Path, workdir: Path) -> list[Job]:
        names = [f"bench{i}" for i in range(count)]
        clients = [Job(["pw-cat", "-p", "-P", f"{{ node.name = {name} }}", tone], workdir, f"client{i}", self.env)
                   for i, name in enumerate(names)]
        ids: dict[str, int] = {}

        def find_nodes() -> bool:
            dump = json.loads(self._pw(["pw-dump"]) or "[]")
            for item in dump:
                props = item.get("info", {}).get("props", {})
                if item.get("type", "").endswith(":Node") and props.get("node.name") in names:
                    ids[props["node.name"]] = item["id"]
            return len(ids) == count
        wait_until(find_nodes, 60, "the pw-cat nodes")
        for name in names:
            self._pw(["pw-cli", "set-param", str(ids[name]), "PortConfig", PORT_CONFIG], check=True)
        for name in names:
            for channel in ("FL", "FR"):
                wait_until(lambda: self._link(f"{name}:output_{channel}", f"loopsink:playback_{channel}"), 30,
                           f"linking {name} {channel}")
        return clients

    def alsa_env(self, workdir: Path) -> dict[str, str]:
        """pipewire-alsa is used as installed (the guest sees the host's /usr and /etc/alsa/conf.d, so
        `pcm.pipewire` is defined); its server "pipewire-0" is found in our runtime folder."""
        return dict(self.env)

    def connect_alsa(self, job: Job, program: str) -> None:
        """The plugin's stream is the node whose application.name is "PipeWire ALSA [PROGRAM]" (pipewire-alsa
        0.3.65 names the node itself "ALSA Playback"); without a session manager it is given its port
        configuration and linked to the sink here, as the pw-cat clients are."""
        application = f"PipeWire ALSA [{program}]"
        node: dict[str, object] = {}

        def found() -> bool:
            if not job.running():
                raise RuntimeError(f"{program} exited before its PipeWire stream appeared: {job.stderr()[-500:]}")
            for item in json.loads(self._pw(["pw-dump"]) or "[]"):
                props = item.get("info", {}).get("props", {})
                if item.get("type", "").endswith(":Node") and props.get("application.name") == application:
                    node.update(id=item["id"], name=props.get("node.name"))
                    return True
            return False
        wait_until(found, 60, f"the PipeWire node of {application}")
        self._pw(["pw-cli", "set-param", str(node["id"]), "PortConfig", PORT_CONFIG], check=True)
        for channel in ("FL", "FR"):
            wait_until(lambda: self._link(f"{node['name']}:output_{channel}", f"loopsink:playback_{channel}"), 30,
                       f"linking {node['name']} {channel}")

    def _link(self, output: str, input: str) -> bool:
        return subprocess.run(["pw-link", output, input], capture_output=True, timeout=30,
                              env={**os.environ, **self.env}).returncode == 0

    def stop(self) -> tuple[int | None, str]:
        self.job.stop(signal.SIGTERM)
        counts = [int(c) for c in re.findall(r"\(loopsink-\d+\) XRun! .*?count:(\d+)", self.job.stderr())]
        return (max(counts) if counts else 0), "graph xruns of the sink (count in 'XRun!' lines; rate-limited, so a lower bound)"


class Aplay:
    """No daemon: aplay -M playing the same file straight into the device (the floor)."""

    key = "aplay"
    label = "aplay -M, no daemon"

    def start(self, setting: Setting, workdir: Path) -> None:
        self.setting = setting
        return None

    def start_clients(self, count: int, tone: Path, workdir: Path) -> list[Job]:
        argv = ["aplay", "-M", "-D", "hw:Loopback,0,0"]
        if self.setting.period is not None:
            argv += [f"--period-size={self.setting.period}", f"--buffer-size={self.setting.period * self.setting.periods}"]
        self.job = Job(argv + [tone], workdir, "aplay")
        wait_until(lambda: hwlib.substream_state(hwlib.card("Loopback"), 0, "p", 0) == "RUNNING", 30, "aplay")
        return [self.job]

    def stop(self) -> tuple[int | None, str]:
        return self.job.stderr().count("underrun!!!"), "underruns aplay printed"


class AlsaPlayer:
    """`aplay -D DEVICE` at its defaults, through an ALSA plugin, into a daemon at its defaults (`daemon` is a
    Pcmd or a PipeWire), playing the tone at `rate`. The daemon's device runs at 48 kHz: at 44.1 kHz the
    stream is resampled on the way (pcmd's plugin converts in the application, as PipeWire's stream does)."""

    def __init__(self, daemon, device: str, rate: int, tone: Path, turn: int = 1):
        self.daemon, self.device, self.rate, self.tone = daemon, device, rate, tone
        self.key = f"alsa-{device}-{rate}-round{turn}"
        self.label = f"aplay -D {device}, {rate / 1000:g} kHz"

    def start(self, setting: Setting, workdir: Path) -> Job:
        job = self.daemon.start(setting, workdir)
        self.env = self.daemon.alsa_env(workdir)
        return job

    def start_clients(self, count: int, tone: Path, workdir: Path) -> list[Job]:
        job = Job(["aplay", "-D", self.device, self.tone], workdir, "aplay", self.env)
        self.daemon.connect_alsa(job, "aplay")
        # Without a session manager a PipeWire stream waits for the bench to link it, and aplay may report
        # underruns meanwhile; on a desktop WirePlumber links it at once. Only later underruns are counted.
        self.underruns_before_link = job.stderr().count("underrun!!!")
        if self.underruns_before_link:
            log(f"aplay reported {self.underruns_before_link} underruns before its stream was linked")
        return [job]

    def stop(self) -> tuple[int | None, str]:
        return self.daemon.stop()

    def client_underruns(self, jobs: list[Job]) -> int:
        return sum(job.stderr().count("underrun!!!") for job in jobs) - self.underruns_before_link


# --- one run ----------------------------------------------------------------------------------------------

def measure(program, setting: Setting, clients: int, tone: Path, root: Path, results_root: Path) -> Outcome:
    workdir = root / f"{program.key}-{setting.label}-{clients}"
    workdir.mkdir(parents=True, exist_ok=True)
    outcome = Outcome(program.label, setting.label, clients)
    log(f"=== {program.label}, {setting.label}, {clients} client(s)")
    clock = Clock(setting, workdir)
    recorder: Recorder | None = None
    daemon: Job | None = None
    client_jobs: list[Job] = []
    try:
        daemon = program.start(setting, workdir)
        started = time.monotonic()
        if not getattr(program, "builtin", False):
            client_jobs = program.start_clients(clients, tone, workdir)
        wait_until(lambda: hwlib.substream_state(hwlib.card("Loopback"), 0, "p", 0) == "RUNNING", 30, "the playback")
        params = dict(re.findall(r"^(\w+): (\S+)", (hwlib.card("Loopback").substream_dir(0, "p", 0) / "hw_params")
                                 .read_text(), re.MULTILINE))
        outcome.device = f"{params.get('period_size')}/{params.get('buffer_size')}"
        recorder = Recorder(workdir)
        time.sleep(SETTLE_SECONDS)
        measured = daemon or client_jobs[0]
        before, threads_before = cpu_ticks(measured.pid), thread_stats(measured.pid)
        clients_before = [cpu_ticks(c.pid) for c in client_jobs if daemon is not None]
        first_client_before = thread_stats(client_jobs[0].pid) if daemon is not None and client_jobs else {}
        t0 = time.monotonic()
        time.sleep(WINDOW_SECONDS)
        after, threads_after = cpu_ticks(measured.pid), thread_stats(measured.pid)
        clients_after = [cpu_ticks(c.pid) for c in client_jobs if daemon is not None]
        first_client_after = thread_stats(client_jobs[0].pid) if daemon is not None and client_jobs else {}
        t1 = time.monotonic()
        if not all(c.running() for c in client_jobs) or not measured.running():
            outcome.problem += " a client ended inside the window (slow start): not a steady window;"
        seconds = t1 - t0
        outcome.cpu_ms_per_s = round((after - before) * 1000 / TICKS_PER_SECOND / seconds, 1)
        if clients_before:
            outcome.client_cpu_ms_per_s = round((sum(clients_after) - sum(clients_before)) * 1000 / TICKS_PER_SECOND / seconds, 1)
        outcome.threads = per_second(threads_before, threads_after, seconds)
        outcome.client_threads = per_second(first_client_before, first_client_after, seconds)
        outcome.wakeups_per_s = round(sum(w for _, w in outcome.threads.values()))
        if outcome.client_threads:
            outcome.client_wakeups_per_s = round(sum(w for _, w in outcome.client_threads.values()))
        # The rest of the play: clients end by themselves; the built-in source plays as long as a client would.
        for job in client_jobs:
            if not job.wait(CLIENT_SECONDS * 3):
                outcome.problem += f" {job.argv[0]} still running after {CLIENT_SECONDS * 3} s;"
        if not client_jobs:
            time.sleep(max(0.0, started + CLIENT_SECONDS - time.monotonic()))
        outcome.xruns, outcome.xruns_note = program.stop()
        if isinstance(program, Pcmd):
            outcome.xrun_offsets = program.xrun_offsets()
        if isinstance(program, Pcmd) and client_jobs:
            outcome.client_underruns = sum(int(m) for job in client_jobs
                                           for m in re.findall(r"pcmplay: (\d+) underrun", job.stderr()))
        elif hasattr(program, "client_underruns"):
            outcome.client_underruns = program.client_underruns(client_jobs)
        daemon = None
        outcome.capture_overruns = recorder.stop()
        outcome.clock_underruns = clock.stop()
        recorder.analyse(outcome, t0, t1, max(clients, 1))
    except Exception as error:  # a run that cannot be measured is reported, and the others still run
        outcome.problem += f" {type(error).__name__}: {error};"
        log(f"run failed: {error}")
    finally:
        for job in client_jobs:
            job.stop(signal.SIGKILL, 10)
        if daemon is not None:
            daemon.stop(signal.SIGKILL, 10)
        if recorder is not None and recorder.job.running():
            recorder.stop()
        if clock.job is not None and clock.job.running():
            clock.stop()
    log(f"result: {asdict(outcome)}")
    # The programs' own logs go with the results (the captures stay in the guest: they are large).
    kept = results_root / "runs" / workdir.name
    kept.mkdir(parents=True, exist_ok=True)
    for path in workdir.glob("*.err"):
        (kept / path.name).write_bytes(path.read_bytes())
    print(f"  {time.strftime('%H:%M:%S', time.gmtime())} {program.label:<24} {setting.label:>9} {clients} client(s): "
          f"{summary(outcome)}", flush=True)
    return outcome


# --- latency of an ALSA application ------------------------------------------------------------------------

LATENCY_CLICKS = 10
LATENCY_HELPER = Path(__file__).resolve().parent / "alsa_latency.c"


@dataclass
class Latency:
    program: str
    setup: str = ""                     # the application's rate, period and buffer, as alsa_latency got them
    clicks: int = 0                     # clicks written and found in the capture
    reported_ms: float | None = None    # snd_pcm_delay() before the click's write, median
    measured_ms: float | None = None    # from the write to the click's arrival on the cable, median
    error_ms: tuple[float, float, float] | None = None  # measured - reported: min, median, max
    pairs: list[tuple[float, float]] = field(default_factory=list)  # each click's (reported, measured), in s
    underruns: int | None = None
    capture_overruns: int | None = None
    problem: str = ""


def build_latency_helper(runs: Path) -> Path:
    """alsa_latency.c, compiled in the guest (gcc and libasound2-dev come from the host's packages)."""
    binary = runs / "alsa_latency"
    done = subprocess.run(["gcc", "-O2", "-Wall", "-o", binary, LATENCY_HELPER, "-lasound", "-lpthread"],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"gcc {LATENCY_HELPER.name}: {done.stderr.strip()}")
    return binary


def click_arrivals(workdir: Path, rate: int) -> list[float]:
    """Monotonic times (s) at which the clicks reached the cable. A click is found at its first frame above a
    quarter of its level; its time is mapped through the capture's clock samples ("frames delivered by then,
    when") taken over the next 2 s: snd-aloop advances in timer steps and a sample can lag the true position
    by up to one step, so the earliest offset (time - frames/rate) of those samples is the truest."""
    samples = np.fromfile(workdir / "capture.raw", dtype="<i2").reshape(-1, 2)[:, 0].astype(np.int32)
    clock = np.loadtxt(workdir / "capture-clock.txt", dtype=np.int64, ndmin=2)
    loud = np.flatnonzero(np.abs(samples) > 4096)
    if len(loud) == 0:
        return []
    starts = loud[np.concatenate([[True], np.diff(loud) > rate // 5])]
    arrivals = []
    for frame in starts:
        near = clock[(clock[:, 0] >= frame) & (clock[:, 0] <= frame + 2 * rate)]
        if len(near) == 0:
            continue
        offset = np.min(near[:, 1] / 1e9 - near[:, 0] / rate)
        arrivals.append(float(offset + frame / rate))
    return arrivals


def measure_latency(player: AlsaPlayer, helper: Path, root: Path, results_root: Path) -> Latency:
    """The latency the application is told (snd_pcm_delay before writing a click) against the latency measured
    on the cable (the click's arrival on hw:Loopback,1,0), LATENCY_CLICKS clicks about a second apart."""
    workdir = root / f"{player.key}-latency"
    workdir.mkdir(parents=True, exist_ok=True)
    result = Latency(player.label)
    log(f"=== latency: {player.label}")
    LOOPBACK_TIMER.write_text("\n")
    daemon: Job | None = None
    job: Job | None = None
    try:
        daemon = player.start(Setting(), workdir)
        status = hwlib.card("Loopback").substream_dir(0, "p", 0) / "status"
        job = Job([helper, player.device, player.rate, "hw:Loopback,1,0", RATE, status, LATENCY_CLICKS, workdir],
                  workdir, "alsa_latency", player.env)
        player.daemon.connect_alsa(job, "alsa_latency")
        if not job.wait(120):
            result.problem += " alsa_latency still running after 120 s;"
            job.stop(signal.SIGKILL, 10)
        out = job.out.read_text()
        if job.process.returncode != 0:
            result.problem += f" alsa_latency exited {job.process.returncode}: {job.stderr().strip()[-300:]};"
        setup = re.search(r"^setup rate (\d+) period (\d+) buffer (\d+)", out, re.MULTILINE)
        if setup:
            app_rate, period, buffer = map(int, setup.groups())
            result.setup = f"{app_rate} Hz, {period}/{buffer} ({period * 1000 / app_rate:.0f}/{buffer * 1000 / app_rate:.0f} ms)"
        else:
            app_rate = player.rate
        writes = [(int(m[0]), int(m[1])) for m in re.findall(r"^click \d+ written \d+ before_ns (\d+) delay (-?\d+) "
                                                            r"delay_err 0 ", out, re.MULTILINE)]
        if len(writes) != len(re.findall(r"^click ", out, re.MULTILINE)):
            result.problem += " snd_pcm_delay failed for some clicks (see alsa_latency.out);"
        result.underruns = int(m.group(1)) if (m := re.search(r"^underruns (\d+)", out, re.MULTILINE)) else None
        result.capture_overruns = int(m.group(1)) if (m := re.search(r"^overruns (\d+)", out, re.MULTILINE)) else None
        arrivals = click_arrivals(workdir, RATE)
        if len(arrivals) != len(writes):
            result.problem += f" {len(writes)} clicks written, {len(arrivals)} found in the capture;"
        # Each click is paired with the first arrival after its write (clicks are a second apart).
        pairs = []
        for before_ns, delay in writes:
            later = [a for a in arrivals if a > before_ns / 1e9]
            if later:
                pairs.append((delay / app_rate, later[0] - before_ns / 1e9))
        log(f"latency pairs (reported s, measured s): {pairs}")
        result.pairs = pairs
        if pairs:
            reported = sorted(p[0] for p in pairs)
            measured = sorted(p[1] for p in pairs)
            errors = sorted(p[1] - p[0] for p in pairs)
            result.clicks = len(pairs)
            result.reported_ms = round(reported[len(reported) // 2] * 1000, 1)
            result.measured_ms = round(measured[len(measured) // 2] * 1000, 1)
            result.error_ms = (round(errors[0] * 1000, 1), round(errors[len(errors) // 2] * 1000, 1), round(errors[-1] * 1000, 1))
    except Exception as error:
        result.problem += f" {type(error).__name__}: {error};"
        log(f"latency run failed: {error}")
    finally:
        if job is not None and job.running():
            job.stop(signal.SIGKILL, 10)
        started = getattr(player.daemon, "job", None)
        if daemon is not None:
            player.stop()
        elif started is not None and started.running():
            started.stop(signal.SIGKILL, 10)
    log(f"latency result: {asdict(result)}")
    kept = results_root / "runs" / workdir.name
    kept.mkdir(parents=True, exist_ok=True)
    for path in [*workdir.glob("*.err"), *workdir.glob("*.out")]:
        (kept / path.name).write_bytes(path.read_bytes())
    print(f"  {time.strftime('%H:%M:%S', time.gmtime())} {player.label:<24} latency: setup {result.setup}; {result.clicks} clicks; "
          f"reported {result.reported_ms} ms, measured {result.measured_ms} ms, measured - reported {result.error_ms} ms; "
          f"underruns {result.underruns}, capture overruns {result.capture_overruns}"
          + (f"; PROBLEM:{result.problem}" if result.problem else ""), flush=True)
    return result


def summary(o: Outcome) -> str:
    parts = [f"cpu {o.cpu_ms_per_s} ms/s"]
    if o.client_cpu_ms_per_s is not None:
        parts.append(f"clients {o.client_cpu_ms_per_s} ms/s")
    parts.append(f"xruns {o.xruns}")
    if o.client_underruns is not None:
        parts.append(f"client underruns {o.client_underruns}")
    parts.append(f"capture: {o.breaks} breaks, {o.silent_runs} silent runs, amplitude {o.amplitude}")
    if o.capture_overruns or o.clock_underruns:
        parts.append(f"arecord overruns {o.capture_overruns}, clock underruns {o.clock_underruns}")
    if o.problem:
        parts.append(f"PROBLEM:{o.problem}")
    return "; ".join(parts)


# --- tables -----------------------------------------------------------------------------------------------

def cell(outcomes: list[Outcome], program: str, setting: str, clients: int, value) -> str:
    for o in outcomes:
        if o.program == program and o.setting == setting and o.clients == clients:
            shown = value(o)
            return f"{shown}{' (!)' if o.problem else ''}"
    return "-"


def cpu_table(outcomes: list[Outcome], programs: list[str]) -> str:
    columns = [("defaults", 1), ("defaults", 4), ("1024x2", 1), ("1024x2", 4)]
    lines = ["| CPU, ms per s of audio | " + " | ".join(f"{s}, {c} client{'s' if c > 1 else ''}" for s, c in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for program in programs:
        lines.append(f"| {program} | " + " | ".join(cell(outcomes, program, s, c, lambda o: o.cpu_ms_per_s)
                                                 for s, c in columns) + " |")
    return "\n".join(lines)


def xrun_table(outcomes: list[Outcome], programs: list[str], periods: list[int]) -> str:
    lines = ["| 1 client, period N x 2, 20 s: xruns reported (capture breaks) | " + " | ".join(map(str, periods)) + " |",
             "|---" * (len(periods) + 1) + "|"]
    for program in programs:
        lines.append(f"| {program} | " + " | ".join(
            cell(outcomes, program, f"{n}x2", 1, lambda o: f"{o.xruns} ({o.breaks})") for n in periods) + " |")
    return "\n".join(lines)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def spread(values: list[float | None], digits: int = 1) -> str:
    """A median over the rounds, with the smallest and largest value when there are several."""
    known = [v for v in values if v is not None]
    if not known:
        return "-"
    shown = f"{round(median(known), digits):g}"
    return shown if len(known) == 1 else f"{shown} ({min(known):g}-{max(known):g})"


def alsa_table(outcomes: list[Outcome], programs: list[str]) -> str:
    """Per program, the median over the rounds (range in parentheses); counts are summed over the rounds."""
    lines = ["| ALSA application at its defaults, daemon at its defaults, per s of audio | rounds | aplay ms/s | "
             "aplay wakeups/s | daemon ms/s | daemon wakeups/s | aplay + daemon ms/s | aplay underruns | device xruns | "
             "capture breaks |", "|---" * 10 + "|"]
    for program in programs:
        runs = [o for o in outcomes if o.program == program]
        if not runs:
            continue
        both = [round(o.cpu_ms_per_s + o.client_cpu_ms_per_s, 1) if o.cpu_ms_per_s is not None and o.client_cpu_ms_per_s is not None
                else None for o in runs]

        def total(values: list[int | None]) -> str:
            return str(sum(v for v in values if v is not None)) if any(v is not None for v in values) else "-"
        lines.append(f"| {program}{' (!)' if any(o.problem for o in runs) else ''} | {len(runs)} | "
                     f"{spread([o.client_cpu_ms_per_s for o in runs])} | {spread([o.client_wakeups_per_s for o in runs], 0)} | "
                     f"{spread([o.cpu_ms_per_s for o in runs])} | {spread([o.wakeups_per_s for o in runs], 0)} | {spread(both)} | "
                     f"{total([o.client_underruns for o in runs])} | {total([o.xruns for o in runs])} | {total([o.breaks for o in runs])} |")
    return "\n".join(lines)


def latency_table(latencies: list[Latency]) -> str:
    """Per program, every click of every round pooled."""
    lines = ["| latency, clicks of every round | application's rate, period/buffer | snd_pcm_delay, median ms | "
             "measured on the cable, median ms | measured - reported, min / median / max ms | clicks paired (written) | "
             "underruns | capture overruns |", "|---" * 8 + "|"]
    for program in dict.fromkeys(r.program for r in latencies):
        runs = [r for r in latencies if r.program == program]
        pairs = [pair for r in runs for pair in r.pairs]
        written = len(runs) * LATENCY_CLICKS
        setups = ", ".join(dict.fromkeys(r.setup for r in runs if r.setup)) or "-"
        if pairs:
            errors = sorted((m - r) * 1000 for r, m in pairs)
            cells = (f"{median([r for r, _ in pairs]) * 1000:.1f} | {median([m for _, m in pairs]) * 1000:.1f} | "
                     f"{errors[0]:.1f} / {median(errors):.1f} / {errors[-1]:.1f}")
        else:
            cells = "- | - | -"
        underruns = sum(r.underruns or 0 for r in runs)
        overruns = sum(r.capture_overruns or 0 for r in runs)
        lines.append(f"| {program}{' (!)' if any(r.problem for r in runs) else ''} | {setups} | {cells} | "
                     f"{len(pairs)} ({written}) | {underruns} | {overruns} |")
    problems = [f"- {r.program}: {r.problem.strip()}" for r in latencies if r.problem]
    return "\n".join(lines + ([""] + problems if problems else []))


def detail_table(outcomes: list[Outcome]) -> str:
    lines = ["| program | setting | period/buffer | clients | daemon ms/s | clients ms/s | xruns | capture breaks | silent runs | "
             "amplitude | client underruns | arecord overruns | clock underruns | problem |", "|---" * 14 + "|"]
    for o in outcomes:
        lines.append(f"| {o.program} | {o.setting} | {o.device} | {o.clients} | {o.cpu_ms_per_s} | {o.client_cpu_ms_per_s} | {o.xruns} | "
                     f"{o.breaks} | {o.silent_runs} | {o.amplitude} | {o.client_underruns} | {o.capture_overruns} | {o.clock_underruns} | {o.problem.strip()} |")
    return "\n".join(lines)


def thread_table(outcomes: list[Outcome]) -> str:
    def shown(threads: dict[str, tuple[float, float]]) -> str:
        ranked = sorted(threads.items(), key=lambda kv: -kv[1][0])
        return ", ".join(f"{name} {ms} ms/{wakeups} wakeups" for name, (ms, wakeups) in ranked)
    lines = []
    for o in outcomes:
        if o.threads and o.program.startswith(("pcmd", "PipeWire", "aplay -D")):
            lines.append(f"- {o.program}, {o.setting}, {o.clients} client(s): {shown(o.threads)}")
            if o.client_threads:
                lines.append(f"  - its first client: {shown(o.client_threads)}")
    return "\n".join(lines)


def main() -> int:
    global _log_file
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bin", required=True, type=Path, help="folder of the release products (pcmd, pcmplay)")
    parser.add_argument("--out", required=True, type=Path, help="results folder (results.json, tables.md, run logs)")
    parser.add_argument("--only", choices=["cpu", "xruns", "alsa", "start"],
                        help="only one of the three comparisons, or `start`: pcmd alone, four clients starting at once, "
                             "at the defaults (clients at their default latency and at 100 ms) and at 1024 x 2, in rounds")
    parser.add_argument("--start-rounds", type=int, default=4, help="rounds of the `--only start` runs")
    parser.add_argument("--no-pipewire", action="store_true", help="leave PipeWire out")
    parser.add_argument("--periods", default="1024,256,128,64", help="period sizes of the xrun table")
    parser.add_argument("--alsa-rounds", type=int, default=3, help="rounds of the ALSA-application comparison")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    _log_file = open(args.out / "bench.log", "w")
    hwproc.set_log(_log_file)
    hwlib.load_driver("snd-aloop")
    hwlib.load_driver("snd-dummy")
    runs = Path("/tmp/bench-runs")
    runs.mkdir(exist_ok=True)
    tone = tone_file(runs / "tone.wav")

    pcmd_builtin, pcmd_clients, aplay = Pcmd(args.bin, True), Pcmd(args.bin, False), Aplay()
    # The default client buffer (40 ms) is only 2 periods at period 1024: the same clients with 100 ms show
    # how much of what the capture loses is the clients' buffer rather than the daemon.
    pcmd_roomy = Pcmd(args.bin, False, latency_ms=100)
    peers = [] if args.no_pipewire else [PipeWire(), PipeWire(own_buffer=True)]
    if args.only == "alsa":
        peers = []
    pipewire_wanted = not args.no_pipewire
    if pipewire_wanted and subprocess.run(["sh", "-c", "command -v pipewire pw-cat pw-link pw-cli pw-dump"],
                                          capture_output=True).returncode != 0:
        print("bench: PipeWire's programs are not installed (Debian: pipewire pipewire-bin)", file=sys.stderr)
        return 1
    alsa = args.only in (None, "alsa")
    if alsa:
        if not (args.bin / "libasound_module_pcm_pcmd.so").exists():
            print(f"bench: {args.bin}/libasound_module_pcm_pcmd.so is not built (product asound_module_pcm_pcmd)",
                  file=sys.stderr)
            return 1
        devices = subprocess.run(["aplay", "-L"], capture_output=True, text=True).stdout.splitlines()
        if pipewire_wanted and "pipewire" not in devices:
            print("bench: ALSA has no device 'pipewire' (Debian: pipewire-alsa)", file=sys.stderr)
            return 1
    versions = {"pcmd": subprocess.run([args.bin / "pcmd", "--version"], capture_output=True, text=True).stdout.strip()}
    # The guest's clock source: under emulation a clock read costs far more on some (hpet, acpi_pm) than on
    # tsc, and programs that read the clock often pay for it in CPU time.
    clocksource = Path("/sys/devices/system/clocksource/clocksource0/current_clocksource")
    versions["guest clocksource"] = clocksource.read_text().strip() if clocksource.exists() else "?"
    if pipewire_wanted:
        versions["pipewire"] = subprocess.run(["pipewire", "--version"], capture_output=True, text=True).stdout.split("\n")[-2:]
    outcomes: list[Outcome] = []
    if args.only == "start":
        # The device xruns some runs show while four clients start at once: the same start, repeated, in
        # three settings taken in turn, with when each xrun happened against the first client's connection.
        print("Start-up runs (4 clients starting at once; xruns and when, against the first connection):", flush=True)
        start_runs = [(pcmd_clients, Setting()), (pcmd_roomy, Setting()), (pcmd_clients, Setting(1024, 2))]
        for turn in range(1, args.start_rounds + 1):
            print(f" round {turn} of {args.start_rounds}", flush=True)
            for program, setting in start_runs:
                outcome = measure(program, setting, 4, tone, runs, args.out)
                outcomes.append(outcome)
                print(f"    xruns at {outcome.xrun_offsets} s", flush=True)
        lines = ["| program | setting | runs | runs with device xruns | xruns | when (s after the first connection) |",
                 "|---|---|---|---|---|---|"]
        for program, setting in start_runs:
            mine = [o for o in outcomes if o.program == program.label and o.setting == setting.label]
            lines.append(f"| {program.label} | {setting.label} | {len(mine)} | {sum(1 for o in mine if o.xruns)} | "
                         f"{sum(o.xruns or 0 for o in mine)} | {', '.join(f'{t:+.2f}' for o in mine for t in o.xrun_offsets)} |")
        text = "\n".join(["Device xruns while four clients start:", ""] + lines + ["", "Every run:", "", detail_table(outcomes)])
        print("\n" + text, flush=True)
        (args.out / "tables.md").write_text(text + "\n")
        (args.out / "results.json").write_text(json.dumps({"versions": versions, "runs": [asdict(o) for o in outcomes]}, indent=1))
        return 0
    if args.only in (None, "cpu"):
        print("CPU runs (10 s window; clients play 20 s):", flush=True)
        for setting in (Setting(), Setting(1024, 2)):
            outcomes.append(measure(pcmd_builtin, setting, 1, tone, runs, args.out))
            for clients in (1, 4):
                outcomes.append(measure(pcmd_clients, setting, clients, tone, runs, args.out))
                if setting.period is not None:
                    outcomes.append(measure(pcmd_roomy, setting, clients, tone, runs, args.out))
                for peer in peers:
                    # At the defaults both PipeWire variants are the same configuration.
                    if setting.period is not None or not peer.own_buffer:
                        outcomes.append(measure(peer, setting, clients, tone, runs, args.out))
            outcomes.append(measure(aplay, setting, 1, tone, runs, args.out))
    latencies: list[Latency] = []
    alsa_programs: list[str] = []
    if alsa:
        print("ALSA application runs (aplay and alsa_latency through pcmd's plugin and pipewire-alsa, defaults):", flush=True)
        helper = build_latency_helper(runs)
        daemons = [("pcmd", Pcmd(args.bin, False))] + ([("pipewire", PipeWire())] if pipewire_wanted else [])
        # Rounds, each daemon in turn (the first one alternating), so that the guest's drifting speed
        # (it follows the host's load) falls on both alike; the tables show the median over the rounds.
        for turn in range(1, args.alsa_rounds + 1):
            print(f" round {turn} of {args.alsa_rounds}", flush=True)
            for rate in (48000, 44100):
                tone_at_rate = tone_file(runs / f"tone-{rate}.wav", rate)
                players = [AlsaPlayer(daemon, device, rate, tone_at_rate, turn) for device, daemon in daemons]
                if turn % 2 == 0:
                    players.reverse()
                alsa_programs += [p.label for p in players if p.label not in alsa_programs]
                for player in players:
                    outcomes.append(measure(player, Setting(), 1, tone_at_rate, runs, args.out))
                for player in players:
                    latencies.append(measure_latency(player, helper, runs, args.out))
        alsa_programs.sort(key=lambda label: (label.rsplit(", ", 1)[1] != "48 kHz", label))
    periods = [int(p) for p in args.periods.split(",")]
    if args.only in (None, "xruns"):
        print("xrun runs (1 client, 20 s):", flush=True)
        for period in periods:
            setting = Setting(period, 2)
            for program in [pcmd_builtin, pcmd_clients, *peers, aplay]:
                if not any(o.program == program.label and o.setting == setting.label and o.clients == 1 for o in outcomes):
                    outcomes.append(measure(program, setting, 1, tone, runs, args.out))

    programs = [pcmd_builtin.label, pcmd_clients.label, pcmd_roomy.label, *[p.label for p in peers], aplay.label]
    report = []
    if args.only in (None, "cpu"):
        report += ["Daemon CPU (utime+stime of the daemon process over a steady 10 s window, per second; for aplay, "
                   "aplay's own):", "", cpu_table(outcomes, programs), ""]
    if alsa:
        report += ["Unmodified ALSA applications: `aplay -D pcmd` (pcmd's plugin) against `aplay -D pipewire` (pipewire-alsa), "
                   f"the same {CLIENT_SECONDS} s tone file, over a steady {WINDOW_SECONDS:g} s window; CPU is utime+stime of each "
                   f"process (all threads), wakeups are voluntary context switches of all its threads; median of "
                   f"{args.alsa_rounds} rounds (range):", "",
                   alsa_table(outcomes, alsa_programs), "",
                   "Latency the application is told (snd_pcm_delay just before writing a click) against the latency measured "
                   "on the cable (the click's arrival on hw:Loopback,1,0, mapped to the clock through the capture's timestamps, "
                   "the earliest of 2 s of reads since snd-aloop moves in 4 ms timer steps); below zero, the stream announced "
                   "more latency than it had:", "", latency_table(latencies), ""]
    if args.only in (None, "xruns"):
        report += ["Xruns the program reported over its 20 s run, and (in parentheses) discontinuities in the "
                   "loopback capture over the steady 10 s window:", "", xrun_table(outcomes, programs, periods), ""]
    report += ["Every run:", "", detail_table(outcomes), "", "Per-thread CPU and wakeups (voluntary context switches), per second (name/tid):", "",
               thread_table(outcomes), "", f"Versions: {versions}", "(!) marks a run with a problem: see the table of every run."]
    text = "\n".join(report)
    print("\n" + text, flush=True)
    (args.out / "tables.md").write_text(text + "\n")
    (args.out / "results.json").write_text(json.dumps({"versions": versions, "runs": [asdict(o) for o in outcomes],
                                                       "latency": [asdict(r) for r in latencies]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
