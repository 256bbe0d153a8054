"""The network node's Open vSwitch part of cloudlab.openstack.neutron on the lab's osnetwork
alone, through real ansible-playbook runs (targets/neutron_network/ovs.yml with
--tags neutron_ovs_agent_ovs).

osnetwork is rebuilt first (eth0 = 10.0.100.146/24, the network Ansible connects through;
eth1 = 192.168.182.151/25 with the default route via the host's 192.168.182.254; no OVS). Proven,
in this order:
  a wrong local_ip (the guide's "删除或变更GRE通道") is refused before anything changes;
  the first run sets the guide's sysctls, installs Open vSwitch, creates br-int (netdev, secure),
  moves eth0 into br-phy with its address (the userspace datapath's tunnel NIC, while Ansible is
  connected through it) and eth1 into br-ex with the public address and the default route, while
  the host pings 192.168.182.151 every 0.2 s (losses counted); afterwards the public address
  answers ping and TCP from the host;
  a second run and --check on the converged node report changed=0.
The node is rebuilt again at the end, so later tests (test_ovs_bridge.py) find it as the lab
makes it.
"""
import json
import re
import signal
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
PLAYBOOK = TOP / "tests" / "integration" / "targets" / "neutron_network" / "ovs.yml"
NODE = "osnetwork"
PUBLIC_IP, PUBLIC_CIDR, GATEWAY = "192.168.182.151", "192.168.182.151/25", "192.168.182.254"
INTERNAL_CIDR = "10.0.100.146/24"
SYSCTLS = {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "0",
           "net.ipv4.conf.default.rp_filter": "0", "net.bridge.bridge-nf-call-iptables": "1",
           "net.bridge.bridge-nf-call-ip6tables": "1", "net.bridge.bridge-nf-call-arptables": "1"}


class Node:
    """osnetwork, driven through the lab session (tests/integration/lab.py)."""

    def __init__(self, lab):
        self.lab = lab

    def ssh(self, command, check=True):
        return self.lab.ssh(NODE, command, check=check)

    def playbook(self, *args):
        """Runs ovs.yml with the role's OVS tag; returns (rc, stats of the node, output)."""
        env = self.lab.ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
        cmd = ["ansible-playbook", str(PLAYBOOK), "--tags", "neutron_ovs_agent_ovs", *args]
        proc = subprocess.run(cmd, cwd=TOP, env=env, capture_output=True, text=True, timeout=600,
                              check=False)
        report, dummy = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("\n{") + 1:])
        return proc.returncode, report["stats"].get(NODE, {}), proc.stdout + proc.stderr

    def addresses(self):
        """{ifname: [cidr, ...]} of the node's IPv4 addresses."""
        links = json.loads(self.ssh("ip -j -4 address show").stdout)
        return {link["ifname"]: ["%s/%s" % (a["local"], a["prefixlen"]) for a in link["addr_info"]]
                for link in links}

    def default_route_dev(self):
        routes = json.loads(self.ssh("ip -j -4 route show default").stdout)
        return [r["dev"] for r in routes]


def host_answers_tcp():
    """sshd's banner on PUBLIC_IP:22 as the host sees it: TCP, not only ICMP, passes."""
    proc = subprocess.run(["timeout", "5", "bash", "-c", "exec 3<>/dev/tcp/%s/22; head -c 7 <&3" % PUBLIC_IP],
                          capture_output=True, text=True, check=False)
    return proc.stdout


class HostPing:
    """ping -O -i 0.2 from the host to the node's public address for the duration of a block."""

    def __enter__(self):
        self.proc = subprocess.Popen(["ping", "-n", "-O", "-i", "0.2", PUBLIC_IP],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGINT)
        out, dummy = self.proc.communicate(timeout=10)
        summary = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        self.sent, self.received = int(summary.group(1)), int(summary.group(2))
        return False


@pytest.fixture(scope="module")
def node(lab_nodes):
    """A freshly rebuilt osnetwork; rebuilt again at the end (eth0 and eth1 back as the lab makes them)."""
    lab_nodes([NODE])
    lab_nodes.lab.tool("rebuild", NODE)
    the_node = Node(lab_nodes.lab)
    assert the_node.addresses()["eth1"] == [PUBLIC_CIDR]
    yield the_node
    lab_nodes.lab.tool("rebuild", NODE)


def test_wrong_local_ip_is_refused_before_anything_changes(node):
    rc, stats, output = node.playbook("-e", "tunnel_ip=10.0.100.99")
    assert rc != 0
    assert ("osnetwork: the tunnel endpoint local_ip 10.0.100.99 (neutron_ovs_agent_local_ip, from "
            "tunnel_ip or internal_ip) is not an address of this node") in output
    assert stats.get("changed") == 0
    assert node.ssh("command -v ovs-vsctl; test -e /etc/sysctl.d/60-neutron.conf", check=False).returncode != 0


def test_first_run_moves_both_nics_and_keeps_the_node(node):
    with HostPing() as ping:
        rc, stats, output = node.playbook()
    assert rc == 0, output[-4000:]
    assert stats["changed"] >= 5 and stats["failures"] == 0
    print("\nneutron_network: host pinged %s every 0.2 s during the first run: %d sent, %d received"
          % (PUBLIC_IP, ping.sent, ping.received))
    assert ping.sent >= 10 and ping.sent - ping.received <= 3, "the node was unreachable too long"
    addresses = node.addresses()
    assert addresses["br-ex"] == [PUBLIC_CIDR] and addresses.get("eth1", []) == []
    assert addresses["br-phy"] == [INTERNAL_CIDR] and addresses.get("eth0", []) == []
    assert node.default_route_dev() == ["br-ex"]
    bridges = json.loads(node.ssh("ovs-vsctl --format=json -- --columns=name,datapath_type,fail_mode "
                                  "list Bridge").stdout)["data"]
    got = {name: (datapath, fail_mode) for name, datapath, fail_mode in bridges}
    assert got["br-int"] == ("netdev", "secure")
    assert got["br-ex"][0] == "netdev" and got["br-phy"][0] == "netdev"
    ports = node.ssh("ovs-vsctl list-ports br-ex; echo '#'; ovs-vsctl list-ports br-phy").stdout
    assert ports.split("#") == ["eth1\n", "\neth0\n"]
    values = node.ssh("sysctl -n %s" % " ".join(SYSCTLS)).stdout.split()
    assert dict(zip(SYSCTLS, values)) == SYSCTLS
    assert subprocess.run(["ping", "-c", "3", "-W", "1", PUBLIC_IP], capture_output=True,
                          check=False).returncode == 0
    assert host_answers_tcp() == "SSH-2.0"


def test_second_run_changes_nothing(node):
    rc, stats, output = node.playbook()
    assert rc == 0 and stats["changed"] == 0, output[-4000:]


def test_check_mode_on_the_converged_node_changes_nothing(node):
    rc, stats, output = node.playbook("--check")
    assert rc == 0 and stats["changed"] == 0 and stats["failures"] == 0, output[-4000:]
    assert node.addresses()["br-ex"] == [PUBLIC_CIDR]
