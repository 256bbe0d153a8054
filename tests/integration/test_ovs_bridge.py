"""cloudlab.openstack.ovs_bridge through real ansible-playbook runs on a real Open vSwitch.

The lab's osnetwork node (privileged; eth1 = 192.168.182.151/25 on the public network, default
route via the host's 192.168.182.254) runs Debian's openvswitch-switch with the userspace datapath
(targets/ovs_bridge/setup.yml). Proven here, in this order (the tests share the node):
  br-int created → unchanged on a re-run → updated; a port on br-int declared on br-tun moves;
  the guard refuses to move eth1 when Ansible is connected through it, and nothing changes;
  br-ex on eth1 (netdev) in check mode predicts exactly the commands the real run then runs; the
  real run moves the IP and the default route, while oscompute1 pings 192.168.182.151 every
  0.1 s (losses counted), and TCP passes afterwards; a re-run changes nothing;
  the IP configuration persisted for ifupdown comes back after ovs-vswitchd restarts (which
  drops the bridge's addresses as a reboot would) with `ifup`;
  state=absent removes br-ex and gives eth1 its IP and default route back;
  a probe of an address that never answers rolls everything back and leaves eth1 as it was;
  the same with state=absent puts br-ex back with its address and route.
The node is left as it was found: no br-ex, eth1 with its address, no persisted file.
"""
import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from ansible_collections.cloudlab.openstack.plugins.module_utils import ovs

TOP = Path(__file__).resolve().parents[2]
TARGET = TOP / "tests" / "integration" / "targets" / "ovs_bridge"
NODE, WATCHER = "osnetwork", "oscompute1"
PUBLIC_IP, CIDR, GATEWAY = "192.168.182.151", "192.168.182.151/25", "192.168.182.254"
IFUPDOWN_FILE = "/etc/network/interfaces.d/br-ex"
BR_EX = {"bridge": "br-ex", "datapath_type": "netdev", "uplink": "eth1"}


class Net:
    """The two nodes of the test, driven through the lab session (tests/integration/lab.py)."""

    def __init__(self, lab):
        self.lab = lab

    def ssh(self, node, command, check=True):
        return self.lab.ssh(node, command, check=check)

    def playbook(self, name, *args, extra=None, check=False, diff=False):
        env = self.lab.ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
        cmd = ["ansible-playbook", str(TARGET / name), *args]
        if extra is not None:
            cmd += ["-e", json.dumps(extra)]
        cmd += ["--check"] if check else []
        cmd += ["--diff"] if diff else []
        proc = subprocess.run(cmd, cwd=TOP, env=env, capture_output=True, text=True, timeout=900,
                              check=False)
        report, dummy = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("\n{") + 1:])
        return proc.returncode, report, proc.stdout + proc.stderr

    def bridge(self, check=False, diff=False, connect_to=None, **options):
        """Run targets/ovs_bridge/bridge.yml; returns (rc, the task's result, output)."""
        args = ["-e", "ansible_host=%s" % connect_to] if connect_to else []
        extra = dict(("ovs_%s" % k, v) for k, v in options.items())
        rc, report, output = self.playbook("bridge.yml", *args, extra=extra, check=check, diff=diff)
        return rc, report["plays"][0]["tasks"][0]["hosts"][NODE], output

    def apply(self, **options):
        rc, result, output = self.bridge(**options)
        assert rc == 0, output[-4000:]
        return result

    def observe(self):
        """The node as the module sees it, read with the module's own parsers."""
        vsctl = " ".join("'%s'" % a if "," in a else a for a in ovs.VSCTL_READ)
        out = self.ssh(NODE, "ovs-vsctl -t 5 %s; echo '#'; ip -j address show; echo '#'; "
                             "ip -j -4 route show table main" % vsctl).stdout
        tables, addr, route4 = out.split("#\n")
        return (ovs.parse_vsctl_tables(tables), ovs.parse_ip_addr(addr),
                ovs.parse_ip_routes(route4, "inet"))

    def watch(self):
        return Watch(self)

    def pings(self, count=3):
        return self.ssh(WATCHER, "ping -c %d -W 1 %s" % (count, PUBLIC_IP), check=False).returncode == 0

    def tcp_banner(self):
        """The first bytes sshd sends on PUBLIC_IP:22 to the watcher: TCP, not just ICMP, passes."""
        return self.ssh(WATCHER, "timeout 5 bash -c 'exec 3<>/dev/tcp/%s/22; head -c 7 <&3'" % PUBLIC_IP,
                        check=False).stdout


def addresses(links, ifname):
    return [a["cidr"] for a in links.get(ifname, {}).get("addresses", [])]


def default_dev(routes):
    return [r["dev"] for r in routes if r["dst"] == "default"]


class Watch:
    """ping -i 0.1 from the watcher to the node's public IP, in the background on the watcher."""

    def __init__(self, net):
        self.net = net
        self.pid = None
        self.sent = self.received = self.longest = None

    def __enter__(self):
        start = "nohup ping -n -O -i 0.1 %s </dev/null >/tmp/ovs-watch.log 2>&1 & echo $!" % PUBLIC_IP
        self.pid = self.net.ssh(WATCHER, start).stdout.strip()
        # Wait for the first answer, so the window covers only the run.
        for dummy in range(50):
            if "bytes from" in self.net.ssh(WATCHER, "cat /tmp/ovs-watch.log").stdout:
                break
            time.sleep(0.1)
        return self

    def __exit__(self, *exc):
        stop = "kill -INT %s; while kill -0 %s 2>/dev/null; do sleep 0.1; done" % (self.pid, self.pid)
        self.net.ssh(WATCHER, stop, check=False)
        log = self.net.ssh(WATCHER, "cat /tmp/ovs-watch.log").stdout
        summary = re.search(r"(\d+) packets transmitted, (\d+) received", log)
        self.sent, self.received = int(summary.group(1)), int(summary.group(2))
        # -O prints "no answer yet for icmp_seq=N": the longest run of them is the longest outage
        seqs = [int(s) for s in re.findall(r"no answer yet for icmp_seq=(\d+)", log)]
        self.longest = longest_run(seqs)
        return False


def longest_run(seqs):
    best = run = 0
    previous = None
    for seq in seqs:
        run = run + 1 if previous is not None and seq == previous + 1 else 1
        best = max(best, run)
        previous = seq
    return best


@pytest.fixture(scope="module")
def net(lab_nodes):
    """osnetwork and oscompute1 up, Open vSwitch installed, no bridge left from a run; at the end
    the node is left as found (eth1 with its address, no bridge)."""
    lab_nodes([NODE, WATCHER])
    the_net = Net(lab_nodes.lab)
    rc, dummy, output = the_net.playbook("setup.yml")
    assert rc == 0, output[-4000:]
    clean(the_net)
    dummy, links, routes = the_net.observe()
    assert addresses(links, "eth1") == [CIDR], "eth1 must carry %s to start with" % CIDR
    assert default_dev(routes) == ["eth1"]
    yield the_net
    clean(the_net)


def clean(the_net):
    the_net.apply(bridge="br-ex", uplink="eth1", state="absent", persist="ifupdown")
    for name in ("br-int", "br-tun"):
        the_net.apply(bridge=name, state="absent")


def test_br_int_created_unchanged_updated(net):
    spec = dict(bridge="br-int", datapath_type="netdev", fail_mode="secure",
                ports=[{"name": "patch-tun", "type": "patch", "options": {"peer": "patch-int"}}])
    result = net.apply(**spec)
    assert result["changed"] and len(result["commands"]) == 1  # one transaction
    assert net.apply(**spec)["changed"] is False
    rc, result, dummy = net.bridge(check=True, **spec)
    assert rc == 0 and result["changed"] is False and result["commands"] == []
    result = net.apply(**dict(spec, external_ids={"bridge-id": "br-int"}))
    assert result["commands"] == ["ovs-vsctl -t 5 -- set Bridge br-int external_ids:bridge-id=br-int"]
    state, dummy, dummy = net.observe()
    assert state["bridges"]["br-int"] == {
        "datapath_type": "netdev", "fail_mode": "secure", "external_ids": {"bridge-id": "br-int"},
        "other_config": {}, "ports": {"patch-tun": {"type": "patch", "options": {"peer": "patch-int"},
                                                    "tag": None}}}


def test_port_on_another_bridge_is_moved(net):
    result = net.apply(bridge="br-tun", datapath_type="netdev",
                       ports=[{"name": "patch-tun", "type": "patch", "options": {"peer": "patch-int"}}])
    assert "-- del-port br-int patch-tun -- --may-exist add-port br-tun patch-tun" in result["commands"][0]
    state, dummy, dummy = net.observe()
    assert state["port_bridge"]["patch-tun"] == "br-tun"
    assert "patch-tun" not in state["bridges"]["br-int"]["ports"]


def test_guard_refuses_the_interface_ansible_is_connected_through(net):
    rc, result, output = net.bridge(connect_to=PUBLIC_IP, **BR_EX)
    assert rc != 0
    assert "Refusing to move the addresses of eth1: Ansible is connected to %s" % PUBLIC_IP in result["msg"]
    state, links, routes = net.observe()
    assert "br-ex" not in state["bridges"] and addresses(links, "eth1") == [CIDR]


def test_br_ex_moves_ip_and_default_route_without_losing_the_node(net):
    dummy, dummy, routes = net.observe()
    eth1_routes = [ovs.route_spec(r) for r in routes if r["dev"] == "eth1"]
    assert eth1_routes[0].startswith("default via %s dev eth1" % GATEWAY)
    rc, predicted, output = net.bridge(check=True, diff=True, **BR_EX)
    assert rc == 0 and predicted["changed"], output[-3000:]
    diff = predicted["diff"][0]
    assert diff["before"]["addresses"] == {"br-ex": [], "eth1": [CIDR]} and diff["before"]["bridge"] is None
    assert diff["after"]["addresses"] == {"br-ex": [CIDR], "eth1": []}
    assert diff["after"]["bridge"]["ports"] == {"eth1": {"type": "system", "options": {}, "tag": None}}
    with net.watch() as watch:
        result = net.apply(**BR_EX)
    assert result["commands"] == predicted["commands"]
    assert result["moved"] == {"addresses": [CIDR], "routes": eth1_routes}
    assert result["probe"]["answered"] and result["probe"]["address"] == GATEWAY
    state, links, routes = net.observe()
    assert addresses(links, "br-ex") == [CIDR] and addresses(links, "eth1") == []
    assert default_dev(routes) == ["br-ex"]
    assert state["bridges"]["br-ex"]["datapath_type"] == "netdev"
    assert state["bridges"]["br-ex"]["other_config"]["hwaddr"] == links["eth1"]["mac"]
    print("\novs_bridge: ping every 0.1 s from %s during the move: %d sent, %d received, "
          "longest outage %d packets" % (WATCHER, watch.sent, watch.received, watch.longest))
    assert watch.sent >= 5 and watch.longest <= 3, "the node was unreachable too long"
    assert net.tcp_banner() == "SSH-2.0"
    # A re-run, and check mode on the converged node, change nothing.
    with net.watch() as watch:
        again = net.apply(**BR_EX)
    assert again["changed"] is False and again["commands"] == []
    assert watch.received == watch.sent
    rc, check, dummy = net.bridge(check=True, **BR_EX)
    assert rc == 0 and check["changed"] is False


def test_persisted_ifupdown_config_restores_the_bridge_address(net):
    result = net.apply(persist="ifupdown", **BR_EX)
    assert result["persisted"] == [IFUPDOWN_FILE] and result["commands"] == []
    assert net.apply(persist="ifupdown", **BR_EX)["changed"] is False
    # A reboot, as far as the network goes: Open vSwitch stops, the bridges' devices go (the
    # netdev tap devices would survive a mere restart, addresses included), ifupdown's state in
    # /run goes, and Open vSwitch starts again from its database.
    net.ssh(NODE, "systemctl stop openvswitch-switch; ip link delete br-ex; ip link delete br-int; "
                  "sed -i '/^br-ex=/d; /^eth1=/d' /run/network/ifstate; "
                  "rm -f /run/network/ifstate.br-ex /run/network/ifstate.eth1; "
                  "systemctl start openvswitch-switch && ovs-vsctl -t 10 show >/dev/null")
    dummy, links, routes = net.observe()
    assert addresses(links, "br-ex") == [] and default_dev(routes) == []
    assert not net.pings(1)
    net.ssh(NODE, "ifup br-ex")  # what networking.service does at boot for `auto br-ex`
    dummy, links, routes = net.observe()
    assert addresses(links, "br-ex") == [CIDR] and default_dev(routes) == ["br-ex"]
    assert net.pings()
    # The module and the persisted file agree: nothing to do.
    assert net.apply(persist="ifupdown", **BR_EX)["changed"] is False


def test_absent_gives_the_ip_back_to_eth1(net):
    result = net.apply(state="absent", persist="ifupdown", **BR_EX)
    assert result["changed"] and result["persisted"] == [IFUPDOWN_FILE]
    assert result["commands"][0] == "ovs-vsctl -t 5 -- --if-exists del-br br-ex"
    state, links, routes = net.observe()
    assert "br-ex" not in state["bridges"] and "eth1" not in state["port_bridge"]
    assert addresses(links, "eth1") == [CIDR] and default_dev(routes) == ["eth1"]
    assert net.ssh(NODE, "test -e %s" % IFUPDOWN_FILE, check=False).returncode == 1
    assert net.apply(state="absent", **BR_EX)["changed"] is False


def test_bad_probe_rolls_back_and_leaves_eth1_as_it_was(net):
    before = net.observe()
    rc, result, output = net.bridge(probe="192.168.182.253", probe_timeout=3, **BR_EX)
    assert rc != 0
    assert result["rolled_back"] is True and result["rollback_errors"] == []
    assert "probe: 192.168.182.253 did not answer within 3s" in result["msg"]
    after = net.observe()
    assert "br-ex" not in after[0]["bridges"]
    assert after[1]["eth1"]["addresses"] == before[1]["eth1"]["addresses"]
    assert [r for r in after[2] if r["dev"] == "eth1"] == [r for r in before[2] if r["dev"] == "eth1"]
    assert net.pings()


def test_absent_with_a_bad_probe_puts_the_bridge_back(net):
    net.apply(**BR_EX)
    before = net.observe()
    rc, result, dummy = net.bridge(state="absent", probe="192.168.182.253", probe_timeout=3, **BR_EX)
    assert rc != 0 and result["rolled_back"] is True and result["rollback_errors"] == []
    after = net.observe()
    assert after[0]["bridges"]["br-ex"] == before[0]["bridges"]["br-ex"]
    assert addresses(after[1], "br-ex") == [CIDR] and addresses(after[1], "eth1") == []
    assert default_dev(after[2]) == ["br-ex"]
    assert net.pings() and net.tcp_banner() == "SSH-2.0"
