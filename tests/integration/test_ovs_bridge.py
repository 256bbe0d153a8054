"""cloudlab.openstack.ovs_bridge through real ansible-playbook runs on a real Open vSwitch.

The lab's osnetwork node (privileged; eth1 = 192.168.182.151/25 on the public network, default
route via the host's 192.168.182.254) runs Debian's openvswitch-switch with the userspace datapath
(targets/ovs_bridge/setup.yml). Proven here, in this order (the tests share the node):
  br-int created → unchanged on a re-run → updated;
  the guard refuses to move eth1 when Ansible is connected through it, and nothing changes;
  br-ex on eth1 (netdev) in check mode predicts exactly the commands the real run then runs; the
  real run moves the IP and the default route, while oscompute1 pings 192.168.182.151 every
  0.1 s (losses counted); a re-run changes nothing;
  the IP configuration persisted for ifupdown comes back after ovs-vswitchd restarts (which
  drops the bridge's addresses as a reboot would) with `ifup`;
  state=absent removes br-ex and gives eth1 its IP and default route back;
  a probe of an address that never answers rolls everything back and leaves eth1 as it was.
The node is left as it was found: no br-ex, eth1 with its address, no persisted file.
"""
import json
import os
import re
import signal
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

pytestmark = pytest.mark.skipif(not (TOP / "tools" / "lab").exists(), reason="no lab tooling")


def lab_ssh(node, *command, check=True):
    proc = subprocess.run([str(TOP / "tools" / "lab"), "ssh", node, *command],
                          capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def playbook(name, *args, extra=None, check=False, diff=False):
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
    cmd = ["ansible-playbook", str(TARGET / name), *args]
    if extra is not None:
        cmd += ["-e", json.dumps(extra)]
    cmd += ["--check"] if check else []
    cmd += ["--diff"] if diff else []
    proc = subprocess.run(cmd, cwd=TOP, env=env, capture_output=True, text=True, timeout=900)
    report, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("\n{") + 1:])
    return proc.returncode, report, proc.stdout + proc.stderr


def bridge(check=False, diff=False, connect_to=None, **options):
    """Run targets/ovs_bridge/bridge.yml; returns (rc, the task's result, output)."""
    args = ["-e", "ansible_host=%s" % connect_to] if connect_to else []
    extra = dict(("ovs_%s" % k, v) for k, v in options.items())
    rc, report, output = playbook("bridge.yml", *args, extra=extra, check=check, diff=diff)
    task = report["plays"][0]["tasks"][0]["hosts"][NODE]
    return rc, task, output


def apply(**options):
    rc, result, output = bridge(**options)
    assert rc == 0, output[-4000:]
    return result


def observe():
    """The node as the module sees it, read with its own parsers from the real node."""
    out = lab_ssh(NODE, "ovs-vsctl -t 5 %s; echo '#'; ip -j address show; echo '#'; "
                  "ip -j -4 route show table main" % " ".join(
                      "'%s'" % a if " " in a or "," in a else a for a in ovs.VSCTL_READ)).stdout
    vsctl, addr, route4 = out.split("#\n")
    return (ovs.parse_vsctl_tables(vsctl), ovs.parse_ip_addr(addr),
            ovs.parse_ip_routes(route4, "inet"))


def addresses(links, ifname):
    return [a["cidr"] for a in links.get(ifname, {}).get("addresses", [])]


def default_dev(routes):
    return [r["dev"] for r in routes if r["dst"] == "default"]


class Watch:
    """ping -i 0.1 from the watcher to the node's public IP, in the background on the watcher."""

    def __enter__(self):
        self.pid = lab_ssh(WATCHER, "nohup ping -n -O -i 0.1 %s </dev/null >/tmp/ovs-watch.log 2>&1 & echo $!"
                           % PUBLIC_IP).stdout.strip()
        # Wait for the first answer, so the window covers only the run.
        for dummy in range(50):
            if "bytes from" in lab_ssh(WATCHER, "cat /tmp/ovs-watch.log").stdout:
                break
            time.sleep(0.1)
        return self

    def __exit__(self, *exc):
        lab_ssh(WATCHER, "kill -INT %s; while kill -0 %s 2>/dev/null; do sleep 0.1; done"
                % (self.pid, self.pid), check=False)
        log = lab_ssh(WATCHER, "cat /tmp/ovs-watch.log").stdout
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
def node():
    """osnetwork and oscompute1 up, Open vSwitch installed, no br-ex/br-int left from a run."""
    up = subprocess.run([str(TOP / "tools" / "lab"), "up", "--nodes", "%s,%s" % (NODE, WATCHER)],
                        cwd=TOP, capture_output=True, text=True, timeout=1800)
    assert up.returncode == 0, (up.stdout + up.stderr)[-4000:]
    rc, dummy, output = playbook("setup.yml")
    assert rc == 0, output[-4000:]
    apply(bridge="br-ex", uplink="eth1", state="absent", persist="ifupdown")
    apply(bridge="br-int", state="absent")
    dummy, links, routes = observe()
    assert addresses(links, "eth1") == [CIDR], "eth1 must carry %s to start with" % CIDR
    assert default_dev(routes) == ["eth1"]
    return links, routes


def test_br_int_created_unchanged_updated(node):
    spec = dict(bridge="br-int", datapath_type="netdev", fail_mode="secure",
                ports=[{"name": "patch-tun", "type": "patch", "options": {"peer": "patch-int"}}])
    result = apply(**spec)
    assert result["changed"] and len(result["commands"]) == 1  # one transaction
    assert apply(**spec)["changed"] is False
    rc, result, dummy = bridge(check=True, **spec)
    assert rc == 0 and result["changed"] is False and result["commands"] == []
    result = apply(**dict(spec, external_ids={"bridge-id": "br-int"}))
    assert result["commands"] == ["ovs-vsctl -t 5 -- set Bridge br-int external_ids:bridge-id=br-int"]
    state, dummy, dummy = observe()
    assert state["bridges"]["br-int"] == {
        "datapath_type": "netdev", "fail_mode": "secure", "external_ids": {"bridge-id": "br-int"},
        "other_config": {}, "ports": {"patch-tun": {"type": "patch", "options": {"peer": "patch-int"},
                                                    "tag": None}}}


def test_guard_refuses_the_interface_ansible_is_connected_through(node):
    rc, result, output = bridge(connect_to=PUBLIC_IP, **BR_EX)
    assert rc != 0
    assert "Refusing to move the addresses of eth1: Ansible is connected to %s" % PUBLIC_IP in result["msg"]
    state, links, routes = observe()
    assert "br-ex" not in state["bridges"] and addresses(links, "eth1") == [CIDR]


def test_br_ex_moves_ip_and_default_route_without_losing_the_node(node):
    rc, predicted, output = bridge(check=True, **BR_EX)
    assert rc == 0 and predicted["changed"], output[-3000:]
    with Watch() as watch:
        result = apply(**BR_EX)
    assert result["commands"] == predicted["commands"]
    assert result["moved"] == {"addresses": [CIDR], "routes": ["default via %s dev eth1" % GATEWAY]}
    assert result["probe"]["answered"] and result["probe"]["address"] == GATEWAY
    state, links, routes = observe()
    assert addresses(links, "br-ex") == [CIDR] and addresses(links, "eth1") == []
    assert default_dev(routes) == ["br-ex"]
    assert state["bridges"]["br-ex"]["datapath_type"] == "netdev"
    assert state["bridges"]["br-ex"]["other_config"]["hwaddr"] == links["eth1"]["mac"]
    print("\novs_bridge: ping every 0.1 s from %s during the move: %d sent, %d received, "
          "longest outage %d packets" % (WATCHER, watch.sent, watch.received, watch.longest))
    assert watch.sent >= 5 and watch.longest <= 3, "the node was unreachable too long"
    # A re-run, and check mode on the converged node, change nothing.
    with Watch() as watch:
        again = apply(**BR_EX)
    assert again["changed"] is False and again["commands"] == []
    assert watch.received == watch.sent
    rc, check, dummy = bridge(check=True, **BR_EX)
    assert rc == 0 and check["changed"] is False


def test_persisted_ifupdown_config_restores_the_bridge_address(node):
    result = apply(persist="ifupdown", **BR_EX)
    assert result["persisted"] == [IFUPDOWN_FILE] and result["commands"] == []
    assert apply(persist="ifupdown", **BR_EX)["changed"] is False
    # Restarting Open vSwitch recreates br-ex's device without its addresses, as a reboot does.
    lab_ssh(NODE, "systemctl restart openvswitch-switch && ovs-vsctl -t 10 show >/dev/null")
    dummy, links, routes = observe()
    assert addresses(links, "br-ex") == [] and default_dev(routes) == []
    lab_ssh(NODE, "ifup br-ex")
    dummy, links, routes = observe()
    assert addresses(links, "br-ex") == [CIDR] and default_dev(routes) == ["br-ex"]
    assert lab_ssh(WATCHER, "ping -c 3 -W 1 %s" % PUBLIC_IP, check=False).returncode == 0


def test_absent_gives_the_ip_back_to_eth1(node):
    result = apply(state="absent", persist="ifupdown", **BR_EX)
    assert result["changed"] and result["persisted"] == [IFUPDOWN_FILE]
    assert result["commands"][0] == "ovs-vsctl -t 5 -- --if-exists del-br br-ex"
    state, links, routes = observe()
    assert "br-ex" not in state["bridges"] and "eth1" not in state["port_bridge"]
    assert addresses(links, "eth1") == [CIDR] and default_dev(routes) == ["eth1"]
    assert lab_ssh(NODE, "test -e %s" % IFUPDOWN_FILE, check=False).returncode == 1
    assert apply(state="absent", **BR_EX)["changed"] is False


def test_bad_probe_rolls_back_and_leaves_eth1_as_it_was(node):
    before = observe()
    rc, result, output = bridge(probe="192.168.182.253", probe_timeout=3, **BR_EX)
    assert rc != 0
    assert result["rolled_back"] is True and result["rollback_errors"] == []
    assert "probe: 192.168.182.253 did not answer within 3s" in result["msg"]
    after = observe()
    assert "br-ex" not in after[0]["bridges"]
    assert after[1]["eth1"]["addresses"] == before[1]["eth1"]["addresses"]
    assert [r for r in after[2] if r["dev"] == "eth1"] == [r for r in before[2] if r["dev"] == "eth1"]
    assert lab_ssh(WATCHER, "ping -c 3 -W 1 %s" % PUBLIC_IP, check=False).returncode == 0
