"""What a `--tags` run of playbooks/site.yml would run, play by play, read with Ansible's Python API.

    python tests/unit/tagged_tasks_ansible.py OUTPUT.json TAGS...     (CLOUDLAB_ROOT: the checkout)

Run in a process of its own by test_packages_tag.py, for the reason service_model_ansible.py is
(Ansible's collection loader and configuration are process-wide). It reuses that module's _Site:
site.yml loaded with Playbook.load, its loader and variable manager, and its way of loading an
include_tasks file as the strategy does.

Selection is ansible-core's own: each play's compiled blocks (play.compile()) are filtered with
Block.filter_tagged_tasks for the play's only_tags, as the play iterator does, and a selected
include_tasks or include_role is followed into its blocks, filtered again, as the linear strategy
does with an included file. Nothing is rendered for a host and nothing connects: a task's `when`
is not evaluated, so a task selected here runs on the hosts whose `when` holds.

For each tag set and play: its name, host pattern and the lab inventory's hosts for it, and each
selected task in run order (role, name, action, file:line, tags, the arguments and expressions
the tests check, the handlers it notifies), plus for the whole site the variables each task
produces (register, set_fact, include_vars) and every play's handlers.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.inventory.manager import InventoryManager
from ansible.playbook.block import Block
from ansible.playbook.role_include import IncludeRole
from ansible.playbook.task_include import TaskInclude
from ansible.template import Templar

from service_model import INVENTORIES, ROOT
from service_model_ansible import COLLECTIONS_PATH, _module, _plain, _role_name, _site

# The task fields whose expressions the tests read (which variables a task needs).
EXPRESSIONS = ("when", "loop", "until", "changed_when", "failed_when", "environment")


def _walk(site, play, blocks) -> Iterator[Any]:
    """The tasks of `blocks` (filtered already) in run order, into the includes among them."""
    for block in blocks:
        for task in block.block + block.rescue + block.always:
            if isinstance(task, Block):
                yield from _walk(site, play, [task])
                continue
            yield task
            if isinstance(task, IncludeRole):
                included, _handlers = task.get_block_list(play=play, variable_manager=site.vm, loader=site.loader)
            elif isinstance(task, TaskInclude) and _module(task) in C._ACTION_INCLUDE_TASKS:
                included = site._included_tasks(play, task)  # pylint: disable=protected-access
            else:
                continue
            # As the linear strategy does with an included file's blocks.
            yield from _walk(site, play, [b.filter_tagged_tasks({}) for b in included])


def _shown_name(site, task) -> str:
    """The task's name with its own and its imports' vars rendered (service_name), else as written."""
    try:
        return str(Templar(loader=site.loader, variables=task.get_vars()).template(task.name))
    except AnsibleError:
        return str(task.name)


def _include_vars_keys(site, task) -> list[str]:
    """The variables an include_vars of the roles' OS data defines, from the Debian file the lab's nodes
    load (the roles name `{{ ansible_facts['os_family'] }}.yml`)."""
    raw = str(task.args.get("_raw_params") or task.args.get("file") or "")
    name = "Debian.yml" if "os_family" in raw else raw
    base = task._role._role_path if task._role else site.loader.get_basedir()  # pylint: disable=protected-access
    path = site.loader.path_dwim_relative(base, "vars", name, is_role=bool(task._role))  # pylint: disable=protected-access
    return sorted(site.loader.load_from_file(path) or {})


def _produces(site, task) -> list[str]:
    """The variables `task` defines for later tasks: register, set_fact keys, include_vars."""
    names = [task.register] if task.register else []
    module = _module(task)
    if module in C._ACTION_SET_FACT:
        names += [key for key in task.args if key != "cacheable"]
    elif module in C._ACTION_INCLUDE_VARS:
        names += _include_vars_keys(site, task)
    return names


def _names(value) -> list[str]:
    """A notify or listen list (a single name may be written as a string)."""
    return [str(value)] if isinstance(value, str) else [str(name) for name in value or []]


def _relative(path: str) -> str:
    """file:line relative to the checkout (roles load through the private collection link)."""
    for base in (COLLECTIONS_PATH / "ansible_collections" / "cloudlab" / "openstack", ROOT):
        if path.startswith(f"{base}/"):
            return path[len(str(base)) + 1:]
    return path


def _describe(site, task) -> dict[str, Any]:
    return {
        "role": task._role.get_name() if task._role else "",  # pylint: disable=protected-access
        "short_role": _role_name(task),
        "name": str(task.name),
        "shown": _shown_name(site, task),
        "action": _module(task),
        "path": _relative(task.get_path() or ""),
        "tags": sorted(str(tag) for tag in task.tags),
        "implicit": bool(task.implicit),
        "args": _plain(task.args),
        "vars": _plain(task.get_vars()),
        "expressions": _plain({field: getattr(task, field) for field in EXPRESSIONS}),
        "notify": _names(task.notify),
        "produces": _produces(site, task),
    }


def _handlers(play) -> list[dict[str, Any]]:
    """The play's handlers (its roles' and its own): name, listen, action, when, notify."""
    blocks = play.compile_roles_handlers() + play.handlers
    return [{"name": str(handler.name), "listen": _names(handler.listen), "action": _module(handler),
             "when": _plain(handler.when), "notify": _names(handler.notify)}
            for block in blocks for handler in block.get_tasks()]


def selected(tags: list[str]) -> dict[str, Any]:
    """{plays: [{name, hosts, lab_hosts, tasks, handlers}]} of site.yml under `--tags TAGS`."""
    site = _site()
    inventory = InventoryManager(loader=site.loader, sources=[str(INVENTORIES["lab"])])
    plays = []
    for play in site.plays:
        # What ansible-playbook's --tags sets on each play (Play.__init__ reads it from the CLI).
        play.only_tags, play.skip_tags = set(tags), set()
        blocks = [block.filter_tagged_tasks({}) for block in play.compile()]
        plays.append({
            "name": play.get_name(),
            "hosts": str(play.hosts) if isinstance(play.hosts, str) else ",".join(play.hosts),
            "lab_hosts": [host.name for host in inventory.get_hosts(play.hosts)],
            "tasks": [_describe(site, task) for task in _walk(site, play, blocks)],
            "handlers": _handlers(play),
        })
    return {"tags": tags, "plays": plays}


def main(output: str, tags: list[str]) -> None:
    Path(output).write_text(json.dumps({"selected": selected(tags), "all": selected(["all"])}, default=str))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
