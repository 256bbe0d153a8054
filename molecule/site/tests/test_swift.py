"""The guide's "Object Service: Swift" (issue 12) on the whole table: playbooks/swift.yml as the
site runs it, with the proxy and the ring builder on osswift0, storage on osswift0-2 (their devices
made and mounted by the swift storage node type, cloudlab.openstack.swift_storage_node, in
playbooks/nodes.yml), keystone and memcached on oskeystone, and the role defaults (the guide's part
power 18, 5G sparse devices).

Read-only: three XFS devices per storage node under /srv/node with the guide's options, rsyncd
and the servers on the guide's addresses and ports, rings and swift.conf identical everywhere, the
guide's upload and download as demo with the `swift` client on the keystone node (prepare.yml
installs it there, as the guide's client has it), three replicas on three nodes. After every
read-only test (conftest.py): a changed hash path refused with nothing written, and a fourth
device on one storage node that gives exactly one rebalance and one copy of each ring. The second
converge and check mode are molecule's idempotence step and test_site.py.
"""
import re
import tempfile
from pathlib import Path

import pytest
import yaml

from lab_testinfra import (RUNNER, TOP, ansible_playbook, node, rc_run, report, task_results,
                           var)

KEYSTONE = RUNNER.get_hosts("keystone")[0]
STORAGE = sorted(RUNNER.get_hosts("swift_storage"))
SWIFT_NODES = sorted(set(RUNNER.get_hosts("swift_proxy")) | set(STORAGE))
BUILDER = RUNNER.get_hosts("swift_ring_builder")[0]
RINGS = ["account", "container", "object"]
SWIFT_PLAYBOOK = TOP / "playbooks" / "swift.yml"
NODES_PLAYBOOK = TOP / "playbooks" / "nodes.yml"


def sh(name, command):
    return node(name).check_output(command)


def addresses():
    """{node: (internal_ip, public_ip)} of the swift nodes, from the table."""
    return {name: (var(name, "internal_ip"), var(name, "public_ip")) for name in SWIFT_NODES}


def ring_sums():
    return {name: sh(name, "cd /etc/swift && sha256sum account.ring.gz container.ring.gz object.ring.gz")
            for name in STORAGE}


def changed_tasks(result):
    """[(task name, host)] that reported changed in a json report."""
    return [(task["task"]["name"], host) for play in result["plays"] for task in play["tasks"]
            for host, outcome in task["hosts"].items() if outcome.get("changed")]


def swift_play(*args, inventories=()):
    """playbooks/swift.yml on the lab (the secrets are the inventory's); returns the process and
    its json report."""
    run = ansible_playbook(SWIFT_PLAYBOOK, *args, inventories=inventories, json_report=True)
    return run, report(run)


def nodes_and_swift_play(*args, inventories=()):
    """playbooks/nodes.yml then playbooks/swift.yml in one run, `--tags swift`: the swift storage
    nodes' devices (their play carries the tag) and swift; of the other node plays only the argument
    checks run. Returns the process and its json report."""
    run = ansible_playbook(NODES_PLAYBOOK, str(SWIFT_PLAYBOOK), "--tags", "swift", *args,
                           inventories=inventories, json_report=True)
    return run, report(run)


# ---- storage nodes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", STORAGE)
def test_devices_are_mounted_xfs_owned_by_swift(name):
    mounts = sh(name, "findmnt -rn -t xfs -o TARGET,FSTYPE,OPTIONS")
    targets = {line.split()[0]: line.split()[2] for line in mounts.splitlines()}
    for dev in ["loop0", "loop1", "loop2"]:
        options = targets[f"/srv/node/{dev}"]
        assert "noatime" in options and "logbufs=8" in options
    owners = sh(name, "stat -c '%U:%G' /srv/node/loop0 /srv/node/loop1 /srv/node/loop2").split()
    assert owners == ["swift:swift"] * 3
    # persistent: enabled mount units (they come back at boot)
    enabled = sh(name, "systemctl is-enabled srv-node-loop0.mount srv-node-loop1.mount srv-node-loop2.mount").split()
    assert enabled == ["enabled"] * 3


@pytest.mark.parametrize("name", STORAGE)
def test_rsync_and_servers_listen(name):
    listening = sh(name, "ss -ltnH | awk '{print $4}'").split()
    internal, public = addresses()[name]
    assert f"{internal}:873" in listening
    for port in (6000, 6001, 6002):
        assert f"{public}:{port}" in listening
    for port in (6003, 6004, 6005):
        assert f"{internal}:{port}" in listening
    rsync = sh(name, f"rsync rsync://{internal}/")
    assert sorted(line.split()[0] for line in rsync.splitlines() if line.strip()) == RINGS


def test_rings_identical_on_every_node():
    sums = ring_sums()
    assert len(set(sums.values())) == 1
    assert len(sums[BUILDER].splitlines()) == 3


def test_swift_conf_identical_on_every_node():
    confs = {name: sh(name, "sha256sum < /etc/swift/swift.conf") for name in STORAGE}
    assert len(set(confs.values())) == 1


# ---- the guide's check, as demo ----------------------------------------------------------------------

def demo(command):
    """A swift client command as the guide's demo user in a scratch directory of the keystone node
    (demorc is there). No single quote in `command`: rc_run wraps it in them."""
    out = rc_run("/root/demorc", f"mkdir -p /tmp/cloudlab-swift-test && cd /tmp/cloudlab-swift-test && {command}",
                 KEYSTONE)
    assert out.rc == 0, out.stderr[-2000:]
    return out.stdout


@pytest.fixture
def myfiles():
    """The guide's container `myfiles`, removed afterwards with the scratch directory."""
    yield "myfiles"
    rc_run("/root/demorc", "swift delete myfiles", KEYSTONE)
    node(KEYSTONE).run("rm -rf /tmp/cloudlab-swift-test")


def test_guide_upload_download_three_replicas(myfiles):
    stat = demo("swift stat")
    found = re.search(r"Account: (AUTH_[0-9a-f]{32})", stat)
    assert found, stat
    account = found.group(1)
    demo(f'echo "Hello test" > test.txt && echo "Hello test2" > test2.txt && '
         f"swift upload {myfiles} test.txt && swift upload {myfiles} test2.txt")
    assert demo(f"swift list {myfiles}").split() == ["test.txt", "test2.txt"]
    demo(f"rm -rf dl && mkdir dl && cd dl && swift download {myfiles}")
    sums = demo("sha256sum test.txt test2.txt && cd dl && sha256sum test.txt test2.txt").splitlines()
    assert sums[0] == sums[2] and sums[1] == sums[3]
    by_ip = {ip: name for name, ips in addresses().items() for ip in ips}
    for name in ("test.txt", "test2.txt"):
        nodes = sh(BUILDER, f"swift-get-nodes -a /etc/swift/object.ring.gz {account} {myfiles} {name}")
        primaries = re.findall(r'ssh (\S+) "ls -lah \$\{DEVICE:-/srv/node\*\}/(\S+)"', nodes)[:3]
        assert len({ip for ip, _ in primaries}) == 3, nodes
        for ip, path in primaries:
            assert ".data" in sh(by_ip[ip.split(":")[0]], f"ls /srv/node/{path}")


# ---- after the read-only tests: plays with other inputs ---------------------------------------------

# Writes nothing when the precheck works; a broken precheck would make every stored object
# unreachable.
@pytest.mark.changes_cloud
def test_hash_path_change_refused_once_rings_exist():
    probe = STORAGE[-1]
    before = sh(probe, "sha256sum < /etc/swift/swift.conf")
    _, result = swift_play("--tags", "swift_common", "-e", "swift_hash_path_suffix=another-suffix")
    refused = task_results(result, "Check that the hash path stays as the rings were built with it")
    assert {h for h, r in refused if r.get("failed")} == set(SWIFT_NODES)
    assert all("makes every stored object" in r["msg"] for h, r in refused if r.get("failed"))
    assert sh(probe, "sha256sum < /etc/swift/swift.conf") == before


@pytest.mark.changes_cloud  # adds a device to the rings; the lab keeps it (a later converge drains it)
def test_fourth_device_one_rebalance_one_copy():
    extra_node = STORAGE[-1]
    before = ring_sums()
    # the rings were built minutes ago: let min_part_hours pass as the CLI lets an operator do
    for ring in RINGS:
        sh(BUILDER, f"swift-ring-builder /etc/swift/{ring}.builder pretend_min_part_hours_passed")
    # The device list of one node, one more device: an inventory source read after molecule's, so
    # its host variable wins. The swift storage node type makes the device from the same list (a
    # sparse file, XFS, a mount unit with -o loop on one of the loop nodes it creates in containers),
    # swift adds it to the rings.
    defaults = yaml.safe_load((TOP / "roles" / "swift" / "defaults" / "main.yml").read_text())
    devices = RUNNER.get_variables(extra_node).get("swift_storage_devices", defaults["swift_storage_devices"])
    with tempfile.TemporaryDirectory() as tmp:
        extra = Path(tmp) / "fourth-device.yml"
        extra.write_text(yaml.safe_dump({"all": {"hosts": {extra_node: {
            "swift_storage_devices": [*devices, {"name": "loop3"}]}}}}))
        run, result = nodes_and_swift_play(inventories=[extra])
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        built = task_results(result, "Build the account, container and object rings")
        rebalanced = [item["item"] for _, r in built for item in r["results"] if item["rebalance"]["done"]]
        assert rebalanced == RINGS
        copies = sorted((h, item["item"]) for h, r in task_results(result, "Copy the changed rings to this node")
                        for item in r.get("results", []) if item.get("changed"))
        assert copies == sorted((h, ring) for h in SWIFT_NODES if h != BUILDER for ring in RINGS)
        after = ring_sums()
        assert len(set(after.values())) == 1 and after[BUILDER] != before[BUILDER]
        assert "/srv/node/loop3" in sh(extra_node, "findmnt -rn -t xfs -o TARGET")
        run, result = nodes_and_swift_play(inventories=[extra])
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        assert changed_tasks(result) == []
