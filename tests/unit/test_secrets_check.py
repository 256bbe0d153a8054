"""The secrets role's check.yml (the first play of every site.yml run, under any tag) on a scratch
inventory, run by ansible-playbook on the controller alone: it connects to no node. It finds a
group_vars/all file the secrets directory hides with the controller's file tests (no module run,
issue 21) and still tells which file, a dangling link included."""
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from controller_playbook import run_playbook  # noqa: E402  pylint: disable=wrong-import-position
from service_model import secret_names  # noqa: E402  pylint: disable=wrong-import-position

PLAYBOOK = """
- name: The deployment's secrets, checked as site.yml checks them
  hosts: all
  gather_facts: false
  tasks:
    - name: Check that the inventory holds the secrets
      ansible.builtin.import_role:
        name: cloudlab.openstack.secrets
        tasks_from: check.yml
"""


def run_check(tmp_path, hidden=None, dangling=None, missing=()):
    """ansible-playbook on an inventory with group_vars/all/ holding every vault_<name> but
    `missing`, and a group_vars/all.<ext> file (hidden) or dangling link beside it."""
    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"node1": {}, "node2": {}}}}))
    secrets = {f"vault_{name}": "secret" for name in secret_names() if name not in missing}
    (inventory / "group_vars" / "all" / "main.yml").write_text(yaml.safe_dump(secrets))
    if hidden:
        (inventory / "group_vars" / f"all.{hidden}").write_text("a: 1\n")
    if dangling:
        (inventory / "group_vars" / f"all.{dangling}").symlink_to(tmp_path / "nowhere")
    (tmp_path / "check.yml").write_text(PLAYBOOK)
    return run_playbook(tmp_path, inventory, tmp_path / "check.yml")


def test_a_complete_inventory_passes(tmp_path):
    run = run_check(tmp_path)
    assert run.returncode == 0, run.stdout[-3000:]
    # controller-side only: the play ran no module on a node (none of the two exists)
    assert "unreachable=0" in run.stdout and "failed=0" in run.stdout


@pytest.mark.parametrize("hidden, dangling", [("yml", None), ("json", None), (None, "yaml")])
def test_a_hidden_group_vars_file_is_named(tmp_path, hidden, dangling):
    run = run_check(tmp_path, hidden=hidden, dangling=dangling)
    assert run.returncode != 0
    name = f"group_vars/all.{hidden or dangling}"
    assert f"Ansible ignores {tmp_path / 'inventory' / name}" in run.stdout, run.stdout[-3000:]


def test_a_missing_secret_is_named(tmp_path):
    run = run_check(tmp_path, missing=("admin_pass",))
    assert run.returncode != 0
    assert "The inventory has no vault_admin_pass" in run.stdout, run.stdout[-3000:]
