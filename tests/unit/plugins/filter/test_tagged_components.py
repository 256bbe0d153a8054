"""tagged_components filter: the components a --tags run of cinder or neutron deploys."""
import importlib.util
import pathlib

import pytest
from ansible.errors import AnsibleFilterError

SPEC = importlib.util.spec_from_file_location(
    "tagged_components", pathlib.Path(__file__).resolve().parents[4] / "plugins" / "filter" / "tagged_components.py")
MODULE = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(MODULE)
tagged_components = MODULE.tagged_components

NEUTRON = {"server": "neutron_server", "ovs_agent": "neutron_ovs_agent", "l3": "neutron_agents",
           "dhcp": "neutron_agents", "metadata": "neutron_agents"}
CINDER = {"cinder_controller": "cinder_controller", "cinder_volume": "cinder_volume"}


@pytest.mark.parametrize("components, run_tags, role, expected", [
    # no --tags, the role's tag, or only step tags: every component
    (NEUTRON, ["all"], "neutron", list(NEUTRON)),
    (NEUTRON, ["neutron"], "neutron", list(NEUTRON)),
    (NEUTRON, ["neutron_config"], "neutron", list(NEUTRON)),
    (NEUTRON, ["neutron", "neutron_server"], "neutron", list(NEUTRON)),
    (NEUTRON, ["all", "neutron_server"], "neutron", list(NEUTRON)),
    # component tags: those components, in the input's order; a shared tag selects every one of its own
    (NEUTRON, ["neutron_server"], "neutron", ["server"]),
    (NEUTRON, ["neutron_agents", "neutron_config"], "neutron", ["l3", "dhcp", "metadata"]),
    (NEUTRON, ["neutron_agents", "neutron_server"], "neutron", ["server", "l3", "dhcp", "metadata"]),
    (CINDER, ["cinder_volume"], "cinder", ["cinder_volume"]),
    (CINDER, ["cinder_volume", "cinder_controller"], "cinder", ["cinder_controller", "cinder_volume"]),
    (CINDER, ["cinder_install"], "cinder", ["cinder_controller", "cinder_volume"]),
    # another role's component tag does not narrow this one
    (CINDER, ["neutron_server"], "cinder", ["cinder_controller", "cinder_volume"]),
    (CINDER, "cinder_volume", "cinder", ["cinder_volume"]),
])
def test_selection(components, run_tags, role, expected):
    assert tagged_components(components, run_tags, role) == expected


def test_the_old_cinder_and_neutron_expressions_agree():
    """The filter replaces roles/cinder/vars/main.yml's and roles/neutron/vars/main.yml's own copies."""
    def cinder_before(run_tags):
        keys = list(CINDER)
        if set(run_tags) & {"all", "cinder"} or not set(run_tags) & set(keys):
            return keys
        return [tag for tag in run_tags if tag in keys]

    def neutron_before(run_tags):
        if set(run_tags) & {"all", "neutron"} or not set(run_tags) & set(NEUTRON.values()):
            return list(NEUTRON)
        return [key for key, tag in NEUTRON.items() if tag in run_tags]

    tags = ["all", "cinder", "neutron", "cinder_controller", "cinder_volume", "cinder_config", "neutron_server",
            "neutron_ovs_agent", "neutron_agents", "neutron_install"]
    for first in tags:
        for second in tags:
            run = list(dict.fromkeys([first, second]))   # ansible_run_tags holds each tag once
            assert sorted(tagged_components(CINDER, run, "cinder")) == sorted(cinder_before(run)), run
            assert tagged_components(NEUTRON, run, "neutron") == neutron_before(run), run


def test_input_must_be_a_mapping():
    with pytest.raises(AnsibleFilterError, match="component: tag"):
        tagged_components(["server"], ["all"], "neutron")
