"""playbooks/secrets.yml (cloudlab.openstack.secrets) through real ansible-playbook runs on the controller.

Real files, real ansible-vault, the repository's ansible.cfg and its vault password script: the
first run creates the vault password file and the inventory's encrypted vars file
(group_vars/all/secrets.yml); every later run of any playbook gets the secrets from the inventory
on every host; a second run changes nothing; a new name is added without touching the others;
check mode writes nothing; a lost password stops every run before any task; a group_vars/all.yml
the secrets directory would hide is refused; secrets where earlier versions kept them are moved;
no secret value ever appears in Ansible's output (even at -vv).
"""
import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parents[2]
SECRETS_PLAY = TOP / "playbooks" / "secrets.yml"
REPORT_PLAY = TOP / "tests" / "integration" / "targets" / "secrets" / "report.yml"
NAMES = yaml.safe_load((TOP / "roles" / "secrets" / "defaults" / "main.yml").read_text())["secrets_names"]
HOSTS = ["node1", "node2", "node3"]
VAULT = str(TOP / ".venv" / "bin" / "ansible-vault")


@pytest.fixture
def deployment(tmp_path):
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {h: {} for h in HOSTS}}}))
    return {"inventory": inventory, "secrets": inventory / "group_vars" / "all" / "secrets.yml",
            "password": tmp_path / "home" / ".cloudlab" / "vault-pass", "report": tmp_path / "report.json"}


def run(deployment, *args, play=SECRETS_PLAY):
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               CLOUDLAB_VAULT_PASSWORD_FILE=str(deployment["password"]),
               PATH=f"{TOP / '.venv' / 'bin'}:{os.environ['PATH']}")
    cmd = ["ansible-playbook", "-vv", "-i", str(deployment["inventory"]), str(play),
           "-e", f"report={deployment['report']}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=TOP)
    recap = re.search(r"node1\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", proc.stdout)
    return proc, (int(recap.group(2)), int(recap.group(3))) if recap else None


def decrypt(deployment, path=None, password=None):
    out = subprocess.run([VAULT, "view", str(path or deployment["secrets"]),
                          "--vault-password-file", str(password or deployment["password"])],
                         capture_output=True, text=True, check=True).stdout
    return yaml.safe_load(out)


def assert_no_secret_in(text, values):
    leaked = [name for name, value in values.items() if value in text]
    assert not leaked, f"secrets printed: {leaked}"


def hashed_report(deployment, values):
    want = [hashlib.sha256(values[f"vault_{n}"].encode()).hexdigest() for n in ("admin_pass", "rabbit_pass")]
    return json.loads(deployment["report"].read_text()), {h: want for h in HOSTS}


def test_first_run_creates_then_the_inventory_hands_them_to_every_host(deployment):
    proc, recap = run(deployment)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert recap == (2, 0), proc.stdout[-3000:]  # the secrets file and its directory
    # the password file: made by ansible.cfg's vault password script when Ansible started
    assert oct(deployment["password"].stat().st_mode & 0o777) == "0o600"
    assert oct(deployment["password"].parent.stat().st_mode & 0o777) == "0o700"
    assert oct(deployment["secrets"].stat().st_mode & 0o777) == "0o600"
    raw = deployment["secrets"].read_text()
    assert raw.startswith("$ANSIBLE_VAULT;1.2;AES256;cloudlab\n")
    values = decrypt(deployment)
    assert sorted(values) == sorted(f"vault_{n}" for n in NAMES)
    assert all(re.fullmatch(r"[A-Za-z0-9]{32}", v) for v in values.values())
    assert len(set(values.values())) == len(values)
    assert_no_secret_in(raw, values)
    assert_no_secret_in(proc.stdout + proc.stderr, values)

    # any later playbook: the inventory gives every host the variables, no play loads them
    proc, recap = run(deployment, play=REPORT_PLAY)
    assert proc.returncode == 0 and recap == (1, 0), proc.stdout[-3000:]
    got, want = hashed_report(deployment, values)
    assert got == want
    assert_no_secret_in(proc.stdout + proc.stderr, values)

    before = deployment["secrets"].read_bytes()
    proc, recap = run(deployment)
    assert proc.returncode == 0 and recap == (0, 0), proc.stdout[-3000:]
    assert deployment["secrets"].read_bytes() == before
    assert_no_secret_in(proc.stdout + proc.stderr, values)


def test_new_name_is_added_and_the_others_kept(deployment):
    run(deployment)
    values = decrypt(deployment)
    proc, recap = run(deployment, "-e", '{"secrets_extra_names": ["barbican_pass"]}')
    assert proc.returncode == 0 and recap == (1, 0), proc.stdout[-3000:]
    now = decrypt(deployment)
    assert set(now) == set(values) | {"vault_barbican_pass"}
    assert {k: now[k] for k in values} == values
    assert_no_secret_in(proc.stdout + proc.stderr, now)


def test_check_mode_predicts_and_writes_nothing(deployment):
    proc, recap = run(deployment, "--check")
    assert proc.returncode == 0 and recap == (2, 0), proc.stdout[-3000:]  # directory, secrets file
    assert not deployment["secrets"].exists()
    run(deployment)
    before = deployment["secrets"].read_bytes()
    proc, recap = run(deployment, "--check")
    assert proc.returncode == 0 and recap == (0, 0), proc.stdout[-3000:]
    assert deployment["secrets"].read_bytes() == before


def test_lost_password_file_stops_every_run_before_any_task(deployment):
    run(deployment)
    before = deployment["secrets"].read_bytes()
    deployment["password"].unlink()
    for attempt, play in enumerate((SECRETS_PLAY, REPORT_PLAY)):
        # the script makes a new password (and says so, once); the inventory's file does not
        # decrypt with it: Ansible refuses to load it
        proc, recap = run(deployment, play=play)
        assert proc.returncode != 0 and recap is None, proc.stdout[-3000:]
        assert "Decryption failed" in proc.stderr, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert ("put the earlier password file back" in proc.stderr) == (attempt == 0), proc.stderr
        assert "TASK [" not in proc.stdout
    assert deployment["secrets"].read_bytes() == before


def test_a_group_vars_all_file_is_not_hidden(deployment):
    group_vars = deployment["inventory"] / "group_vars"
    group_vars.mkdir()
    (group_vars / "all.yml").write_text("ntp_server: 10.0.0.1\n")
    proc, recap = run(deployment)
    assert proc.returncode != 0 and recap == (0, 1), proc.stdout[-3000:]
    assert f"{group_vars / 'all.yml'} exists: Ansible would ignore it" in proc.stdout
    assert not (group_vars / "all").exists()


def test_secrets_of_earlier_versions_are_moved(deployment, tmp_path):
    """Earlier versions: <inventory>/secrets.yml, names without vault_, a password file per inventory."""
    legacy, legacy_password = deployment["inventory"] / "secrets.yml", tmp_path / "legacy-pass"
    legacy_password.write_text("the old password\n")
    old = {"admin_pass": "OldAdminPassword0123456789abcdef", "rabbit_pass": "OldRabbitPassword0123456789abcde"}
    legacy.write_text(yaml.safe_dump(old))
    # ansible.cfg names the vault password script too: say which of the two secrets encrypts
    subprocess.run([VAULT, "encrypt", "--vault-id", f"legacy@{legacy_password}", "--encrypt-vault-id", "legacy", str(legacy)],
                   check=True, capture_output=True)
    proc, recap = run(deployment, "-e", f"secrets_legacy_vault_password_file={legacy_password}")
    assert proc.returncode == 0 and recap == (3, 0), proc.stdout[-3000:]  # directory, file, old file removed
    values = decrypt(deployment)
    assert values["vault_admin_pass"] == old["admin_pass"] and values["vault_rabbit_pass"] == old["rabbit_pass"]
    assert sorted(values) == sorted(f"vault_{n}" for n in NAMES)
    assert not legacy.exists()
    assert_no_secret_in(proc.stdout + proc.stderr, values)
    proc, recap = run(deployment, play=REPORT_PLAY)
    got, want = hashed_report(deployment, values)
    assert got == want
