"""cloudlab.openstack.secrets through real ansible-playbook runs on the controller.

Real files, real ansible-vault: the first run creates the vault password file and the encrypted
secrets file, a second run changes nothing and loads the same values on every host, a new name is
added without touching the others, check mode writes nothing, a lost password file stops the run,
and no secret value ever appears in Ansible's output (even at -vv).
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
PLAY = TOP / "tests" / "integration" / "targets" / "secrets" / "load.yml"
PLAY_PER_PLAY = PLAY.with_name("load_per_play.yml")
NAMES = yaml.safe_load((TOP / "roles" / "secrets" / "defaults" / "main.yml").read_text())["secrets_names"]
HOSTS = ["node1", "node2", "node3"]


@pytest.fixture
def deployment(tmp_path):
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {h: {} for h in HOSTS}}}))
    return {"inventory": inventory, "secrets": inventory / "secrets.yml",
            "password": tmp_path / "home" / ".cloudlab" / "vault-pass", "report": tmp_path / "report.json"}


def run(deployment, *args, play=PLAY):
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{TOP / '.venv' / 'bin'}:{os.environ['PATH']}")
    cmd = ["ansible-playbook", "-vv", "-i", str(deployment["inventory"]), str(play),
           "-e", f"secrets_vault_password_file={deployment['password']}", "-e", f"report={deployment['report']}",
           *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=TOP)
    recap = re.search(r"node1\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", proc.stdout)
    return proc, (int(recap.group(2)), int(recap.group(3))) if recap else None


def decrypt(deployment):
    out = subprocess.run([str(TOP / ".venv" / "bin" / "ansible-vault"), "view", str(deployment["secrets"]),
                          "--vault-password-file", str(deployment["password"])],
                         capture_output=True, text=True, check=True).stdout
    return yaml.safe_load(out)


def assert_no_secret_in(text, values):
    leaked = [name for name, value in values.items() if value in text]
    assert not leaked, f"secrets printed: {leaked}"


def test_first_run_creates_then_second_run_reuses(deployment):
    proc, recap = run(deployment)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert recap == (4, 0)  # the password file, its directory, the secrets file, the test's report
    assert oct(deployment["password"].stat().st_mode & 0o777) == "0o600"
    assert oct(deployment["password"].parent.stat().st_mode & 0o777) == "0o700"
    assert oct(deployment["secrets"].stat().st_mode & 0o777) == "0o600"
    raw = deployment["secrets"].read_text()
    assert raw.startswith("$ANSIBLE_VAULT;1.2;AES256;cloudlab\n")
    values = decrypt(deployment)
    assert sorted(values) == sorted(NAMES)
    assert all(re.fullmatch(r"[A-Za-z0-9]{32}", v) for v in values.values())
    assert len(set(values.values())) == len(values)
    assert_no_secret_in(raw, values)
    assert_no_secret_in(proc.stdout + proc.stderr, values)

    report = json.loads(deployment["report"].read_text())
    want = [hashlib.sha256(values[n].encode()).hexdigest() for n in ("admin_pass", "rabbit_pass")]
    assert report == {h: want for h in HOSTS}

    before = deployment["secrets"].read_bytes()
    proc, recap = run(deployment)
    assert proc.returncode == 0 and recap == (0, 0), proc.stdout[-3000:]
    assert deployment["secrets"].read_bytes() == before
    assert json.loads(deployment["report"].read_text()) == {h: want for h in HOSTS}
    assert_no_secret_in(proc.stdout + proc.stderr, values)


def test_later_plays_load_only_the_hosts_that_lack_the_secrets(deployment):
    """site.yml loads the secrets in each service's playbook: the file is read once per host set
    that lacks them, not once per play, and every host ends with the same values."""
    proc, recap = run(deployment, play=PLAY_PER_PLAY)
    assert proc.returncode == 0, proc.stdout[-3000:]
    # play 1 for node1, play 2 for node2 and node3, play 3 for nobody
    assert proc.stdout.count("TASK [cloudlab.openstack.secrets : Check the secret names]") == 2
    assert proc.stdout.count("included: ") == 2, proc.stdout[-3000:]
    values = decrypt(deployment)
    want = [hashlib.sha256(values[n].encode()).hexdigest() for n in ("admin_pass", "rabbit_pass")]
    assert json.loads(deployment["report"].read_text()) == {h: want for h in HOSTS}
    assert_no_secret_in(proc.stdout + proc.stderr, values)


def test_new_name_is_added_and_the_others_kept(deployment):
    run(deployment)
    values = decrypt(deployment)
    proc, recap = run(deployment, "-e", '{"secrets_extra_names": ["barbican_pass"]}')
    assert proc.returncode == 0 and recap == (1, 0), proc.stdout[-3000:]
    now = decrypt(deployment)
    assert set(now) == set(values) | {"barbican_pass"}
    assert {k: now[k] for k in values} == values
    assert_no_secret_in(proc.stdout + proc.stderr, now)


def test_check_mode_predicts_and_writes_nothing(deployment):
    proc, recap = run(deployment, "--check")
    assert proc.returncode == 0 and recap == (3, 0), proc.stdout[-3000:]  # directory, password, secrets
    assert not deployment["secrets"].exists() and not deployment["password"].exists()
    run(deployment)
    before = deployment["secrets"].read_bytes()
    proc, recap = run(deployment, "--check")
    assert proc.returncode == 0 and recap == (0, 0), proc.stdout[-3000:]
    assert deployment["secrets"].read_bytes() == before


def test_lost_password_file_stops_the_run(deployment):
    run(deployment)
    before = deployment["secrets"].read_bytes()
    deployment["password"].unlink()
    proc, recap = run(deployment)
    assert proc.returncode != 0 and recap[1] == 1
    assert "exists but its vault password file" in proc.stdout
    assert deployment["secrets"].read_bytes() == before
    assert not deployment["password"].exists()
