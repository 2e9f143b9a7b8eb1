# The one exception a hardware test raises to fail with a reason, and the helpers that raise it.
from __future__ import annotations


class TestFailure(AssertionError):
    """A check failed; the message is what the summary shows, so it says what was expected and what was seen."""

    __test__ = False  # not a test class, whatever a collector thinks of the name


def fail(message: str) -> None:
    raise TestFailure(message)


def check(condition: bool, message: str) -> None:
    """Fails the test with `message` when `condition` is false."""
    if not condition:
        raise TestFailure(message)
