"""Builds the models of service_model.py with Ansible's Python API, in a process of its own.

    python tests/unit/service_model_ansible.py OUTPUT.json     (CLOUDLAB_ROOT: the checkout to model)

Run by service_model.load_models(): Ansible's collection loader, configuration and command-line
context are process-wide, and other tests of the same pytest process import
ansible_collections.cloudlab.openstack as a plain package, which the loader cannot resolve roles
from. Here nothing else is loaded first.

How a model is built: playbooks/site.yml is loaded with Playbook.load (import_playbook, roles, their
meta dependencies, import_tasks and import_role are resolved by Ansible itself); every play's tasks
are walked in run order, following include_tasks and include_role as the strategy would, and each
import_role is a step of its own before its first task (_Site). Then, for each
inventory and each host a play's pattern matches, each task is rendered with the variables Ansible
gives that task on that host, VariableManager.get_vars(play, host, task): role defaults of the role
and its dependencies, inventory, include params, `-e` extra vars, magic variables (_Builder).
include_vars tasks are followed (vars/Debian.yml); facts and secrets are faked; what needs a
registered result is noted in Model.notes. Of the other tasks only the parts that carry a keystone
user and its password are rendered (LOGIN_ARGUMENTS, an environment that can hold a password).
"""
from __future__ import annotations

import atexit
import contextlib
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

# The caller (service_model.load_models) sets ANSIBLE_CONFIG to the checkout's ansible.cfg and
# ANSIBLE_CACHE_PLUGIN=memory (the checkout's jsonfile fact cache holds the lab's real facts: never
# read or written here) before this process imports Ansible.
from ansible import constants as C
from ansible import context
from ansible.errors import AnsibleError
from ansible.inventory.manager import InventoryManager
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.collections import ImmutableDict
from ansible.parsing.dataloader import DataLoader
from ansible.playbook import Playbook
from ansible.playbook.block import Block
from ansible.playbook.helpers import load_list_of_blocks
from ansible.playbook.role_include import IncludeRole
from ansible.playbook.task_include import TaskInclude
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar
from ansible.utils.vars import load_extra_vars
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager

from service_model import (DATABASE_USER_MODULE, FILE_WRITER_DEFAULT_PATHS, FILE_WRITERS, HANDOVER_LISTS,
                           INCLUDE_VARS, INVENTORIES, KEY_VALUE_WRITERS, KEYSTONE_REGISTER, KEYSTONE_REGISTER_USERS,
                           LOGIN_ARGUMENTS, RECORDED_MODULES, ROOT, SETTING_ARGUMENTS, SITE,
                           Call, DatabaseUser, Include, Login, Model, Write, bootstrap_credentials, credentials,
                           fake_secrets, file_credentials, secret_names, secret_owner, shared_user_variables, variable_of)


def fake_facts(host_vars: dict[str, Any], hostname: str) -> dict[str, Any]:
    """The gathered facts the roles read (ansible_facts[...]), for a Debian 12 container node."""
    addresses = [a for a in (host_vars.get("internal_ip"), host_vars.get("public_ip")) if a]
    interfaces = {"eth0": host_vars.get("internal_ip"), "eth1": host_vars.get("public_ip")}
    facts = {
        "os_family": "Debian",
        "distribution": "Debian",
        "distribution_release": "bookworm",
        "distribution_major_version": "12",
        "distribution_version": "12",
        "processor_vcpus": 2,
        "processor_count": 2,
        "memtotal_mb": 4096,
        "hostname": hostname,
        "fqdn": hostname,
        "nodename": hostname,
        "virtualization_type": "podman",
        "virtualization_role": "guest",
        "env": {"HOME": "/root", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        "all_ipv4_addresses": addresses,
        "default_ipv4": {"address": host_vars.get("internal_ip"), "interface": "eth0"},
        "interfaces": ["lo", *interfaces],
        "python": {"executable": "/usr/bin/python3"},
        "service_mgr": "systemd",
    }
    for name, address in interfaces.items():
        facts[name] = {"device": name, "active": True, "ipv4": {"address": address, "prefix": "24"}}
    return facts


# ---- Ansible, configured for the checkout --------------------------------------------------------------

def _private_collections_path() -> Path:
    """ansible_collections/cloudlab/openstack -> ROOT in a temporary directory of our own.

    Works for any checkout, with or without the .collections link `make venv` makes."""
    top = Path(tempfile.mkdtemp(prefix="cloudlab-service-model-"))
    link = top / "ansible_collections" / "cloudlab" / "openstack"
    link.parent.mkdir(parents=True)
    link.symlink_to(ROOT, target_is_directory=True)
    atexit.register(shutil.rmtree, top, True)
    return top


COLLECTIONS_PATH = _private_collections_path()
# The collection loader, as ansible-playbook sets it up: cloudlab.openstack from our link first, then
# every collection on sys.path (community.general, ansible.utils, ... of the venv).
init_plugin_loader([str(COLLECTIONS_PATH)])


# Facts live in memory only, whatever the configuration says (see above).
C.CACHE_PLUGIN = "ansible.builtin.memory"


@contextlib.contextmanager
def _command_line(extra_vars: dict[str, Any]) -> Iterator[None]:
    """What ansible-playbook's command line sets and a VariableManager reads: `-e` extra vars, and
    no --tags (ansible_run_tags is [all]: cinder and neutron choose their components by it)."""
    saved = context.CLIARGS
    context.CLIARGS = ImmutableDict(extra_vars=(json.dumps(extra_vars),) if extra_vars else (),
                                    tags=("all",), skip_tags=())
    # load_extra_vars keeps the first non-empty `-e` it parsed on itself, for the life of the process.
    load_extra_vars.extra_vars = None
    try:
        yield
    finally:
        context.CLIARGS = saved


# ---- the walk and the rendering ------------------------------------------------------------------------

@dataclass(frozen=True)
class _Step:
    """A task of a play in run order, with the include tasks it sits under (their `when` gates it)."""
    task: Any
    gates: tuple
    owner: str          # the role of the outermost task: who runs this (the play's role)


def _role_name(task) -> str:
    return task._role.get_name(include_role_fqcn=False) if task._role else ""


def _module(task) -> str:
    return task.resolved_action or task.action


def _login_arguments(task) -> list[str]:
    """The arguments of `task` that carry a keystone user and its password (LOGIN_ARGUMENTS)."""
    module = _module(task)
    names = [name for name, modules in LOGIN_ARGUMENTS.items() if name in task.args and modules in ("*", module)]
    if _role_name(task) == KEYSTONE_REGISTER and "users" in names:
        names.remove("users")   # the handed-over lists (Model.includes)
    return names


def _environment_may_log_in(task) -> bool:
    """The task's environment names a password or is templated (DEBIAN_FRONTEND alone is not)."""
    written = json.dumps(task.environment or [], default=str)
    return "PASSWORD" in written or "{{" in written


def _bootstrap_on_stdin(task) -> bool:
    """A command that runs keystone-manage bootstrap with the password on its standard input."""
    return "stdin" in task.args and "bootstrap" in json.dumps(task.args.get("argv") or task.args.get("_raw_params") or
                                                              task.args.get("cmd") or "", default=str)


def _plain(value: Any) -> Any:
    """Ansible's tagged strings and lazy containers as plain Python data."""
    return json.loads(json.dumps(value, default=str))


class _LoaderWithoutDeploymentSecrets(DataLoader):
    """The model fakes every secret (fake_secrets): the vault-encrypted group_vars/all/secrets.yml a
    deployment leaves in an inventory (make deploy writes inventory/lab's) is neither needed nor
    readable here (no vault password in a unit test), so it loads as empty."""

    def load_from_file(self, file_name, *args, **kwargs):
        path = Path(file_name)
        if path.name == "secrets.yml" and path.parent.name == "all" and path.parent.parent.name == "group_vars":
            return {}
        return super().load_from_file(file_name, *args, **kwargs)


class _Site:
    """site.yml's plays and, for each, its tasks in run order with every include followed.

    Loaded once: what a play runs does not depend on the inventory (each task's `when` does, and is
    evaluated per host later). Loading is most of a model's cost."""

    def __init__(self):
        self.loader = _LoaderWithoutDeploymentSecrets()
        # Loading templates role names and include targets; no host variables are involved.
        inventory = InventoryManager(loader=self.loader, sources=[str(INVENTORIES["lab"])])
        with _command_line({}):
            self.vm = VariableManager(loader=self.loader, inventory=inventory)
        self.plays = Playbook.load(str(SITE), variable_manager=self.vm, loader=self.loader).get_plays()
        self.steps = [list(self._walk(play, play.compile(), (), None, set())) for play in self.plays]
        self._check_roles_come_from_root()

    def _walk(self, play, blocks, gates, owner, seen) -> Iterator[_Step]:
        for block in blocks:
            for task in block.block + block.rescue + block.always:
                if isinstance(task, Block):
                    yield from self._walk(play, [task], gates, owner, seen)
                    continue
                # The import_role calls this task sits under and that have not been seen yet: a step
                # each, before it (their `when` is their tasks' too, so they gate nothing).
                for imported in self._new_imports(task, seen):
                    yield _Step(imported, gates, owner if owner is not None else self._owner(imported))
                step = _Step(task, gates, owner if owner is not None else self._owner(task))
                yield step
                if isinstance(task, IncludeRole):
                    seen.add(task._uuid)
                    included, _handlers = task.get_block_list(play=play, variable_manager=self.vm, loader=self.loader)
                    yield from self._walk(play, included, gates + (task,), step.owner, seen)
                elif isinstance(task, TaskInclude) and _module(task) in C._ACTION_INCLUDE_TASKS:
                    yield from self._walk(play, self._included_tasks(play, task), gates + (task,), step.owner, seen)

    @staticmethod
    def _owner(task) -> str:
        """The role that runs `task`: the outermost role whose tasks import it (glance for
        cloudlab.openstack.service's tasks imported by glance), else its own."""
        owner = _role_name(task)
        parent = task._parent
        while parent is not None:
            if isinstance(parent, IncludeRole):
                owner = _role_name(parent) or owner
            parent = getattr(parent, "_parent", None)
        return owner

    @staticmethod
    def _new_imports(task, seen) -> list:
        """The role calls above `task` (outermost first) not seen yet: import_role's, since an
        include_role is seen when it is walked, before its tasks."""
        found = []
        parent = task._parent
        while parent is not None:
            if isinstance(parent, IncludeRole) and parent._uuid not in seen:
                seen.add(parent._uuid)
                found.append(parent)
            parent = getattr(parent, "_parent", None)
        return found[::-1]

    def _included_tasks(self, play, task):
        # As StrategyBase._load_included_file does, for a file of the role's tasks/ (or the play's).
        name = task.args["_raw_params"]
        if task._role:
            path = self.loader.path_dwim_relative(task._role._role_path, "tasks", name, is_role=True)
        else:
            path = self.loader.path_dwim_relative(self.loader.get_basedir(), "", name)
        data = self.loader.load_from_file(path, trusted_as_template=True) or []
        return load_list_of_blocks(data, play=play, parent_block=task.build_parent_block(), role=task._role,
                                   loader=self.loader, variable_manager=self.vm)

    def _check_roles_come_from_root(self):
        # cloudlab.openstack must be the checkout under test, not a copy installed elsewhere on the
        # collection path (the loader also searches sys.path).
        for steps in self.steps:
            for step in steps:
                if step.task._role and not Path(step.task._role._role_path).resolve().is_relative_to(ROOT):
                    raise RuntimeError(f"role {step.task._role.get_name()} loaded from {step.task._role._role_path},"
                                       f" not from {ROOT}: cloudlab.openstack resolves elsewhere")


def handovers(task) -> dict[str, list]:
    """{KEYSTONE_REGISTER_USERS or MARIADB_DATABASES: the items as written} that a role call hands
    over: a list in its `vars:`, or the items of the one variable a `vars:` value names, from the
    calling role's vars/main.yml or defaults. Empty lists hand over nothing."""
    found = {}
    role = task._role
    for name, kind in HANDOVER_LISTS.items():
        if name not in task.vars:
            continue
        value = task.vars[name]
        named = variable_of(value)
        if named and role is not None:
            value = role._role_vars.get(named, role._default_vars.get(named))
        if isinstance(value, list) and value:
            found[kind] = _plain(value)
    return found


def argument_spec(task) -> tuple[str, dict]:
    """(entry point, its options) of the role a role call runs (meta/argument_specs.yml)."""
    entry_point = str((task._from_files or {}).get("tasks", "main")).removesuffix(".yml").removesuffix(".yaml")
    path = Path(task._role_path) / "meta" / "argument_specs.yml"
    specs = (yaml.safe_load(path.read_text()) or {}).get("argument_specs", {}) if path.is_file() else {}
    return entry_point, (specs.get(entry_point) or {}).get("options") or {}


@cache
def _site() -> _Site:
    return _Site()


class _Builder:
    """Runs the site's steps on one inventory, with `-e` extra vars, rendering instead of executing."""

    def __init__(self, inventory_name: str, extra_vars: dict[str, Any]):
        self.site = _site()
        self.loader = self.site.loader
        self.model = Model(inventory_name, dict(extra_vars))
        self.inventory = InventoryManager(loader=self.loader, sources=[str(INVENTORIES[inventory_name])])
        with _command_line(extra_vars):
            self.vm = VariableManager(loader=self.loader, inventory=self.inventory)
        if self.vm.extra_vars != extra_vars:
            raise RuntimeError(f"extra vars {self.vm.extra_vars} instead of {extra_vars}")
        # `hostvars`, as the TaskQueueManager of a run provides it.
        HostVars(inventory=self.inventory, variable_manager=self.vm, loader=self.loader)
        for host in self.inventory.get_hosts():
            self.vm.set_host_facts(host.name, fake_facts(host.get_vars(), host.name))
            # As the secrets role loads them: set_fact on every host, below include params and -e.
            self.vm.set_nonpersistent_facts(host.name, fake_secrets())

    # ---- rendering, per host ----
    def templar(self, play, host, task) -> Templar:
        """A templar with the variables Ansible gives `task` on `host`."""
        return Templar(loader=self.loader, variables=self.vm.get_vars(play=play, host=host, task=task))

    def with_item(self, templar: Templar, item: dict) -> Templar:
        """The same variables plus the loop variable (as the executor adds it for each item)."""
        return Templar(loader=self.loader, variables={**templar.available_variables, **item}) if item else templar

    def when_holds(self, templar: Templar, task, where: str) -> bool:
        try:
            return all(templar.evaluate_conditional(condition) for condition in task.when)
        except AnsibleError as error:
            # Needs a registered result (or another runtime value): assume the task runs.
            self.model.notes.add(f"{where}: `when` not renderable without a run ({type(error).__name__}),"
                                 " taken as true")
            return True

    def loop_items(self, templar: Templar, task, where: str) -> list[dict]:
        """The loop variable's values as {loop_var: item} dicts ([{}] for a task without a loop)."""
        if task.loop is None:
            return [{}]
        loop_var = task.loop_control.loop_var if task.loop_control else "item"
        try:
            items = templar.template(task.loop)
        except AnsibleError as error:
            self.model.notes.add(f"{where}: loop not renderable without a run ({type(error).__name__})")
            return [{loop_var: "<runtime item>"}]
        if task.loop_with in ("items", "flattened"):
            items = [leaf for item in items for leaf in (item if isinstance(item, list) else [item])]
        return [{loop_var: item} for item in items]

    def build(self) -> Model:
        model = self.model
        for index, (play, steps) in enumerate(zip(self.site.plays, self.site.steps)):
            hosts = self.inventory.get_hosts(play.hosts)
            model.plays.append((play.get_name(), [h.name for h in hosts]))
            for host in hosts:
                self.run_play_on_host(index, play, steps, host, first=host == hosts[0])
        return model

    def run_play_on_host(self, index, play, steps, host, first):
        """The play's tasks for one host, in order: includes gate their tasks, include_vars adds
        variables, writers, database users and role calls are recorded."""
        open_gates: dict[int, bool] = {}
        for step in steps:
            task = step.task
            if not all(open_gates.get(id(gate), False) for gate in step.gates):
                continue
            if task.run_once and not first:   # Ansible runs it for the play's first host only
                continue
            module = _module(task)
            is_include = isinstance(task, TaskInclude)
            hands_over = isinstance(task, IncludeRole) and bool(handovers(task))
            unvalidated = isinstance(task, IncludeRole) and not task.rolespec_validate
            logs_in = not is_include and (bool(_login_arguments(task)) or _environment_may_log_in(task)
                                          or _bootstrap_on_stdin(task))
            if not (is_include or logs_in or module in RECORDED_MODULES):
                continue
            if is_include and not task.when and not hands_over and not unvalidated:
                open_gates[id(task)] = True   # nothing to render (rendering is the model's cost)
                continue
            where = f"{play.get_name()} / {host.name} / {_role_name(task) or 'play'}: {task.name}"
            templar = self.templar(play, host, task)
            runs = self.when_holds(templar, task, where)
            if is_include:
                open_gates[id(task)] = runs
                if hands_over and runs:
                    self.record_include(index, host, task, templar, where)
                if unvalidated and runs:
                    self.record_call(index, host, task, templar, where)
            elif runs and module == INCLUDE_VARS:
                self.include_vars(host, task, templar)
            elif runs and module in FILE_WRITERS:
                self.record_writes(index, play, host, task, templar, where)
            elif runs and module == DATABASE_USER_MODULE:
                self.record_database_users(index, play, host, step, task, templar, where)
            if runs and logs_in:
                self.record_logins(index, host, task, templar, where)

    def include_vars(self, host, task, templar):
        # As the strategy does with include_vars results: host variables for the rest of the run.
        name = templar.template(task.args.get("_raw_params") or task.args["file"])
        base = task._role._role_path if task._role else self.loader.get_basedir()
        path = self.loader.path_dwim_relative(base, "vars", name, is_role=bool(task._role))
        for key, value in (self.loader.load_from_file(path, trusted_as_template=True) or {}).items():
            self.vm.set_host_variable(host.name, key, value)

    def record_include(self, index, host, task, templar, where):
        # Only the handed-over lists are rendered: rendering is what a model costs. (Rendering
        # keystone_identity's `users` inside keystone_register instead would cost seconds per call:
        # ansible.utils.remove_keys deep-copies every variable of the host.)
        raw = handovers(task)
        rendered = {}
        for name, kind in HANDOVER_LISTS.items():
            if kind in raw and name in task.vars:
                try:
                    rendered[kind] = _plain(templar.template(task.vars[name]))
                except AnsibleError as error:
                    self.model.notes.add(f"{where}: {name} not renderable ({error})")
        self.model.includes.append(Include(
            play=index, host=host.name, role=_role_name(task), included=task._role_name.split(".")[-1],
            tasks_from=(task._from_files or {}).get("tasks", "main.yml"), raw_vars=raw, vars=rendered))

    def record_call(self, index, host, task, templar, where):
        """What validate_argument_spec would say about this call on host: each option of the entry
        point's spec that the call's variables define, rendered, checked with Ansible's validator."""
        entry_point, options = argument_spec(task)
        errors = []
        if not options and entry_point != "main":
            errors.append(f"no argument spec for entry point {entry_point!r}")
        values = {}
        for name in options:
            if name in templar.available_variables:
                try:
                    values[name] = _plain(templar.template(templar.available_variables[name]))
                except AnsibleError as error:
                    errors.append(f"{name} not renderable: {error}")
        result = ArgumentSpecValidator(options).validate(values)
        errors += [str(error) for error in result.errors]
        self.model.calls.append(Call(play=index, host=host.name, role=_role_name(task),
                                     called=task._role_name.split(".")[-1], entry_point=entry_point,
                                     errors=sorted(set(errors))))

    def record_writes(self, index, play, host, task, templar, where):
        module = _module(task)
        for item in self.loop_items(templar, task, where):
            item_templar = self.with_item(templar, item)
            if item and not self.when_holds(item_templar, task, where):
                continue
            arg = next((name for name in FILE_WRITERS[module] if name in task.args), None)
            try:
                path = str(item_templar.template(task.args[arg])) if arg else FILE_WRITER_DEFAULT_PATHS[module]
            except AnsibleError as error:
                path = f"<not renderable: {task.args[arg]}>"
                self.model.notes.add(f"{where}: path not renderable ({type(error).__name__})")
            settings = None
            if "settings" in task.args:
                try:
                    settings = _plain(item_templar.template(task.args["settings"]))
                except AnsibleError as error:
                    self.model.notes.add(f"{where}: settings not renderable ({error})")
            elif module in KEY_VALUE_WRITERS:
                section, key, value = KEY_VALUE_WRITERS[module]
                try:
                    settings = {section: {str(item_templar.template(task.args[key])):
                                          _plain(item_templar.template(task.args.get(value)))}}
                except AnsibleError as error:
                    self.model.notes.add(f"{where}: {key}/{value} not renderable ({error})")
            target = str(item_templar.template(task.delegate_to)) if task.delegate_to else host.name
            self.model.writes.append(Write(
                play=index, play_name=play.get_name(), host=host.name, target=target, path=path,
                role=_role_name(task), task=str(task.name), module=module, settings=settings))
            # A file written from a loop item that names a user and its password (the rc files).
            for user, password in credentials(_plain(next(iter(item.values()))) if item else None):
                self.add_login(index, host, task, "loop item", False, user, password)

    def add_login(self, index, host, task, source, sets, user, password):
        login = Login(play=index, host=host.name, role=_role_name(task), task=str(task.name), source=source,
                      sets=sets, user=str(user), password=_plain(password))
        if login not in self.model.logins:
            self.model.logins.append(login)

    def record_logins(self, index, host, task, templar, where):
        """The keystone users and passwords of the task's LOGIN_ARGUMENTS, of its environment and of
        the stdin of keystone-manage bootstrap."""
        for name in _login_arguments(task):
            try:
                value = _plain(templar.template(task.args[name]))
            except AnsibleError as error:
                self.model.notes.add(f"{where}: {name} not renderable ({type(error).__name__})")
                continue
            found = file_credentials(value) if name == "content" else credentials(value)
            for user, password in found:
                self.add_login(index, host, task, name, name in SETTING_ARGUMENTS, user, password)
        environment = {}
        if _environment_may_log_in(task):
            try:
                for part in _plain(templar.template(task.environment)):
                    environment.update(part if isinstance(part, dict) else {})
            except AnsibleError as error:
                self.model.notes.add(f"{where}: environment not renderable ({type(error).__name__})")
                return
            for user, password in credentials(environment):
                self.add_login(index, host, task, "environment", False, user, password)
        if "OS_BOOTSTRAP_PASSWORD" in environment or _bootstrap_on_stdin(task):
            try:
                args = _plain(templar.template(task.args))
            except AnsibleError as error:
                self.model.notes.add(f"{where}: arguments not renderable ({type(error).__name__})")
                return
            source = "stdin" if args.get("stdin") is not None else "environment"
            for user, password in bootstrap_credentials(args, environment):
                self.add_login(index, host, task, source, True, user, password)

    def record_database_users(self, index, play, host, step, task, templar, where):
        # mysql_user loops over the databases: one user (and its password) per item.
        for item in self.loop_items(templar, task, where):
            item_templar = self.with_item(templar, item)
            try:
                name = item_templar.template(task.args["name"])
                password = item_templar.template(task.args.get("password"))
            except AnsibleError as error:
                self.model.notes.add(f"{where}: database user not renderable ({error})")
                continue
            self.model.database_users.append(DatabaseUser(
                play=index, play_name=play.get_name(), host=host.name, role=step.owner,
                name=str(name), password=_plain(password)))


def handover_password_variables(key: str = "password") -> dict[str, list[str]]:
    """{list: the variables named as `key` (password, name) in its items}, over every role call of
    site.yml.

    E.g. {'mariadb_databases': ['glance_database_password', ...]}. From the tasks and role data as
    written (no inventory needed), so a model can be built with these variables overridden."""
    found: dict[str, list[str]] = {kind: [] for kind in sorted(set(HANDOVER_LISTS.values()))}
    for steps in _site().steps:
        for step in steps:
            if not isinstance(step.task, IncludeRole):
                continue
            for kind, items in handovers(step.task).items():
                for item in items:
                    variable = variable_of(item.get(key)) if isinstance(item, dict) else None
                    if variable and variable not in found[kind]:
                        found[kind].append(variable)
    return found


def main(output: str) -> None:
    """Every model the tests read: each inventory as it is, and with every handed-over password
    variable and every secret's owner (the role default that reads vault_<secret>) set by `-e`
    (override-<variable>), as an operator setting each of them in the inventory would."""
    variables = handover_password_variables()
    owners = {name: owner for name in secret_names() if (owner := secret_owner(name))}
    # The user names too: the service users' names roles hand to keystone_register and the shared
    # identities' (openstack_admin_user, ...), so a place that names a user another way shows.
    users = list(dict.fromkeys(handover_password_variables("name")[KEYSTONE_REGISTER_USERS] + shared_user_variables()))
    overridden_names = [name for names in variables.values() for name in names] + list(owners.values()) + users
    overrides = {name: f"override-{name}" for name in overridden_names}
    result = {"handover_variables": variables, "secret_owners": owners, "user_variables": users,
              "overrides": overrides, "models": {}}
    for inventory in INVENTORIES:
        for label, extra_vars in (("as is", {}), ("overridden", overrides)):
            result["models"][f"{inventory} {label}"] = asdict(_Builder(inventory, extra_vars).build())
    Path(output).write_text(json.dumps(result, default=sorted))


if __name__ == "__main__":
    main(sys.argv[1])
