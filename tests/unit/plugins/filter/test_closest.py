"""closest filter: the known name a misspelt one was meant to be, for the prechecks' messages."""
import importlib.util
import pathlib

import pytest
from ansible.errors import AnsibleFilterError

SPEC = importlib.util.spec_from_file_location(
    "closest", pathlib.Path(__file__).resolve().parents[4] / "plugins" / "filter" / "closest.py")
MODULE = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(MODULE)
closest = MODULE.closest

GROUPS = ["infra", "controller", "network", "compute", "mariadb", "nova_controller", "nova_compute",
          "neutron_l3_agent", "neutron_dhcp_agent", "swift_storage", "swift_proxy"]


@pytest.mark.parametrize("name, expected", [
    ("contoller", "controller"),
    ("Controller", "controller"),
    ("infar", "infra"),
    ("comptue", "compute"),
    ("nova_comptue", "nova_compute"),
    ("neutron_l3_agnet", "neutron_l3_agent"),
    ("swift-storage", "swift_storage"),
    ("maria_db", "mariadb"),
    # nothing close: no suggestion
    ("rack1", ""),
    ("gpu_nodes", ""),
])
def test_the_closest_known_name(name, expected):
    assert closest(name, GROUPS) == expected


def test_cutoff_and_empty_candidates():
    assert closest("contoller", GROUPS, cutoff=0.99) == ""
    assert closest("contoller", []) == ""


def test_candidates_must_be_a_list_of_names():
    with pytest.raises(AnsibleFilterError):
        closest("contoller", "controller")
