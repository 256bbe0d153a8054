"""The lab nodes as molecule hands them to testinfra: sshd, systemd, the guide's hostname and
names, the table's groups from the lab inventory."""
import os

import testinfra.utils.ansible_runner

RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"]))
testinfra_hosts = RUNNER.get_hosts("all")


def test_sshd_runs_under_systemd(host):
    assert host.service("ssh").is_running
    assert host.socket("tcp://0.0.0.0:22").is_listening
    assert host.run("cat /proc/1/comm").stdout.strip() == "systemd"


def test_hostname_and_names_are_the_guides(host):
    name = host.backend.get_hostname()
    assert host.run("hostname").stdout.strip() == name
    addresses = {h: RUNNER.get_variables(h)["public_ip"] for h in testinfra_hosts}
    for other, address in addresses.items():
        assert host.addr(other).ipv4_addresses == [address]
    assert host.run("ping -c1 -W2 %s", [h for h in addresses if h != name][0]).rc == 0


def test_converge_saw_the_tables_groups(host):
    name = host.backend.get_hostname()
    groups = sorted(set(RUNNER.get_variables(name)["group_names"]) - {"all"})  # testinfra adds all
    assert host.file("/etc/cloudlab-molecule").content_string == f"{name} {','.join(groups)}\n"
    assert "chrony_client" in groups
