"""Fixtures of the plugin unit tests."""
import signal

import pytest


@pytest.fixture
def deadline():
    """Fail the test instead of hanging when it runs longer than 30 s (tests that fork a child: a
    parent waiting for ever on a pipe or a child must become a failure). SIGALRM interrupts the
    parent's select or waitpid; a forked child does not inherit the alarm."""
    def expired(signum, frame):
        raise AssertionError('the test ran longer than 30 s: something waits for ever')

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
