# hwlib: the library the hardware tests (tests/hardware/test_*.py) use inside the VM, and the runner uses on
# the host. See tests/hardware/README.md for the conventions.
from .analysis import Break, SineMeasurement, assert_sine, counter_breaks, measure_sine, nonsilent_span, silent_runs, sine_breaks
from .compare import Match, assert_bit_exact, find_bit_exact
from .context import TestContext
from .drivers import CARD_IDS, Card, card, cards, find_card, hda_card, load_driver, loaded_modules, module_parameter, substream_state, wait_for_state
from .errors import TestFailure, check, fail
from .hda import play_on_hda
from .proc import Background, Result, run, start
from .signals import concat, counter, frames_for, pad, silence, sine, stereo_sines
from .wav import Audio, from_bytes, read_wav, write_wav


def timeout(seconds: float):
    """Decorator: gives a test more (or less) than the default 180 s before it is stopped and failed."""
    def mark(function):
        function.hwtest_timeout = seconds
        return function
    return mark
