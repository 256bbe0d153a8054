"""Session fixtures for integration tests that need lab nodes (see tests/integration/lab.py).

    def test_x(lab_nodes):
        inventory = lab_nodes(["oskeystone"])   # up once per session, reused by later tests

The lab is left up at the end of the session, so the molecule stage and the next test run reuse
it (a warm `up` is a no-op); `make test` ends with `tools/lab down`. Set CLOUDLAB_LAB_DOWN=1 to
take it down when the pytest session ends instead.
"""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lab import Lab  # noqa: E402  pylint: disable=wrong-import-position


def pytest_configure(config):
    config.addinivalue_line("markers", "lab_teardown: takes the lab down; runs after every other test")


def pytest_collection_modifyitems(config, items):  # pylint: disable=unused-argument
    """Tests that take the lab down run last, so no later test finds its nodes gone."""
    items.sort(key=lambda item: item.get_closest_marker("lab_teardown") is not None)


@pytest.fixture(scope="session")
def lab():
    """The session's Lab: one SSH ControlPath directory, the nodes this session brought up."""
    the_lab = Lab()
    yield the_lab
    if os.environ.get("CLOUDLAB_LAB_DOWN") == "1":
        the_lab.down()


@pytest.fixture(scope="session")
def lab_nodes(lab):
    """A function: lab_nodes(["oskeystone", "osnetwork"]) ensures they are up, returns the inventory."""
    def ensure(nodes):
        return lab.ensure(nodes)
    ensure.lab = lab
    return ensure
