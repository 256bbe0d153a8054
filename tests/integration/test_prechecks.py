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
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

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
    "two_nova_controllers": ["Group nova_controller has 2 hosts (oscompute1, oscontroller), but this collection "
                             "deploys nova_controller on one host only"],
    "two_time_servers": ["Group chrony_server has 2 hosts (oscontroller, oskeystone), and oscontroller, oskeystone "
                         "have no chrony_upstream_servers"],
    "unknown_group": ["Group contoller is no node type or service group of this collection (did you mean controller?)"],
    "no_compute": ["no host in group compute", "no host in group network"],
    "uplink_missing": ["osnetwork has no interface nosuch0 (cloudlab_external_interface)"],
}


def site(case, playbook="site.yml", *extra):
    """Runs a playbook on the lab table with the case laid over it; returns the finished process."""
    sources = [CASES / case] if case in STANDALONE else [TOP / "inventory" / "lab", CASES / case]
    return run_on(sources, playbook, *extra)


def started_plays(output):
    return set(re.findall(r"^PLAY \[(.*)\] \*+$", output, re.M))


def recap(output):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.M)}


@pytest.fixture
def fake_secrets(tmp_path):
    """Every secret as an extra variable (a recognisable fake): the runs do not depend on whether a
    lab deployment left its secrets in inventory/lab/group_vars/all/secrets.yml."""
    names = yaml.safe_load((TOP / "roles" / "secrets" / "defaults" / "main.yml").read_text())["secrets_names"]
    fake = tmp_path / "fake-secrets.yml"
    fake.write_text(yaml.safe_dump({f"vault_{name}": f"fake-{name}" for name in names}))
    return ["-e", f"@{fake}"]


def own_inventory(tmp_path):
    """A copy of inventory/lab without its secrets: hosts.yml and group_vars/all/main.yml."""
    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    shutil.copy(TOP / "inventory" / "lab" / "hosts.yml", inventory / "hosts.yml")
    shutil.copy(TOP / "inventory" / "lab" / "group_vars" / "all" / "main.yml", inventory / "group_vars" / "all" / "main.yml")
    return inventory


def run_on(inventories, playbook, *extra, vault_password_file=None):
    """ansible-playbook of playbooks/<playbook> on the inventory sources given (one path or a list,
    later ones win), every node pointed at an unroutable address; returns the finished process."""
    sources = [arg for inventory in ([inventories] if isinstance(inventories, Path) else inventories)
               for arg in ("-i", str(inventory))]
    # Facts in memory only: "osnetwork" is played by this machine in some cases, and ansible.cfg's
    # fact cache on disk would hand this machine's facts to the next run against the real osnetwork
    # for two hours (test_neutron_network.py failed its local_ip check on them).
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CACHE_PLUGIN="ansible.builtin.memory",
               PATH=f"{TOP / '.venv' / 'bin'}:{os.environ['PATH']}")
    if vault_password_file:
        env["CLOUDLAB_VAULT_PASSWORD_FILE"] = str(vault_password_file)
    cmd = ["ansible-playbook", *sources, str(TOP / "playbooks" / playbook),
           "-e", "ansible_host=192.0.2.1", "-e", "ansible_ssh_common_args='-o ConnectTimeout=2'", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=TOP, timeout=300)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_table_stops_site_before_any_change(case, fake_secrets):
    proc = site(case, "site.yml", *fake_secrets)
    assert proc.returncode != 0, proc.stdout[-3000:]
    for expected in BROKEN[case]:
        assert expected in proc.stdout, (case, expected, proc.stdout[-3000:])
    assert started_plays(proc.stdout) <= PRECHECK_PLAYS, started_plays(proc.stdout)
    assert set(recap(proc.stdout).values()) <= {0}
    assert "UNREACHABLE" not in proc.stdout


def test_every_case_is_tested():
    assert sorted(p.name for p in CASES.iterdir() if p.is_dir()) == sorted([*BROKEN, "valid"])


def test_the_guides_table_passes(fake_secrets):
    proc = site("valid", "prechecks.yml", *fake_secrets)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert started_plays(proc.stdout) == PRECHECK_PLAYS
    assert set(recap(proc.stdout).values()) == {0}


def test_missing_secrets_are_named_before_any_change(tmp_path):
    proc = run_on(own_inventory(tmp_path), "site.yml", vault_password_file=tmp_path / "vault-pass")
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "The inventory has no vault_admin_pass, vault_demo_pass" in proc.stdout, proc.stdout[-3000:]
    assert "playbooks/secrets.yml` first" in proc.stdout
    assert started_plays(proc.stdout) <= PRECHECK_PLAYS
    assert set(recap(proc.stdout).values()) <= {0}


def test_secrets_that_do_not_decrypt_stop_the_run_before_any_play(tmp_path):
    inventory, right, wrong = own_inventory(tmp_path), tmp_path / "right", tmp_path / "wrong"
    right.write_text("the password that made it\n")
    wrong.write_text("another password\n")
    secrets = inventory / "group_vars" / "all" / "secrets.yml"
    secrets.write_text("vault_admin_pass: x\n")
    subprocess.run([str(TOP / ".venv" / "bin" / "ansible-vault"), "encrypt", "--vault-id", f"right@{right}",
                    "--encrypt-vault-id", "right", str(secrets)], check=True, capture_output=True)
    ok = run_on(inventory, "prechecks.yml", vault_password_file=right)
    # decrypts: only the other secrets are missing
    assert "The inventory has no vault_demo_pass" in ok.stdout, ok.stdout[-3000:]
    proc = run_on(inventory, "site.yml", vault_password_file=wrong)
    assert proc.returncode != 0
    assert "Decryption failed" in proc.stderr, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "TASK [" not in proc.stdout


def test_a_hidden_group_vars_all_file_is_named(tmp_path, fake_secrets):
    inventory = own_inventory(tmp_path)
    shutil.move(inventory / "group_vars" / "all" / "main.yml", inventory / "group_vars" / "all.yml")
    proc = run_on(inventory, "prechecks.yml", *fake_secrets, vault_password_file=tmp_path / "vault-pass")
    assert proc.returncode != 0
    assert f"Ansible ignores {inventory / 'group_vars' / 'all.yml'} because the directory" in proc.stdout, proc.stdout[-3000:]
    assert started_plays(proc.stdout) <= PRECHECK_PLAYS
