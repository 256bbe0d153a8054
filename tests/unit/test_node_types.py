"""Issue 20: one role per node type of the deployment table, applied by playbooks/nodes.yml.

- every node-type role is applied in one play of nodes.yml to its node-type group (the table's
  row), after every node's base, and site.yml imports nodes.yml before any service;
- where a node type and a service describe the same thing (swift's devices and their mount
  directory, cinder's volume group), the node type's default follows the service's variable when
  the inventory sets it, and falls back to the service's own default: the two cannot drift apart.
"""
from pathlib import Path

import pytest
import yaml
from jinja2.nativetypes import NativeEnvironment

TOP = Path(__file__).resolve().parents[2]
PLAYBOOKS = TOP / "playbooks"
# node-type role -> its node-type group in the inventory
NODE_TYPES = {
    "network_node": "network",
    "compute_node": "compute",
    "block_storage_node": "block_storage",
    "swift_storage_node": "swift_storage",
}
# (node-type role, its variable) -> (service role, the variable it follows)
FOLLOWS = {
    ("swift_storage_node", "swift_storage_node_devices"): ("swift", "swift_storage_devices"),
    ("swift_storage_node", "swift_storage_node_mount_dir"): ("swift", "swift_storage_devices_dir"),
    ("block_storage_node", "block_storage_node_volume_group"): ("cinder", "cinder_volume_group"),
}


def defaults(role):
    return yaml.safe_load((TOP / "roles" / role / "defaults" / "main.yml").read_text())


def plays(playbook):
    return yaml.safe_load((PLAYBOOKS / playbook).read_text())


def roles_of(play):
    return [r if isinstance(r, str) else r["role"] for r in play.get("roles", [])]


def test_every_node_type_role_exists_and_is_named_for_its_group():
    node_roles = sorted(p.name for p in (TOP / "roles").iterdir() if p.name.endswith("_node"))
    assert node_roles == sorted(NODE_TYPES)
    inventory = yaml.safe_load((TOP / "inventory" / "lab" / "hosts.yml").read_text())["all"]["children"]
    for group in NODE_TYPES.values():
        assert inventory[group].get("hosts"), f"{group} is not a node-type group of the lab's table"


def test_nodes_playbook_applies_each_node_type_role_to_its_group():
    nodes = plays("nodes.yml")
    assert nodes[0]["hosts"] == "all" and roles_of(nodes[0]) == ["cloudlab.openstack.base"]
    applied = {}
    for play in nodes[1:]:
        (role,) = roles_of(play)
        applied[role.removeprefix("cloudlab.openstack.")] = play["hosts"]
    assert applied == NODE_TYPES


def test_site_imports_nodes_before_any_service():
    imports = [play["ansible.builtin.import_playbook"] for play in plays("site.yml")]
    assert imports[:2] == ["prechecks.yml", "nodes.yml"]
    assert not any("cloudlab.openstack.base" in roles_of(play)
                   for playbook in imports[2:] for play in plays(playbook)), "base runs in nodes.yml only"


@pytest.mark.parametrize(("node", "service"), FOLLOWS.items(), ids=lambda key: key[1])
def test_node_type_default_follows_the_service(node, service):
    (node_role, node_var), (service_role, service_var) = node, service
    expression = defaults(node_role)[node_var]
    template = NativeEnvironment().from_string(expression)
    assert template.render() == defaults(service_role)[service_var], "the fallback must be the service's default"
    assert template.render({service_var: "from-the-inventory"}) == "from-the-inventory"
