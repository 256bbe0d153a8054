"""playbooks/prechecks.yml, through real ansible-playbook runs of playbooks/site.yml.

Each broken inventory under targets/prechecks/cases/ (a few variables laid over the lab's table,
inventory/lab, or a table of its own) must stop site.yml with a message naming the host, the
variable and what is wrong, before any play after the prechecks starts: nothing on any node
changed. Only the uplink check reads facts, from "osnetwork" played by this machine (local
connection); every other node is pointed at an unroutable address (192.0.2.1), so even a precheck
that wrongly passed could not reach a lab node. The unbroken table passes.
"""
import os
import re
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
CASES = TOP / "tests" / "integration" / "targets" / "prechecks" / "cases"
PRECHECK_PLAYS = {"Check the deployment table", "Check the network nodes' uplinks"}
STANDALONE = {"no_compute"}  # tables of their own, not laid over inventory/lab

BROKEN = {
    "duplicate_address": ["osnetwork: internal_ip 10.0.100.145", "also used by: oscontroller"],
    "public_ip_outside": ["oscompute1:", "public_ip (192.168.183.10) one inside cloudlab_public_cidr"],
    "not_an_address": ["osmeter: internal_ip (10.0.100.300) must be a host address"],
    "floating_outside_public": ["cloudlab_floating_range (['192.168.182.200', '192.168.183.20'])"],
    "floating_overlaps_nodes": ["osswift0: public_ip 192.168.182.144 lies in cloudlab_floating_range"],
    "networks_overlap": ["cloudlab_public_cidr (10.0.0.0/16)", "must not overlap"],
    "network_host_bits": ["cloudlab_internal_cidr (10.0.100.5/24)", "no host bits set"],
    "mtu_too_small": ["cloudlab_mtu (900) must be a number from 1280 to 9216"],
    "tunnel_on_public": ["oscompute2: the tunnel endpoint (tunnel_ip, default internal_ip) is 192.168.182.153"],
    "swift_one_zone": ["the storage nodes have 1 zone(s)", "swift_rings_replicas is 3"],
    "swift_part_power": ["swift_rings_part_power 40", "part_power from 1 to 32"],
    "two_databases": ["Group mariadb has 2 hosts (oscontroller, oskeystone)"],
    "no_compute": ["no host in group compute", "no host in group network"],
    "uplink_missing": ["osnetwork has no interface nosuch0 (cloudlab_external_interface)"],
}


def site(case, playbook="site.yml", *extra):
    """Runs a playbook on the lab table with the case laid over it; returns the finished process."""
    sources = ["-i", str(CASES / case)] if case in STANDALONE else ["-i", str(TOP / "inventory" / "lab"), "-i", str(CASES / case)]
    # Facts in memory only: "osnetwork" is played by this machine in some cases, and ansible.cfg's
    # fact cache on disk would hand this machine's facts to the next run against the real osnetwork
    # for two hours (test_neutron_network.py failed its local_ip check on them).
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CACHE_PLUGIN="ansible.builtin.memory",
               PATH=f"{TOP / '.venv' / 'bin'}:{os.environ['PATH']}")
    cmd = ["ansible-playbook", *sources, str(TOP / "playbooks" / playbook),
           "-e", "ansible_host=192.0.2.1", "-e", "ansible_ssh_common_args='-o ConnectTimeout=2'", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=TOP, timeout=300)


def started_plays(output):
    return set(re.findall(r"^PLAY \[(.*)\] \*+$", output, re.M))


def recap(output):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.M)}


@pytest.fixture
def no_secrets(tmp_path):
    """Keeps the runs away from any secrets file a lab deployment left in inventory/lab."""
    return ["-e", f"secrets_file={tmp_path / 'secrets.yml'}"]


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_table_stops_site_before_any_change(case, no_secrets):
    proc = site(case, "site.yml", *no_secrets)
    assert proc.returncode != 0, proc.stdout[-3000:]
    for expected in BROKEN[case]:
        assert expected in proc.stdout, (case, expected, proc.stdout[-3000:])
    assert started_plays(proc.stdout) <= PRECHECK_PLAYS, started_plays(proc.stdout)
    assert set(recap(proc.stdout).values()) <= {0}
    assert "UNREACHABLE" not in proc.stdout


def test_every_case_is_tested():
    assert sorted(p.name for p in CASES.iterdir() if p.is_dir()) == sorted([*BROKEN, "valid"])


def test_the_guides_table_passes(no_secrets):
    proc = site("valid", "prechecks.yml", *no_secrets)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert started_plays(proc.stdout) == PRECHECK_PLAYS
    assert set(recap(proc.stdout).values()) == {0}


def test_secrets_that_do_not_decrypt_are_caught(tmp_path):
    secrets, right, wrong = tmp_path / "secrets.yml", tmp_path / "right", tmp_path / "wrong"
    right.write_text("the password that made it\n")
    wrong.write_text("another password\n")
    secrets.write_text("admin_pass: x\n")
    subprocess.run([str(TOP / ".venv" / "bin" / "ansible-vault"), "encrypt", "--vault-password-file", str(right),
                    str(secrets)], check=True, capture_output=True)
    ok = site("valid", "prechecks.yml", "-e", f"secrets_file={secrets}", "-e", f"secrets_vault_password_file={right}")
    assert ok.returncode == 0, ok.stdout[-3000:]
    proc = site("valid", "site.yml", "-e", f"secrets_file={secrets}", "-e", f"secrets_vault_password_file={wrong}")
    assert proc.returncode != 0
    assert f"{secrets} does not decrypt with the vault password file {wrong}" in proc.stdout, proc.stdout[-3000:]
    assert started_plays(proc.stdout) <= PRECHECK_PLAYS
    assert "admin_pass" not in proc.stdout
