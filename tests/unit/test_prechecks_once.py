"""The prechecks that compare the nodes of the table, run once for all hosts (issue 21), on scratch
inventories by ansible-playbook on the controller alone: asserts connect to no node, so the hosts
need not exist. Each check fails once (run_once) with one line per bad node, each line the message
that node's own check gave when every node ran these tasks; a good node is never named.

tests/integration/test_prechecks.py runs the whole site.yml on broken copies of the lab's table;
these run the changed tasks (roles/prechecks/tasks/addresses.yml and swift.yml) on a small table.
"""
import copy
import json
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from controller_playbook import run_playbook  # noqa: E402  pylint: disable=wrong-import-position

PLAYBOOK = """
- name: The table's checks, as playbooks/prechecks.yml runs them
  hosts: all
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - name: Check each node's addresses
      ansible.builtin.import_role:
        name: cloudlab.openstack.prechecks
        tasks_from: addresses.yml
    - name: Check the swift layout
      ansible.builtin.import_role:
        name: cloudlab.openstack.prechecks
        tasks_from: swift.yml
"""

NETWORKS = {
    "cloudlab_internal_cidr": "10.0.0.0/24",
    "cloudlab_public_cidr": "192.168.1.0/24",
    "cloudlab_public_gateway": "192.168.1.1",
    "cloudlab_floating_range": ["192.168.1.200", "192.168.1.250"],
}
# The guide's layout in small: a controller, a network node, two compute nodes (the network and
# compute nodes are tunnel endpoints, neutron_ovs_agent), a swift node holding the ring builder and
# a storage device, and a second storage node.
NODES = {
    "ctl": {"internal_ip": "10.0.0.11", "public_ip": "192.168.1.11"},
    "net": {"internal_ip": "10.0.0.12", "public_ip": "192.168.1.12"},
    "cmp1": {"internal_ip": "10.0.0.13", "public_ip": "192.168.1.13"},
    "cmp2": {"internal_ip": "10.0.0.14", "public_ip": "192.168.1.14"},
    "sw0": {"internal_ip": "10.0.0.15", "public_ip": "192.168.1.15", "swift_storage_zone": 1,
            "swift_storage_devices": [{"name": "d1"}]},
    "sw1": {"internal_ip": "10.0.0.16", "public_ip": "192.168.1.16", "swift_storage_zone": 2,
            "swift_storage_devices": [{"name": "d1"}]},
}
GROUPS = {
    "controller": ["ctl"], "network": ["net"], "compute": ["cmp1", "cmp2"], "swift": ["sw0", "sw1"],
    "neutron_ovs_agent": ["net", "cmp1", "cmp2"],
    "swift_proxy_server": ["sw0"], "swift_ring_builder": ["sw0"],
    "swift_account": ["sw0", "sw1"], "swift_container": ["sw0", "sw1"], "swift_object": ["sw0", "sw1"],
}
# Two replicas: the two zones and two devices above hold them.
SWIFT = {"swift_rings_replicas": 2}


def addresses(host):
    return f"{NODES[host]['internal_ip']} / public_ip {NODES[host]['public_ip']}"


def shared(host, internal_ip, public_ip, used_by):
    return (f"{host}: internal_ip {internal_ip} / public_ip {public_ip} must be two addresses no other node "
            f"uses; also used by: {used_by}.")


def invalid(host, internal_ip, public_ip):
    return (f"{host}: internal_ip ({internal_ip}) must be a host address inside cloudlab_internal_cidr 10.0.0.0/24 "
            f"and public_ip ({public_ip}) one inside cloudlab_public_cidr 192.168.1.0/24.")


def floating(host, public_ip):
    return (f"{host}: public_ip {public_ip} lies in cloudlab_floating_range 192.168.1.200 - 192.168.1.250 or is "
            "the gateway 192.168.1.1: neutron would hand it to an instance. Shrink the range or move the node.")


def tunnel(host, tunnel_ip):
    return (f"{host}: the tunnel endpoint (tunnel_ip, default internal_ip) is {tunnel_ip}; it must be an address "
            "inside the internal network 10.0.0.0/24, where the GRE/VXLAN tunnels between network and compute "
            "nodes run.")


def run_checks(tmp_path, host_vars=None, drop=None, limit=None):
    """ansible-playbook of PLAYBOOK on the table above with host_vars laid over it (and the variables
    `drop` {host: [names]} removed); returns (returncode, {task name: [(host, ok|failed|skipped, msg)]})
    from the json callback."""
    nodes = copy.deepcopy(NODES)
    for host, variables in (host_vars or {}).items():
        nodes[host].update(variables)
    for host, names in (drop or {}).items():
        for name in names:
            nodes[host].pop(name)
    inventory = {"all": {"vars": {**NETWORKS, **SWIFT}, "hosts": nodes,
                         "children": {group: {"hosts": {host: {} for host in hosts}} for group, hosts in GROUPS.items()}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    (tmp_path / "checks.yml").write_text(PLAYBOOK)
    run = run_playbook(tmp_path, tmp_path / "hosts.yml", tmp_path / "checks.yml", *(["--limit", limit] if limit else []),
                       stdout_callback="ansible.posix.json")
    assert run.stdout.lstrip().startswith("{"), run.stdout[-3000:] + run.stderr[-3000:]
    results = {}
    for play in json.loads(run.stdout)["plays"]:
        for task in play["tasks"]:
            name = task["task"]["name"].partition(" : ")[2] or task["task"]["name"]
            results[name] = [(host, "failed" if result.get("failed") else "skipped" if result.get("skipped") else "ok",
                              result.get("msg", "")) for host, result in task["hosts"].items()]
    return run.returncode, results


def failure(results):
    """(task, [lines]) of the one failed task; each line names one bad node."""
    failed = [(task, host, msg) for task, hosts in results.items() for host, state, msg in hosts if state == "failed"]
    assert len(failed) == 1, failed
    task, _, msg = failed[0]
    return task, msg.split("\n")


def test_a_good_table_passes_with_one_result_per_check(tmp_path):
    returncode, results = run_checks(tmp_path)
    assert returncode == 0, results
    for task, hosts in results.items():
        assert [state for _, state, _ in hosts] == ["ok"], (task, hosts)


@pytest.mark.parametrize("host_vars, drop, task, lines", [
    pytest.param({"cmp2": {"internal_ip": "10.0.0.12"}}, None, "Check that no other node has the same address",
                 [shared("net", "10.0.0.12", "192.168.1.12", "cmp2"), shared("cmp2", "10.0.0.12", "192.168.1.14", "net")],
                 id="duplicate-internal-ip"),
    pytest.param({"cmp1": {"public_ip": "192.168.1.11"}, "sw1": {"internal_ip": "10.0.0.11"}}, None,
                 "Check that no other node has the same address",
                 [shared("ctl", "10.0.0.11", "192.168.1.11", "sw1, cmp1"), shared("cmp1", "10.0.0.13", "192.168.1.11", "ctl"),
                  shared("sw1", "10.0.0.11", "192.168.1.16", "ctl")],
                 id="duplicate-public-and-internal-ip"),
    pytest.param({"net": {"internal_ip": "10.0.0.99", "public_ip": "10.0.0.99"}}, None, "Check the nodes' internal and public addresses",
                 [invalid("net", "10.0.0.99", "10.0.0.99")], id="public-ip-on-the-internal-network"),
    pytest.param({"cmp2": {"internal_ip": "10.0.0.255"}, "net": {"public_ip": "192.168.2.5"}, "ctl": {"internal_ip": "10.0.0.300"}},
                 {"sw1": ["public_ip"]}, "Check the nodes' internal and public addresses",
                 [invalid("ctl", "10.0.0.300", "192.168.1.11"), invalid("net", "10.0.0.12", "192.168.2.5"),
                  invalid("cmp2", "10.0.0.255", "192.168.1.14"), invalid("sw1", "10.0.0.16", "missing")],
                 id="bad-and-missing-addresses"),
    pytest.param({"cmp1": {"public_ip": "192.168.1.200"}, "sw0": {"public_ip": "192.168.1.250"}}, None,
                 "Check that no node address is a floating IP or the gateway",
                 [floating("cmp1", "192.168.1.200"), floating("sw0", "192.168.1.250")], id="public-ip-in-the-floating-range"),
    pytest.param({"net": {"public_ip": "192.168.1.1"}}, None, "Check that no node address is a floating IP or the gateway",
                 [floating("net", "192.168.1.1")], id="public-ip-is-the-gateway"),
    # ctl is no tunnel endpoint (not in neutron_ovs_agent): its tunnel_ip is not checked
    pytest.param({"cmp1": {"tunnel_ip": "192.168.1.13"}, "net": {"prechecks_tunnel_ip": "10.0.1.12"},
                  "ctl": {"tunnel_ip": "192.168.1.11"}}, None, "Check the tunnel endpoints (the guide's local_ip)",
                 [tunnel("net", "10.0.1.12"), tunnel("cmp1", "192.168.1.13")], id="tunnel-endpoints"),
])
def test_each_bad_node_is_named_once(tmp_path, host_vars, drop, task, lines):
    returncode, results = run_checks(tmp_path, host_vars, drop)
    assert returncode != 0
    failed_task, failed_lines = failure(results)
    assert failed_task == task
    # the play's host order (the inventory's), one line per bad node, nothing else
    assert failed_lines == lines


def test_the_swift_check_reads_the_ring_builders_values(tmp_path):
    # the ring builder's replicas count (another node's is not read): 3 replicas, 2 zones
    returncode, results = run_checks(tmp_path, {"sw0": {"swift_rings_replicas": 3}, "sw1": {"swift_rings_replicas": 1}})
    assert returncode != 0
    task, lines = failure(results)
    assert task == "Check the swift rings against the storage nodes"
    assert lines == ["Swift (on sw0): swift_rings_replicas is 3, swift_rings_part_power 18; the storage nodes have "
                     "2 zone(s) (1, 2) and 2 device(s). Replicas must be at least 1 and at most the number of zones "
                     "(each replica in its own zone) and of devices; part_power from 1 to 32."]
    returncode, results = run_checks(tmp_path, {"sw0": {"prechecks_swift_part_power": 40}})
    assert returncode != 0
    assert "swift_rings_replicas is 2, swift_rings_part_power 40;" in failure(results)[1][0]


def test_limit_checks_the_play_hosts_against_the_whole_table(tmp_path):
    """--limit: the play's nodes are checked, against every node of the inventory; a bad node the
    run leaves out is not named, as when each node checked itself; the ring builder left out, the
    swift rings are not checked."""
    bad = {"ctl": {"public_ip": "192.168.1.13", "internal_ip": "10.0.0.300"}, "sw0": {"swift_rings_replicas": 5}}
    returncode, results = run_checks(tmp_path, bad, limit="cmp1,cmp2")
    assert returncode != 0
    task, lines = failure(results)
    assert (task, lines) == ("Check that no other node has the same address", [shared("cmp1", "10.0.0.13", "192.168.1.13", "ctl")])
    returncode, results = run_checks(tmp_path, {"ctl": bad["ctl"]}, limit="cmp2,sw0,sw1")
    assert returncode == 0, results
    assert [state for _, state, _ in results["Check the swift rings against the storage nodes"]] == ["ok"]
    returncode, results = run_checks(tmp_path, {"sw0": bad["sw0"]}, limit="ctl,sw1")
    assert returncode == 0, results
    assert [state for _, state, _ in results["Check the swift rings against the storage nodes"]] == ["skipped"]
