"""Issue 21: `site.yml --tags <service>` runs that service, not a task of every other service's play.

Each test reads what ansible-playbook itself would run, `--list-tasks` on playbooks/site.yml with the
lab's inventory (nothing connects to a node, nothing is decrypted), and the tags it lists for each
task: the task's own, its imports' and its play's role's. A play carries its service's tag on
every task (the play's role tag), so a task listed under `--tags <service>` without that tag runs
only because it is tagged `always` somewhere: in a play the run did not select.

- under each service's tag, such a task is one of ALLOWED_UNDER_ANY_TAG, nothing else;
- the service role's look for the installed packages (tasks_from: installed), `always` before,
  runs under every tag that selects anything of its play, so whatever step reads its result
  (the install's mask, a role's later check) finds it, and in a full run it stands where
  tasks_from: install ran it, right before the mask.
"""
import os
import re
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_model import INVENTORIES, ROOT, SITE  # noqa: E402  pylint: disable=wrong-import-position

# The tags issue 21 times (benchmarks/deploy.sh: one --tags run each).
SERVICES = ("keystone", "glance", "nova", "neutron", "cinder", "swift", "heat", "telemetry", "horizon")

# What may run in a play the tag did not select, and why.
ALLOWED_UNDER_ANY_TAG = {
    # playbooks/prechecks.yml: the deployment table's checks and the secrets check, `always` on
    # purpose: a broken inventory stops the run before any node changes, whatever the tags.
    "prechecks": lambda play, task: "prechecks" in play.tags,
    # ansible-core prepends the validation of a role's arguments to each role of a play's `roles:`
    # (and to its dependencies: the internal openstack role) with the tag `always` written into
    # ansible/playbook/role/__init__.py (_create_validation_task); `roles:` has no keyword to turn it
    # off. It checks the inventory's inputs of the role on the controller: kept.
    "argument validation": lambda play, task: task.name.partition(" : ")[2].startswith("Validating arguments against arg spec"),
}
LOOKUP = "cloudlab.openstack.service : Look for the installed packages of {{ service_name }}"
MASK = "cloudlab.openstack.service : Mask the units before the first install of {{ service_name }}"
INCLUDE_VARS = re.compile(r"^cloudlab\.openstack\.\w+ : Load the data of this OS family$")

_PLAY = re.compile(r"^  play #\d+ \((?P<hosts>.*)\): (?P<name>.*)\tTAGS: \[(?P<tags>.*)\]$")
_TASK = re.compile(r"^      (?P<name>.*)\tTAGS: \[(?P<tags>.*)\]$")


class Listed:
    """A play or a task of the listing: its name and tags."""

    def __init__(self, name, tags):
        self.name = name
        self.tags = frozenset(tag.strip() for tag in tags.split(",") if tag.strip())
        self.tasks = []


@cache
def list_tasks(tags="all"):
    """[plays, each with .tasks] of `ansible-playbook -i inventory/lab playbooks/site.yml --list-tasks
    --tags TAGS`, run with a scratch configuration: the checkout's collection link (`make venv`), no
    vault password script (the listing reads no secret)."""
    with tempfile.TemporaryDirectory(prefix="cloudlab-tags-scope-") as scratch:
        config = Path(scratch) / "ansible.cfg"
        config.write_text(f"[defaults]\ncollections_path = {ROOT / '.collections'}\nretry_files_enabled = False\n"
                          f"local_tmp = {scratch}/tmp\n")
        environment = dict(os.environ, ANSIBLE_CONFIG=str(config), ANSIBLE_NOCOLOR="1", PYTHONDONTWRITEBYTECODE="1")
        playbook = Path(sys.executable).with_name("ansible-playbook")
        run = subprocess.run([str(playbook), "-i", str(INVENTORIES["lab"]), str(SITE), "--list-tasks", "--tags", tags],
                             env=environment, cwd=ROOT, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    plays = []
    for line in run.stdout.splitlines():
        if match := _PLAY.match(line):
            plays.append(Listed(match["name"], match["tags"]))
        elif match := _TASK.match(line):
            plays[-1].tasks.append(Listed(match["name"], match["tags"]))
    assert plays and any(play.tasks for play in plays), f"nothing listed for --tags {tags}:\n{run.stdout[-3000:]}"
    return plays


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_tag_runs_no_task_of_another_play(service):
    """`--tags <service>`: every listed task carries the tag (its play's) or is allowed under any tag."""
    plays = list_tasks(service)
    own = [task for play in plays for task in play.tasks if service in task.tags]
    assert own, f"--tags {service} selects no task of {service}"
    strays, allowed = [], {reason: 0 for reason in ALLOWED_UNDER_ANY_TAG}
    for play in plays:
        for task in play.tasks:
            if service in task.tags:
                continue
            reason = next((reason for reason, holds in ALLOWED_UNDER_ANY_TAG.items() if holds(play, task)), None)
            if reason is None:
                strays.append(f"play {play.name!r}: {task.name} (tags {sorted(task.tags)})")
            else:
                allowed[reason] += 1
    assert not strays, f"--tags {service} runs tasks of plays it did not select:\n" + "\n".join(strays)
    assert allowed["prechecks"], "the prechecks must run under every tag"


def test_the_package_lookup_runs_wherever_its_play_runs():
    """In each play, the look for the installed packages is tagged as the play's OS data, covers
    every tag of the play's other tasks (none of them, the mask, the install or a later check, runs
    without it), is not `always`, and stands right before the mask of the install it serves."""
    plays = [play for play in list_tasks() if any(task.name == LOOKUP for task in play.tasks)]
    assert len(plays) >= 10, "the service roles' plays (glance ... aodh) call tasks_from: installed"
    problems = []
    for play in plays:
        names = [task.name for task in play.tasks]
        if names.count(LOOKUP) != 1 or names.count(MASK) != 1:
            problems.append(f"{play.name}: {names.count(LOOKUP)} lookups, {names.count(MASK)} masks")
            continue
        at = names.index(LOOKUP)
        lookup = play.tasks[at]
        if names[at + 1] != MASK:
            problems.append(f"{play.name}: the lookup is followed by {names[at + 1]!r}, not by the mask")
        if "always" in lookup.tags:
            problems.append(f"{play.name}: the lookup is tagged always")
        os_data = [task for task in play.tasks if INCLUDE_VARS.match(task.name)]
        if [task.tags for task in os_data] != [lookup.tags]:
            problems.append(f"{play.name}: lookup tags {sorted(lookup.tags)}, OS data {[sorted(t.tags) for t in os_data]}")
        for task in play.tasks:
            if "always" not in task.tags and not task.tags <= lookup.tags:
                problems.append(f"{play.name}: {task.name} runs under {sorted(task.tags - lookup.tags)} without the lookup")
    assert not problems, "\n".join(problems)


def test_no_role_task_is_tagged_always_outside_the_prechecks():
    """The full listing: `always` only on the prechecks plays' tasks and ansible-core's argument
    validation (ALLOWED_UNDER_ANY_TAG), so a new one shows here with its play."""
    found = [f"{play.name}: {task.name}" for play in list_tasks() for task in play.tasks
             if "always" in task.tags and not any(holds(play, task) for holds in ALLOWED_UNDER_ANY_TAG.values())]
    assert not found, "tasks tagged always (they run in their play under any tag):\n" + "\n".join(found)
