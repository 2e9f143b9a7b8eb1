# Conformance of PCMBufferCore's allocator model with the kernel's PCM memory management: the same
# preallocation and /proc/.../prealloc writes go to the real driver and to pcm-prealloc-model, and the
# kernel's prealloc, prealloc_max and the hw: device's BUFFER_SIZE maximum must equal the model's
# predictions after every step (rejected writes, page rounding, 0, a busy substream and the card limit
# included).
import ctypes
import json

import hwlib

MIB = 1024 * 1024

# The query whose BUFFER_SIZE maximum is compared: what pcmd asks of a device.
FORMAT_S16_LE = 2
ACCESS_RW_INTERLEAVED = 3
CHANNELS = 2
RATE = 48000


class _ALSA:
    """The few alsa-lib calls the test needs, through ctypes on libasound.so.2."""

    def __init__(self):
        lib = ctypes.CDLL("libasound.so.2")
        lib.snd_pcm_open.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
        lib.snd_pcm_close.argtypes = [ctypes.c_void_p]
        lib.snd_pcm_hw_params_malloc.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        lib.snd_pcm_hw_params_free.argtypes = [ctypes.c_void_p]
        lib.snd_pcm_hw_params_any.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        for name in ("snd_pcm_hw_params_set_access", "snd_pcm_hw_params_set_format", "snd_pcm_hw_params_set_channels"):
            getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint]
        lib.snd_pcm_hw_params_set_rate.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
        lib.snd_pcm_hw_params_get_buffer_size_max.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_ulong)]
        lib.snd_strerror.restype = ctypes.c_char_p
        self.lib = lib

    def _check(self, result: int, what: str, device: str) -> None:
        if result < 0:
            hwlib.fail(f"{what} on {device}: {self.lib.snd_strerror(result).decode()} ({result})")

    def open(self, device: str) -> ctypes.c_void_p:
        pcm = ctypes.c_void_p()
        self._check(self.lib.snd_pcm_open(ctypes.byref(pcm), device.encode(), 0, 0), "snd_pcm_open", device)
        return pcm

    def close(self, pcm: ctypes.c_void_p) -> None:
        self.lib.snd_pcm_close(pcm)

    def buffer_size_max(self, pcm: ctypes.c_void_p, device: str) -> int:
        """Narrows hw_params of an open playback PCM to S16_LE/2ch/48 kHz and returns the BUFFER_SIZE maximum
        the kernel refines (snd_pcm_hw_params_get_buffer_size_max), in frames. Installs nothing."""
        lib = self.lib
        params = ctypes.c_void_p()
        try:
            self._check(lib.snd_pcm_hw_params_malloc(ctypes.byref(params)), "snd_pcm_hw_params_malloc", device)
            self._check(lib.snd_pcm_hw_params_any(pcm, params), "snd_pcm_hw_params_any", device)
            self._check(lib.snd_pcm_hw_params_set_access(pcm, params, ACCESS_RW_INTERLEAVED), "set_access", device)
            self._check(lib.snd_pcm_hw_params_set_format(pcm, params, FORMAT_S16_LE), "set_format", device)
            self._check(lib.snd_pcm_hw_params_set_channels(pcm, params, CHANNELS), "set_channels", device)
            self._check(lib.snd_pcm_hw_params_set_rate(pcm, params, RATE, 0), "set_rate", device)
            frames = ctypes.c_ulong()
            self._check(lib.snd_pcm_hw_params_get_buffer_size_max(params, ctypes.byref(frames)), "get_buffer_size_max", device)
            return frames.value
        finally:
            if params:
                lib.snd_pcm_hw_params_free(params)


def _write_prealloc(t, directory, text: str) -> str:
    """echo TEXT > prealloc. The kernel may report a refusal only at close, or not at all (the value then
    stays): what happened is logged, and the values read afterwards are what the test compares."""
    try:
        with open(directory / "prealloc", "w") as file:
            file.write(text + "\n")
        outcome = "accepted"
    except OSError as error:
        outcome = f"refused: {error}"
    t.log(f"write {text!r} to {directory / 'prealloc'}: {outcome}")
    return outcome


def _conformance(t, card, setup: str, model_options: list[str], steps: list[str]) -> None:
    """Applies each step to pcm0p/sub0 of `card` (a KiB value written to its prealloc file, or "open"/"close"
    of the hw: device) and compares the kernel's prealloc, prealloc_max and BUFFER_SIZE maximum after each
    step (and before the first) with what pcm-prealloc-model predicts for the same operations."""
    directory = card.substream_dir(0, "p", 0)
    device = card.hw(0, 0)
    operations = [setup, "read:p0"]
    for step in steps:
        operations += [step + ":p0" if step in ("open", "close") else f"write:p0:{step}", "read:p0"]
    model = hwlib.run([str(t.product("pcm-prealloc-model")), "--format", "s16", "--channels", str(CHANNELS),
                       *model_options, *operations], timeout=60)
    predicted = [json.loads(line) for line in model.stdout.splitlines() if line.startswith("{")]
    reads = [entry for entry in predicted if entry["op"] == "read:p0"]
    actions = [entry for entry in predicted if entry["op"] != "read:p0"][1:]  # without the setup
    hwlib.check(len(reads) == len(steps) + 1 and len(actions) == len(steps),
                f"model printed {len(reads)} reads and {len(actions)} actions for {len(steps)} steps:\n{model.stdout}")

    alsa = _ALSA()
    held = None  # the PCM handle while the test holds the substream open

    def observe() -> dict:
        state = {"prealloc": int((directory / "prealloc").read_text()),
                 "prealloc_max": int((directory / "prealloc_max").read_text())}
        pcm = held if held is not None else alsa.open(device)
        try:
            state["buffer_size_max"] = alsa.buffer_size_max(pcm, device)
        finally:
            if held is None:
                alsa.close(pcm)
        return state

    mismatches = []

    def compare(label: str, kernel: dict, model_read: dict, note: str = "") -> None:
        want = {key: model_read[key] for key in ("prealloc", "prealloc_max", "buffer_size_max")}
        t.log(f"{label}: kernel {kernel}, model {want}{note}")
        if kernel != want:
            mismatches.append(f"{label}: kernel {kernel} != model {want}{note}")

    try:
        compare("initial", observe(), reads[0])
        for step, action, model_read in zip(steps, actions, reads[1:]):
            if step == "open":
                held = alsa.open(device)
                outcome = "opened"
            elif step == "close":
                alsa.close(held)
                held = None
                outcome = "closed"
            else:
                outcome = _write_prealloc(t, directory, step)
            said = action["result"] + (f" ({action['error']})" if action["result"] == "error" else "")
            compare(f"{step}", observe(), model_read, f" [model: {said}; kernel: {outcome}]")
    finally:
        if held is not None:
            alsa.close(held)
    assert not mismatches, "the model disagrees with the kernel:\n" + "\n".join(mismatches)


def test_dummy_prealloc_matches_model(t):
    # snd-dummy fake_buffer=0: snd_pcm_set_managed_buffer_all(CONTINUOUS, size 0, max 64 KiB); the driver's
    # own buffer_bytes_max is 64 KiB (MAX_BUFFER_SIZE).
    card = hwlib.load_driver("snd-dummy", fake_buffer=0)
    try:
        _conformance(
            t, card, setup="preallocate-all:continuous:0:65536",
            model_options=["--playback", "8", "--hw-buffer-bytes-max", str(64 * 1024)],
            steps=["64", "4", "7", "8", "9", "65", "100000", "0", "16", "16", "open", "48", "0", "close", "48", "0"])
    finally:
        hwlib.load_driver("snd-dummy", fake_buffer=1)  # back to the default


def test_hda_prealloc_matches_model(t):
    # snd-hda-intel: snd_pcm_set_managed_buffer_all(DEV_SG, CONFIG_SND_HDA_PREALLOC_SIZE = 0 on Debian,
    # max 32 MiB). Driver limits (hda_controller.c, include/sound/hda_register.h): buffer_bytes_max is
    # AZX_MAX_BUF_SIZE, 4 MiB in this kernel (an "artificial 4MB limit per stream", 1 GiB before that
    # change), BUFFER_BYTES step 128, BUFFER_TIME at most 178 s. So a preallocation above 4 MiB does not
    # raise the hw_params maximum. max_alloc_per_card is 32 MiB: at 32768 KiB, any other non-zero size
    # needs room for the new buffer next to the old one and is refused.
    card = hwlib.load_driver("snd-hda-intel")
    try:
        _conformance(
            t, card, setup="preallocate-all:sg:0:33554432",
            model_options=["--hw-buffer-bytes-max", str(4 * MIB), "--hw-buffer-bytes-step", "128",
                           "--hw-buffer-time-max-us", "178000000", "--rate", str(RATE)],
            steps=["64", "4", "32769", "9", "4092", "4096", "4100", "32768", "32767", "16384", "0", "16384",
                   "16385", "16384", "open", "8", "close", "8", "0"])
    finally:
        _write_prealloc(t, card.substream_dir(0, "p", 0), "0")  # as found
