"""Proves playbooks/neutron.yml (issue 10) on the whole table: neutron-server on oscontroller,
the agents on osnetwork, the OVS agents on the network and compute nodes.

The guide's checks, run as the guide runs them: `openstack network agent list` with adminrc on
the keystone node (every agent alive on the right host), `ip netns` on the network node (the
qrouter namespace of demo-router), ping of the router's gateway 192.168.182.200 from the network
node and from the host (the guide's connectivity check), GRE tunnel ports on br-tun between the
network node and the compute nodes, the network node still reachable at its public IP after br-ex
took it, and (after the read-only tests, see conftest.py) a wrong local_ip refused by the
precheck with nothing changed. The second converge (changed=0) is molecule's idempotence step;
check mode is the site's one run (test_site.py).
"""
import json
import subprocess

import pytest

from lab_testinfra import RUNNER, TOP, admin_json, ansible_playbook, node, var, wait_for

SERVER = RUNNER.get_hosts("neutron_server")[0]
NETWORK = RUNNER.get_hosts("neutron_l3_agent")[0]
COMPUTES = sorted(RUNNER.get_hosts("compute"))
OVS_HOSTS = sorted(RUNNER.get_hosts("neutron_ovs_agent"))
ROUTER_GATEWAY = "192.168.182.200"  # the first address of the guide's floating pool


def host_run(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)


# ---- agents ------------------------------------------------------------------------------------------

def test_agent_list_shows_every_agent_alive_on_the_right_host():
    want = {("Open vSwitch agent", h) for h in OVS_HOSTS}
    want |= {("L3 agent", NETWORK), ("DHCP agent", NETWORK), ("Metadata agent", NETWORK)}

    def check():
        agents = admin_json("openstack network agent list")
        got = {(a["Agent Type"], a["Host"]): a["Alive"] for a in agents}
        return all(got.get(k) in (True, ":-)") for k in want), got
    ok, got = wait_for(check)
    assert ok, got
    assert len(want) == 3 + len(OVS_HOSTS), want


def test_agents_run_as_services():
    for service in ("neutron-openvswitch-agent", "neutron-l3-agent", "neutron-dhcp-agent",
                    "neutron-metadata-agent", "openvswitch-switch"):
        assert node(NETWORK).service(service).is_running, service
    for compute in COMPUTES:
        assert node(compute).service("neutron-openvswitch-agent").is_running, compute
    for service in ("neutron-api", "neutron-rpc-server"):
        assert node(SERVER).service(service).is_running, service
    assert node(SERVER).socket("tcp://0.0.0.0:9696").is_listening


def test_ml2_and_local_ip_as_the_guide():
    ml2 = node(SERVER).file("/etc/neutron/plugins/ml2/ml2_conf.ini").content_string
    for line in ("tenant_network_types = gre", "mechanism_drivers = openvswitch", "tunnel_id_ranges = 1:1000"):
        assert line in ml2, line
    for host in OVS_HOSTS:
        ini = node(host).file("/etc/neutron/plugins/ml2/openvswitch_agent.ini").content_string
        local_ip = RUNNER.get_variables(host).get("tunnel_ip", var(host, "internal_ip"))
        assert f"local_ip = {local_ip}" in ini, host
        assert "tunnel_types = gre" in ini, host


def test_nova_uses_neutron_with_the_metadata_secret():
    nova = node(SERVER).file("/etc/nova/nova.conf").content_string
    assert "[neutron]" in nova and "service_metadata_proxy = True" in nova
    assert node(SERVER).socket("tcp://0.0.0.0:8775").is_listening


# ---- br-ex and the network node's public address ----------------------------------------------------

def test_network_node_still_answers_at_its_public_ip():
    public_ip = var(NETWORK, "public_ip")
    addresses = json.loads(node(NETWORK).check_output("ip -j -4 address show dev br-ex"))
    assert [a["local"] for a in addresses[0]["addr_info"]] == [public_ip]
    assert host_run("ping", "-c", "3", "-W", "1", public_ip).returncode == 0
    banner = host_run("timeout", "5", "bash", "-c", f"exec 3<>/dev/tcp/{public_ip}/22; head -c 7 <&3")
    assert banner.stdout == "SSH-2.0"


# ---- the guide's initial networks ----------------------------------------------------------------

def test_initial_networks():
    ext = admin_json("openstack network show ext-net")
    assert ext["router:external"] in (True, "External") and ext["shared"] is True
    assert ext["provider:network_type"] == "flat"
    subnet = admin_json("openstack subnet show ext-subnet")
    assert subnet["cidr"] == var(SERVER, "cloudlab_public_cidr")
    assert subnet["gateway_ip"] == var(SERVER, "cloudlab_public_gateway")
    assert subnet["enable_dhcp"] is False
    first, last = var(SERVER, "cloudlab_floating_range")
    assert {"start": first, "end": last} in subnet["allocation_pools"]
    demo = admin_json("openstack subnet show demo-subnet")
    assert demo["cidr"] == "192.168.1.0/24" and demo["gateway_ip"] == "192.168.1.1"
    router = admin_json("openstack router show demo-router")
    assert router["external_gateway_info"]["network_id"] == ext["id"]
    assert demo["id"] in [i["subnet_id"] for i in router["interfaces_info"]]


def test_qrouter_namespace_on_the_network_node():
    router = admin_json("openstack router show demo-router")

    def check():
        namespaces = node(NETWORK).check_output("ip netns list")
        return f"qrouter-{router['id']}" in namespaces, namespaces
    ok, namespaces = wait_for(check, 60)
    assert ok, namespaces


def test_router_gateway_answers_ping_from_network_node_and_host():
    router = admin_json("openstack router show demo-router")
    ips = [f["ip_address"] for f in router["external_gateway_info"]["external_fixed_ips"]]
    assert ips == [ROUTER_GATEWAY]

    def check():
        from_node = node(NETWORK).run(f"ping -c 2 -W 1 {ROUTER_GATEWAY}").rc == 0
        from_host = host_run("ping", "-c", "2", "-W", "1", ROUTER_GATEWAY).returncode == 0
        return from_node and from_host, (from_node, from_host)
    ok, detail = wait_for(check, 60)
    assert ok, "ping 192.168.182.200 (network node, host): %s" % (detail,)


# ---- GRE tunnels ---------------------------------------------------------------------------------

def gre_remotes(host):
    """remote_ip of every GRE interface on br-tun of a node."""
    out = node(host).check_output("ovs-vsctl --format=json -- --columns=name,type,options list Interface")
    table = json.loads(out)
    gre = {name: dict(options[1])["remote_ip"] for name, kind, options in table["data"] if kind == "gre"}
    ports = set(node(host).check_output("ovs-vsctl list-ports br-tun").split())
    # only tunnels that are ports of br-tun count
    return {remote for name, remote in gre.items() if name in ports}


def test_gre_tunnels_between_network_and_compute_nodes():
    network_ip = var(NETWORK, "internal_ip")
    compute_ips = {var(c, "internal_ip") for c in COMPUTES}

    def check():
        got = {h: gre_remotes(h) for h in [NETWORK] + COMPUTES}
        ok = compute_ips <= got[NETWORK] and all(network_ip in got[c] for c in COMPUTES)
        return ok, got
    ok, got = wait_for(check, 90)
    assert ok, got


# ---- the precheck of the guide's "删除或变更GRE通道" -----------------------------------------------

# Changes nothing when the precheck works; a broken precheck would rewrite local_ip and restart the
# network node's agent (tunnels down for every later test).
@pytest.mark.changes_cloud
def test_wrong_local_ip_is_refused_and_nothing_changes():
    before = node(NETWORK).file("/etc/neutron/plugins/ml2/openvswitch_agent.ini").content_string
    run = ansible_playbook(TOP / "playbooks" / "neutron.yml", "--limit", NETWORK, "--tags", "neutron_ovs_agent",
                           "-e", "tunnel_ip=10.0.100.99", timeout=600)
    assert run.returncode != 0
    # molecule's ansible.cfg sends failures to stderr (display_failed_stderr); the yaml result
    # format folds long messages over several lines
    output = " ".join((run.stdout + run.stderr).split())
    assert "local_ip 10.0.100.99" in output and "is not an address of this node" in output, run.stderr[-3000:]
    after = node(NETWORK).file("/etc/neutron/plugins/ml2/openvswitch_agent.ini").content_string
    assert after == before
