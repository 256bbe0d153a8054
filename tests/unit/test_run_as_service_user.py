"""Commands that run as a service's user do it with runuser, run as root, not with Ansible's `become`
(docs/speed.md, "Running as the service user"): Mitogen's su ignores become_flags, so a task
with `become_method: su` and `become_flags: -s /bin/sh` cannot run under the mitogen strategies, and
runuser opens no login session. Read from the roles' YAML, nothing rendered."""
from pathlib import Path

import yaml

TOP = Path(__file__).resolve().parents[2]
TASK_FILES = sorted(
    path for pattern in ("roles/*/tasks/*.yml", "roles/*/handlers/*.yml", "playbooks/*.yml")
    for path in TOP.glob(pattern))
BECOME_USER_KEYWORDS = ("become_user", "become_method", "become_flags")
# The service tools' variables (vars/<os_family>.yml) whose commands must run as the service's user.
SERVICE_TOOLS = ("_manage }}", "_db_manage }}", "_dbsync }}", "__gnocchi_upgrade }}")
# Run as root on purpose: the guide runs it as root, and it only talks to gnocchi's API.
ROOT_TOOLS = ("__ceilometer_upgrade }}",)


def tasks_of(node):
    """Every task of a task file or playbook, blocks and plays opened."""
    if isinstance(node, list):
        for item in node:
            yield from tasks_of(item)
    elif isinstance(node, dict):
        if any(key in node for key in ("block", "tasks", "pre_tasks", "post_tasks", "handlers")):
            for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers"):
                yield from tasks_of(node.get(key) or [])
            if "block" not in node:
                return
        yield node


def command_argv(task):
    for module in ("ansible.builtin.command", "ansible.builtin.shell"):
        args = task.get(module)
        if isinstance(args, dict) and isinstance(args.get("argv"), list):
            return [str(word) for word in args["argv"]]
    return None


def tasks_by_file():
    for path in TASK_FILES:
        for task in tasks_of(yaml.safe_load(path.read_text()) or []):
            yield path.relative_to(TOP), task


def test_the_task_files_are_found():
    assert len(TASK_FILES) > 50


def test_no_task_switches_user_with_become():
    found = [f"{path}: {task.get('name')}: {key}" for path, task in tasks_by_file()
             for key in BECOME_USER_KEYWORDS if key in task]
    assert not found, "use argv [runuser, -u, <user>, --, ...] instead:\n" + "\n".join(found)


def test_service_tools_run_through_runuser():
    wrong = []
    for path, task in tasks_by_file():
        argv = command_argv(task)
        if argv is None:
            continue
        where = f"{path}: {task.get('name')}"
        if argv[0] == "runuser":
            # -u: the command runs directly (no shell, the user's login shell not read); --: the
            # command's own options are not runuser's.
            if not (len(argv) > 4 and argv[1] == "-u" and argv[3] == "--"):
                wrong.append(f"{where}: {argv[:5]} is not [runuser, -u, <user>, --, <command>...]")
            elif not argv[2].endswith("_user }}"):
                wrong.append(f"{where}: runs as {argv[2]}, not a service's user variable")
        elif argv[0].endswith(SERVICE_TOOLS) and not argv[0].endswith(ROOT_TOOLS):
            wrong.append(f"{where}: {argv[0]} runs as root; wrap it in runuser")
    assert not wrong, "\n".join(wrong)
