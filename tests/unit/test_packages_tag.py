"""`site.yml --tags packages` (issue 21): on fresh nodes, what the deployment does to put its packages
on them, and nothing else. The lab runs it on fresh nodes and commits each node into a baked image
(`podman commit`), from which later deployments skip the package installs; so the tagged run must
be self-sufficient on a fresh node, and install, preseed and mask exactly as a full run does.

What ansible-core itself selects, not a reading of the YAML: tagged_tasks_ansible.py loads
playbooks/site.yml with Playbook.load and, for each play, filters its compiled blocks with
Block.filter_tagged_tasks and follows the selected includes (the play iterator's and the linear
strategy's own selection), once under `--tags packages` and once with every tag (a full run):

- every task of a full run that installs a package (apt, package, debconf and the like) or masks a
  unit before an install is selected;
- every selected task does one of the things ALLOWED lets it do: no configuration written, no unit
  started, restarted or unmasked, no database, no keystone;
- the handlers a selected task notifies are NOTIFY_ALLOWED's, which restart nothing after a first
  install;
- every variable a selected task reads that a task registers or sets (register, set_fact,
  include_vars) is set by a selected task that runs before it: nothing reads the result of a task
  the tag leaves out;
- the selected tasks per play, on inventory/lab's hosts, are the listing in
  fixtures/packages_tag_lab.txt (CLOUDLAB_WRITE_FIXTURES=1 rewrites it; the failure prints it).
"""
import difflib
import json
import os
import re
import sys
from functools import cache
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_model import HERE, ROOT, run_ansible_script  # noqa: E402  pylint: disable=wrong-import-position

TAG = "packages"
LISTING = HERE / "fixtures" / "packages_tag_lab.txt"

# Package managers and their configuration: a full run's task with one of these actions puts or
# keeps packages on the node, so the tag must select it.
PACKAGE_ACTIONS = {
    "ansible.builtin.apt", "ansible.builtin.package", "ansible.builtin.debconf", "ansible.builtin.dpkg_selections",
    "ansible.builtin.apt_repository", "ansible.builtin.apt_key", "ansible.builtin.deb822_repository",
    "ansible.builtin.dnf", "ansible.builtin.yum", "ansible.builtin.yum_repository",
}
APT_PROXY_FILE = "/etc/apt/apt.conf.d/01cloudlab-proxy"
SYSTEMD = "ansible.builtin.systemd_service"


def _masks_only(task) -> bool:
    """A systemd task that masks its units and does nothing else: the masks roles put on units
    before the first install of their packages (cloudlab.openstack.service's install, nova's), or
    right after it with the unit stopped (keystone's, whose postinst fails on a masked unit)."""
    args = task["args"]
    return (set(args) <= {"name", "masked", "state"} and args.get("masked") is True
            and args.get("state", "stopped") == "stopped")


# What a selected task may do: {action: (why, the condition its arguments must meet)}.
ALLOWED = {
    # The installs themselves: packages added (state present), never removed or upgraded.
    "ansible.builtin.apt": ("installs packages", lambda t: t["args"].get("state", "present") == "present"
                            and not {"upgrade", "autoremove", "autoclean", "purge"} & set(t["args"])),
    "ansible.builtin.package": ("installs packages", lambda t: t["args"].get("state", "present") == "present"),
    # keystone's preseed: the answers its postinst reads on the first install.
    "ansible.builtin.debconf": ("preseeds a package's debconf questions", lambda t: True),
    # The masks before the first install (the units stay stopped until a full run configures
    # and unmasks them), or keystone's stop and mask right after it; nothing started, enabled or
    # unmasked.
    SYSTEMD: ("masks units before their packages' first install", _masks_only),
    # Read-only looks: apt's lists and their age (base), a package's dpkg file list (the masks,
    # keystone's preseed, horizon's file, nova's background job).
    "ansible.builtin.stat": ("reads a file's state", lambda t: True),
    "ansible.builtin.find": ("reads a directory", lambda t: True),
    # base's refresh of apt's package lists, and no other command.
    "ansible.builtin.command": ("refreshes apt's package lists",
                                lambda t: "apt-get update" in " ".join(map(str, t["args"].get("argv", [])))),
    # The roles' OS data: the package lists, markers and units the installs read.
    "ansible.builtin.include_vars": ("loads a role's OS data",
                                     lambda t: t["args"].get("_raw_params") == "{{ ansible_facts['os_family'] }}.yml"),
    # nova's background install notes its job for the compute play's wait.
    "ansible.builtin.set_fact": ("notes the background install's job",
                                 lambda t: set(t["args"]) == {"__nova_compute_install_job"}),
    # ... and that wait.
    "ansible.builtin.async_status": ("waits for the background install", lambda t: True),
    # Checks: the prechecks and the secrets check (tagged always), ansible-core's argument
    # validation (always for every role of a play's roles and their dependencies).
    "ansible.builtin.assert": ("checks", lambda t: True),
    "ansible.builtin.fail": ("checks", lambda t: True),
    "ansible.builtin.validate_argument_spec": ("validates a role's arguments", lambda t: True),
    # The prechecks' look at the network node's interfaces (tagged always): reads facts.
    "ansible.builtin.setup": ("reads the node's facts", lambda t: "always" in t["tags"]),
    # ansible-core's own: handlers flushed between a play's sections, a role marked complete.
    "ansible.builtin.meta": ("ansible-core's implicit steps",
                             lambda t: t["implicit"] and t["args"].get("_raw_params") in ("flush_handlers", "role_complete")),
    # The apt proxy file, as base writes or removes it: how apt reaches the packages.
    "ansible.builtin.copy": ("points apt at the package proxy", lambda t: t["args"].get("dest") == APT_PROXY_FILE),
    "ansible.builtin.file": ("removes the apt proxy file",
                             lambda t: t["args"].get("path") == APT_PROXY_FILE and t["args"].get("state") == "absent"),
    # /etc/default/openstack-dashboard-apache: read by the dashboard package's debconf script on its
    # first install (which site the postinst enables), so it is written before it, as a preseed.
    "ansible.builtin.template": ("writes the dashboard package's preseed file",
                                 lambda t: t["args"].get("dest") == "{{ __horizon_apache_defaults_file }}"),
    # neutron's Open vSwitch steps are included: the include itself runs, and its selected tasks are
    # checked here like any other.
    "ansible.builtin.include_tasks": ("includes tasks checked here too", lambda t: True),
}

# The handler a selected task may notify, and that handler's `when`: {(role, task): (handler, when)}.
NOTIFY_ALLOWED = {
    # The dashboard's preseed file notifies the package's reconfiguration, which runs only for a
    # package installed before the run (its `when` reads the selected look at the dpkg marker) and
    # notifies apache2's restart only when it ran: after a first install, nothing.
    ("cloudlab.openstack.horizon", "Serve the dashboard at / on port 80 (Debian's openstack-dashboard site)"):
        ("Reconfigure openstack-dashboard-apache", ["__horizon_package.stat.exists"]),
}

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@cache
def site():
    """{'selected': plays under --tags packages, 'all': plays of a full run} (tagged_tasks_ansible.py)."""
    return run_ansible_script("tagged_tasks_ansible.py", TAG)


def _tasks(key):
    """(play index, task) in run order, ansible-core's implicit metas included."""
    return [(index, task) for index, play in enumerate(site()[key]["plays"]) for task in play["tasks"]]


def _key(index, task):
    return (index, task["path"], task["shown"])


def _label(index, task):
    play = site()["all"]["plays"][index]["name"]
    return f"play {index + 1} {play!r}: {task['role']} : {task['shown']} ({task['action']}, {task['path']})"


def test_every_install_of_a_full_run_is_selected():
    """Every task of a full run that installs, preseeds or masks before an install runs under the tag."""
    selected = {_key(index, task) for index, task in _tasks("selected")}
    wanted = [(index, task) for index, task in _tasks("all")
              if task["action"] in PACKAGE_ACTIONS or (task["action"] == SYSTEMD and _masks_only(task))]
    assert len([t for _, t in wanted if t["action"] in PACKAGE_ACTIONS]) >= 30, "site.yml's installs were not found"
    missing = [_label(index, task) for index, task in wanted if _key(index, task) not in selected]
    assert not missing, f"--tags {TAG} leaves out:\n" + "\n".join(missing)


def test_selected_tasks_only_install():
    """Every selected task's action is ALLOWED, with the arguments ALLOWED accepts for it."""
    bad = [f"{_label(index, task)} args {task['args']}" for index, task in _tasks("selected")
           if task["action"] not in ALLOWED or not ALLOWED[task["action"]][1](task)]
    assert not bad, f"--tags {TAG} selects tasks that do more than install:\n" + "\n".join(bad)


def test_selected_tasks_notify_no_restart():
    """A selected task notifies only NOTIFY_ALLOWED's handler, which is guarded by its `when` and is the
    only handler that notification reaches."""
    bad = []
    for index, task in _tasks("selected"):
        if not task["notify"]:
            continue
        handlers = site()["selected"]["plays"][index]["handlers"]
        allowed = NOTIFY_ALLOWED.get((task["role"], task["shown"]))
        reached = [h for h in handlers if h["name"] in task["notify"] or set(h["listen"]) & set(task["notify"])]
        if allowed is None or task["notify"] != [allowed[0]]:
            bad.append(f"{_label(index, task)} notifies {task['notify']}")
        elif [(h["name"], h["when"]) for h in reached] != [allowed]:
            bad.append(f"{_label(index, task)}: {task['notify']} reaches {[(h['name'], h['when']) for h in reached]},"
                       f" not only {allowed}")
    assert not bad, "\n".join(bad)


def _definitions() -> dict[str, str]:
    """{variable: its value as text} from every role's vars/ and defaults/main.yml: what a task's
    expressions reach through the variables they name."""
    found = {}
    for path in sorted((ROOT / "roles").glob("*/vars/*.yml")) + sorted((ROOT / "roles").glob("*/defaults/main.yml")):
        for name, value in (yaml.safe_load(path.read_text()) or {}).items():
            found[name] = found.get(name, "") + " " + json.dumps(value)
    return found


def _reads(task, definitions) -> set[str]:
    """The variables `task` reads: the names in its expressions, arguments and vars, and, through the
    roles' variables, every name those reach. (An argument validation reads its options.)"""
    if task["action"] == "ansible.builtin.validate_argument_spec":
        text = " ".join(task["args"].get("argument_spec", {}))
    else:
        text = json.dumps([task["expressions"], task["args"], task["vars"]])
    pending, seen = set(_IDENTIFIER.findall(text)), set()
    while pending:
        name = pending.pop()
        seen.add(name)
        pending |= set(_IDENTIFIER.findall(definitions.get(name, ""))) - seen
    return seen


def _positions() -> list[int]:
    """Each selected task's position in the full run (the selection is a subsequence of it)."""
    full, found, at = _tasks("all"), [], 0
    for index, task in _tasks("selected"):
        while at < len(full) and _key(*full[at]) != _key(index, task):
            at += 1
        assert at < len(full), f"{_label(index, task)} is selected but not part of a full run (tagged never?)"
        found.append(at)
        at += 1
    return found


def test_no_selected_task_reads_what_an_unselected_task_sets():
    """A variable a selected task reads, which tasks of the site register, set or load: where a full
    run has set it before that task (or the task itself sets it: a retry's `until`), the last of those
    tasks is selected too, so the tagged run reads what a full run would, not a missing or stale value.
    (A variable nothing sets before the task in a full run either, as the argument validation's view
    of a role's OS data, is read the same way in both runs.) Approximate where plays differ in hosts."""
    definitions, full = _definitions(), _tasks("all")
    chosen = set(_positions())
    bad = []
    for position in sorted(chosen):
        index, task = full[position]
        for name in sorted(_reads(task, definitions)):
            before = [at for at in range(position + 1) if name in full[at][1]["produces"]]
            if before and before[-1] not in chosen:
                bad.append(f"{_label(index, task)} reads {name}, set last by {_label(*full[before[-1]])}")
    assert not bad, f"--tags {TAG} runs tasks that read what it does not set:\n" + "\n".join(bad)


def listing() -> str:
    """The selected tasks per play with inventory/lab's hosts: `play N name (pattern: hosts)` and one
    line per task (role : name [action]; `always` when only that tag selects it), implicit steps left out."""
    lines = []
    for number, play in enumerate(site()["selected"]["plays"], 1):
        tasks = [task for task in play["tasks"] if not task["implicit"]]
        lines.append(f"play {number} {play['name']} ({play['hosts']}: {', '.join(play['lab_hosts'])}) - {len(tasks)} tasks")
        for task in tasks:
            why = "" if TAG in task["tags"] else ", always"
            lines.append(f"  {task['role']} : {task['shown']} [{task['action'].rpartition('.')[2]}{why}]")
    return "\n".join(lines) + "\n"


def test_the_lab_listing():
    """The selected tasks per play for inventory/lab are fixtures/packages_tag_lab.txt, line for line."""
    actual = listing()
    if os.environ.get("CLOUDLAB_WRITE_FIXTURES") == "1":
        LISTING.write_text(actual)
    expected = LISTING.read_text() if LISTING.is_file() else ""
    diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), str(LISTING), "actual"))
    assert actual == expected, (f"--tags {TAG} on inventory/lab selects (CLOUDLAB_WRITE_FIXTURES=1 writes it):\n"
                                f"{actual}\ndiff:\n{diff}")
