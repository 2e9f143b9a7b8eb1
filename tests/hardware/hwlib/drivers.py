# The guest's sound drivers and cards: loading a kernel module (with parameters), finding a card by its ALSA
# id rather than by index (the index depends on load order), and the paths under /proc/asound.
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from . import proc
from .errors import TestFailure

# The card id each driver registers with its default parameters.
CARD_IDS = {"snd-hda-intel": "Intel", "snd-aloop": "Loopback", "snd-dummy": "Dummy"}

# Parameters a driver is loaded with when a test asks for none. power_save=0 keeps the HDA codec powered:
# while it is suspended, mixer changes are only cached by the driver and reach the codec later, so a
# volume set just before a playback may not apply to its first moments.
DEFAULT_PARAMETERS: dict[str, dict[str, object]] = {"snd-hda-intel": {"power_save": 0}}

_CARD_LINE = re.compile(r"^\s*(\d+)\s+\[(\S+)\s*\]:\s+(\S+)\s+-\s+(.*)$")


@dataclass(frozen=True)
class Card:
    """A sound card as /proc/asound/cards lists it."""

    index: int
    id: str
    driver: str
    name: str

    def hw(self, device: int = 0, subdevice: int | None = None) -> str:
        """The ALSA hw: name of a device on this card, by card id (e.g. hw:Loopback,1,0)."""
        return f"hw:{self.id},{device}" + ("" if subdevice is None else f",{subdevice}")

    def proc_dir(self) -> Path:
        return Path(f"/proc/asound/card{self.index}")

    def substream_dir(self, device: int = 0, stream: str = "p", subdevice: int = 0) -> Path:
        """/proc/asound/cardN/pcmD{p,c}/subS: hw_params, sw_params, status, prealloc, prealloc_max."""
        if stream not in ("p", "c"):
            raise TestFailure(f"stream must be 'p' or 'c', not {stream!r}")
        return self.proc_dir() / f"pcm{device}{stream}" / f"sub{subdevice}"


def substream_state(card: Card, device: int = 0, stream: str = "p", subdevice: int = 0) -> str:
    """The state a substream's /proc status reports: "closed", or e.g. "RUNNING", "PREPARED", "XRUN"."""
    try:
        status = (card.substream_dir(device, stream, subdevice) / "status").read_text()
    except FileNotFoundError:
        raise TestFailure(f"no substream {card.id},{device},{subdevice} ({stream})") from None
    for line in status.splitlines():
        if line.startswith("state:"):
            return line.split(":", 1)[1].strip()
    return status.strip()


def wait_for_state(card: Card, device: int, stream: str, subdevice: int, state: str = "RUNNING",
                   timeout: float = 30) -> None:
    """Waits until a substream reaches `state`, e.g. until a recorder started in the background is really
    capturing (programs start slowly in the emulated guest), so nothing played before it is lost."""
    deadline = time.monotonic() + timeout
    while (current := substream_state(card, device, stream, subdevice)) != state:
        if time.monotonic() > deadline:
            raise TestFailure(f"{card.hw(device, subdevice)} ({stream}) is {current!r}, not {state!r}, after {timeout} s")
        time.sleep(0.05)


def cards() -> list[Card]:
    """Every card the guest has now."""
    try:
        text = Path("/proc/asound/cards").read_text()
    except FileNotFoundError:
        return []
    found = []
    for line in text.splitlines():
        m = _CARD_LINE.match(line)
        if m:
            found.append(Card(int(m.group(1)), m.group(2), m.group(3), m.group(4).strip()))
    return found


def find_card(card_id: str) -> Card | None:
    return next((c for c in cards() if c.id == card_id), None)


def card(card_id: str, timeout: float = 10) -> Card:
    """The card with this ALSA id, waiting up to `timeout` s for it to appear; fails the test if it does not."""
    deadline = time.monotonic() + timeout
    while True:
        found = find_card(card_id)
        if found is not None and Path(f"/dev/snd/controlC{found.index}").exists():
            return found
        if time.monotonic() > deadline:
            have = ", ".join(f"{c.index}:{c.id}" for c in cards()) or "none"
            raise TestFailure(f"no sound card {card_id!r} after {timeout} s (cards: {have})")
        time.sleep(0.1)


def loaded_modules() -> set[str]:
    """Loaded kernel modules, with '-' as the separator, as modprobe spells them."""
    names = set()
    for line in Path("/proc/modules").read_text().splitlines():
        names.add(line.split()[0].replace("_", "-"))
    return names


def module_parameter(module: str, name: str) -> str | None:
    path = Path(f"/sys/module/{module.replace('-', '_')}/parameters/{name}")
    return path.read_text().strip() if path.exists() else None


def load_driver(module: str, **params: object) -> Card:
    """Loads a sound driver (if not loaded) and returns its card. With parameters, reloads the module when it
    is loaded with other values (so a test can ask for e.g. snd-dummy fake_buffer=0); the caller must not
    hold any of its devices open. Parameters are compared as the kernel prints them ('0'/'N' for false).
    Without parameters, DEFAULT_PARAMETERS apply."""
    if module not in CARD_IDS:
        raise TestFailure(f"load_driver(): unknown sound driver {module!r} (known: {', '.join(CARD_IDS)})")
    params = params or dict(DEFAULT_PARAMETERS.get(module, {}))
    if module in loaded_modules() and params and not _parameters_match(module, params):
        proc.run(["rmmod", module.replace("-", "_")], timeout=30)
    if module not in loaded_modules():
        args = [f"{k}={_kernel_value(v)}" for k, v in params.items()]
        proc.run(["modprobe", module, *args], timeout=60)
    found = card(CARD_IDS[module])
    if module == "snd-hda-intel":
        # The HDA codec probe finishes after the card appears; its mixer control is the sign it is ready.
        _wait_for_control(found, "Master")
    return found


def hda_card(volume_percent: int = 100) -> Card:
    """The qemu HDA card with Master at `volume_percent` and unmuted. At 100% samples pass unchanged, so
    what the guest plays reaches the host's WAV bit for bit; any other level scales them."""
    found = load_driver("snd-hda-intel")
    proc.run(["amixer", "-q", "-c", found.id, "sset", "Master", f"{volume_percent}%", "unmute"], timeout=30)
    return found


def _wait_for_control(found: Card, control: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        listed = proc.run(["amixer", "-c", found.id, "scontrols"], timeout=30, check=False)
        if f"'{control}'" in listed.stdout:
            return
        if time.monotonic() > deadline:
            raise TestFailure(f"card {found.id} has no mixer control {control!r} after {timeout} s: {listed.stdout!r}")
        time.sleep(0.2)


def _kernel_value(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return ",".join(_kernel_value(v) for v in value)
    return str(value)


def _parameters_match(module: str, params: dict[str, object]) -> bool:
    for name, wanted in params.items():
        current = module_parameter(module, name)
        if current is None:
            return False
        # Array parameters (one value per card) print as "a,b,c,..."; the first card is the one we use.
        first = current.split(",")[0]
        want = _kernel_value(wanted).split(",")[0]
        if first != want and not (first in ("Y", "N") and want == {"Y": "1", "N": "0"}[first]):
            return False
    return True
