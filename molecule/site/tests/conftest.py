"""The scenario's tests import molecule/shared/lab_testinfra.py, and run in two parts: every test
that only reads the cloud first (in file order, the check-mode run of the whole site among them),
then those marked `changes_cloud`, also in file order."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "changes_cloud: runs plays that change the deployed cloud, or would if the refusal it tests"
        " broke; runs after every read-only test and after the check-mode run of the site")


def pytest_collection_modifyitems(items):
    # A stable partition: read-only tests keep their order, the marked ones follow in theirs.
    reading = [item for item in items if item.get_closest_marker("changes_cloud") is None]
    changing = [item for item in items if item.get_closest_marker("changes_cloud") is not None]
    items[:] = reading + changing
