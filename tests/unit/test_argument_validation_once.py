"""ansible-core's argument validation runs once per role, play and host, although `--list-tasks`
lists the internal role cloudlab.openstack.openstack's twice in 8 plays: glance, placement, nova's
controller, heat, gnocchi, ceilometer's two and aodh (issue 21).

Why listed twice: the service role's register entry point imports cloudlab.openstack.keystone_register,
whose meta dependency is the openstack role, as is the service role's caller's; ansible-core prepends
a validation task to every dependency (ansible/playbook/role/__init__.py, _load_dependencies and
_prepend_validation_task; `rolespec_validate: false` on the import covers keystone_register itself,
not its dependencies). Why run once: the play iterator skips every task of a role, that validation
included, on a host where an equal role (same name, parameters, vars, tags and when) has already
completed, unless the role allows duplicates (ansible/executor/play_iterator.py,
`allow_duplicates is False and host.name in ..._completed`). So the listed duplicate costs nothing
at run time, and the lab's re-run counted the openstack role's 26 results, once per play and host.

These runs keep it so: a change that made the two dependencies unequal (vars or tags on one of
them, `allow_duplicates: true` in the openstack role's meta) would validate it twice per play.
Both run on the controller alone: validation connects to no node (its action needs no connection),
the hosts are pointed at an unroutable address, and no task but the validations is selected.
"""
import json
import shutil
import sys
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from controller_playbook import run_playbook  # noqa: E402  pylint: disable=wrong-import-position
from service_model import INVENTORIES, ROOT, SITE, secret_names  # noqa: E402  pylint: disable=wrong-import-position

VALIDATION = "Validating arguments against arg spec "

REGISTRATIONS = """
- name: Registration through the service role, imported (glance ...) and included (cinder, neutron, swift)
  hosts: all
  gather_facts: false
  roles:
    - role: cloudlab.openstack.openstack
  tasks:
    - name: Register, imported
      ansible.builtin.import_role:
        name: cloudlab.openstack.service
        tasks_from: register
        rolespec_validate: false
      vars:
        service_region: RegionOne
    - name: Register, included
      ansible.builtin.include_role:
        name: cloudlab.openstack.service
        tasks_from: register
        rolespec_validate: false
        apply:
          tags: [example_register]
      vars:
        service_region: RegionOne
"""


def secretless_copy(tmp_path, hosts_file):
    """The inventory of hosts_file copied without its secrets file: a checkout that deployed the lab
    holds inventory/lab/group_vars/all/secrets.yml, vault-encrypted, which this run cannot (and
    must not) decrypt ("Attempting to decrypt but no vault secrets found")."""
    source = Path(hosts_file).parent
    copy = tmp_path / "inventory"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("secrets.yml"), dirs_exist_ok=True)
    return copy / Path(hosts_file).name


def ansible_playbook(tmp_path, inventory, playbook, *arguments, callback="ansible.posix.json"):
    """ansible-playbook on the controller (controller_playbook), every secret a fake extra variable,
    every host pointed at an unroutable address; returns its output."""
    secrets = tmp_path / "secrets.yml"
    secrets.write_text(yaml.safe_dump({f"vault_{name}": f"fake-{name}" for name in secret_names()}))
    inventory = secretless_copy(tmp_path, inventory)
    run = run_playbook(tmp_path, inventory, playbook, "-e", f"@{secrets}", "-e", "ansible_host=192.0.2.1", *arguments,
                       stdout_callback=callback, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout


def results(output):
    """[(play, task, host)] of every task result of a json-callback run."""
    return [(play["play"]["name"], task["task"]["name"], host)
            for play in json.loads(output)["plays"] for task in play["tasks"] for host in task["hosts"]]


def test_site_validates_each_role_once_per_play_and_host(tmp_path):
    """Under a tag that selects no task (only what is tagged `always` runs) and without the
    prechecks: each role's validation listed in a play ran on every host of the play, once."""
    ran = results(ansible_playbook(tmp_path, INVENTORIES["lab"], SITE, "--tags", "none_such", "--skip-tags", "prechecks"))
    assert ran and all(VALIDATION in task for _, task, _ in ran), "only validations are tagged always outside the prechecks"
    twice = [key for key, count in Counter(ran).items() if count > 1]
    assert not twice, f"validated more than once in a play: {twice}"
    listing = ansible_playbook(tmp_path, INVENTORIES["lab"], SITE, "--list-tasks", "--list-hosts", "--tags", "none_such",
                               "--skip-tags", "prechecks", callback="ansible.builtin.default")
    listed, play, hosts = set(), None, []
    for line in listing.splitlines():
        if line.startswith("  play #"):
            play, hosts = line.split(": ", 1)[1].split("\tTAGS:")[0], []
        elif line.startswith("      ") and "\tTAGS:" not in line:
            hosts.append(line.strip())
        elif VALIDATION in line:
            listed |= {(play, line.strip().split("\tTAGS:")[0], host) for host in hosts}
    assert listed == set(ran), f"listed, not run: {sorted(listed - set(ran))[:5]}; run, not listed: {sorted(set(ran) - listed)[:5]}"
    openstack = Counter(play for play, task, _ in ran if task.startswith("cloudlab.openstack.openstack : "))
    assert len(openstack) >= 15 and sum(openstack.values()) >= 25, openstack


def test_a_registration_does_not_validate_the_openstack_role_again(tmp_path):
    """keystone_register's own dependency on the openstack role, imported and included through the
    service role after a role that depends on it: validated once; the registration itself runs twice."""
    playbook = tmp_path / "registrations.yml"
    playbook.write_text(REGISTRATIONS)
    ran = Counter(task for _, task, _ in results(ansible_playbook(tmp_path, INVENTORIES["aio"], playbook)))
    validations = {task: count for task, count in ran.items() if VALIDATION in task}
    assert list(validations.values()) == [1] and next(iter(validations)).startswith("cloudlab.openstack.openstack : "), validations
    checks = [count for task, count in ran.items() if task.startswith("cloudlab.openstack.keystone_register : Check the registration lists")]
    assert sum(checks) == 2, ran
