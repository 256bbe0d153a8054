"""What playbooks/site.yml would write and register on each host, computed without a lab (issue 20).

A Model holds, for one inventory (INVENTORIES: the lab's, and an all-in-one host), what each task of
site.yml does on each host the play's pattern matches, rendered with Ansible's own variables for that
task on that host and nothing run:

- the files a task writes (openstack_config, template, copy, ini_file, lineinfile, sysctl) and, for
  openstack_config, the settings map it writes, for sysctl the kernel parameter as a one-option map
  (Model.writes, in run order);
- the database users a task creates and their passwords (mysql_user: Model.database_users);
- the include_role and import_role calls that hand a list of {name, password} to another role (the
  service users for keystone_register, the databases for the mariadb role, through the internal
  role cloudlab.openstack.service), with those lists as written and rendered (Model.includes);
- the calls of a role's entry point that skip Ansible's argument validation (rolespec_validate:
  false, the service roles' calls of cloudlab.openstack.service), validated here instead against the
  entry point's meta/argument_specs.yml with the values rendered for the host (Model.calls).
- the keystone users and passwords a task uses outside the files it writes (Model.logins): the
  `auth` of our keystone modules, the OpenStack client's clouds.yaml (the content a copy task writes)
  or OS_* environment, the admin token request, the users keystone-manage bootstrap (its password
  on stdin or in OS_BOOTSTRAP_PASSWORD) and the keystone role's keystone_identity task set, the
  users of the rc files (LOGIN_ARGUMENTS).

What only a run knows is faked: facts, the secrets (vault_<name> of the secrets role is
'secret-<name>'), registered results (a `when` or a loop that needs one is taken as true, or as one
placeholder item, and noted in Model.notes).

The models are built by service_model_ansible.py in a process of its own (load_models); the rest
of this module reads them, and the roles' sources (secret_readers), without Ansible.
Point CLOUDLAB_ROOT at another checkout to model it instead of the one holding this file.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("CLOUDLAB_ROOT") or HERE.parents[1]).resolve()
SITE = ROOT / "playbooks" / "site.yml"
INVENTORIES = {
    "lab": ROOT / "inventory" / "lab" / "hosts.yml",
    # One host in every group of the lab's table: every service on one node.
    "aio": HERE / "fixtures" / "inventory_aio" / "hosts.yml",
}

# Modules that write a file on the node, and the argument naming that file (then its aliases).
FILE_WRITERS = {
    "cloudlab.openstack.openstack_config": ("path",),
    "ansible.builtin.template": ("dest",),
    "ansible.builtin.copy": ("dest",),
    "community.general.ini_file": ("path", "dest"),
    "ansible.builtin.lineinfile": ("path", "dest", "destfile", "name"),
    "ansible.builtin.blockinfile": ("path", "dest", "destfile", "name"),
    "ansible.posix.sysctl": ("sysctl_file",),
}
# Writers whose file is optional in the task: the module's own default.
FILE_WRITER_DEFAULT_PATHS = {"ansible.posix.sysctl": "/etc/sysctl.conf"}
# Writers of one `key = value` line per call: recorded as settings {section: {key: value}}, so the
# tests see two writes of one file that set the same key to different values.
KEY_VALUE_WRITERS = {"ansible.posix.sysctl": ("sysctl", "name", "value")}
# The database user a task creates, with its password (community.mysql.mysql_user's name, password).
DATABASE_USER_MODULE = "community.mysql.mysql_user"
# The service users a role registers: the list it hands to keystone_register, through
# cloudlab.openstack.service (tasks_from: register, service_keystone_users) or directly.
KEYSTONE_REGISTER_USERS = "keystone_register_users"
# The databases a role has the mariadb role create (tasks_from: database), through
# cloudlab.openstack.service (tasks_from: database, service_databases) or directly.
MARIADB_DATABASES = "mariadb_databases"
# The `vars:` of an include_role or import_role that hand over a list of {name, password}, and which
# of the two lists above each is. A value that names one variable of the calling role's vars or
# defaults (service_databases: "{{ __glance_databases }}") hands over that variable's items.
HANDOVER_LISTS = {
    KEYSTONE_REGISTER_USERS: KEYSTONE_REGISTER_USERS,
    "service_keystone_users": KEYSTONE_REGISTER_USERS,
    MARIADB_DATABASES: MARIADB_DATABASES,
    "service_databases": MARIADB_DATABASES,
}
INCLUDE_VARS = "ansible.builtin.include_vars"
RECORDED_MODULES = {INCLUDE_VARS, DATABASE_USER_MODULE, *FILE_WRITERS}
# The module arguments that carry a keystone user and its password (Model.logins), with the modules
# they are read for ('*': any): the auth of our keystone modules, the token request keystone's
# login probe sends, the users keystone_identity sets, a file's YAML content (the OpenStack
# client's clouds.yaml). The users of keystone_register's own keystone_identity task are not read
# here: they are the lists the roles hand over (Model.includes), and rendering them inside the role
# costs seconds per call (see record_include).
LOGIN_ARGUMENTS = {
    "auth": "*",
    "body": "ansible.builtin.uri",
    "users": "cloudlab.openstack.keystone_identity",
    "content": "ansible.builtin.copy",
}
# Arguments that set the passwords they carry (the others log in with them).
SETTING_ARGUMENTS = {"users"}
KEYSTONE_REGISTER = "keystone_register"
# A mapping that names a keystone user and its password, in module arguments, the environment of the
# OpenStack client, or a loop item of a file (the keystone role's rc files): its keys.
USER_KEYS = ("username", "name", "OS_USERNAME")
PASSWORD_KEYS = ("password", "OS_PASSWORD")


def secret_names(root: Path = ROOT) -> list[str]:
    """The secrets role's names: each becomes the variable vault_<name>."""
    defaults = yaml.safe_load((root / "roles" / "secrets" / "defaults" / "main.yml").read_text())
    return list(dict.fromkeys(defaults["secrets_names"] + (defaults.get("secrets_extra_names") or [])))


def fake_secrets() -> dict[str, str]:
    """A distinct, recognisable value per secret, as the secrets role's set_fact would load them."""
    return {f"vault_{name}": f"secret-{name}" for name in secret_names()}


# ---- the model ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Write:
    """One task writing one file for one host of a play."""
    play: int          # position of the play in site.yml
    play_name: str
    host: str          # the host the task runs for
    target: str        # the host the file is on (delegate_to, else host)
    path: str
    role: str
    task: str
    module: str
    settings: Any = None   # openstack_config: the rendered settings map (None: not rendered)

    @property
    def writer(self) -> str:
        return f"{self.role}: {self.task}"


@dataclass(frozen=True)
class DatabaseUser:
    """A database user a task creates (mysql_user), with the password it sets."""
    play: int
    play_name: str
    host: str
    role: str          # the role of the play that runs the task (the mariadb role's for its own list)
    name: str
    password: Any


@dataclass(frozen=True)
class Include:
    """An include_role or import_role that hands a HANDOVER_LISTS list to another role."""
    play: int
    host: str
    role: str          # the including role ('' for a play's own tasks)
    included: str      # short name of the included role
    tasks_from: str
    raw_vars: dict     # {KEYSTONE_REGISTER_USERS or MARIADB_DATABASES: the items as written}
    vars: dict         # the same lists, rendered for host


@dataclass(frozen=True)
class Call:
    """A call of a role's entry point without Ansible's argument validation, validated here."""
    play: int
    host: str
    role: str          # the calling role ('' for a play's own tasks)
    called: str        # short name of the called role
    entry_point: str
    errors: list       # what the entry point's argument spec refuses (empty: valid)


@dataclass(frozen=True)
class Login:
    """A keystone user and its password as one task uses them for one host of a play: it sets the
    password (`sets`: keystone-manage bootstrap, keystone_identity's users) or logs in with it."""
    play: int
    host: str
    role: str
    task: str
    source: str        # where the task has it: an argument (auth, body, users), environment, loop item
    sets: bool
    user: str
    password: Any

    @property
    def user_of(self) -> str:
        return f"{self.role}: {self.task} ({self.source})"


@dataclass
class Model:
    """What site.yml does on one inventory, with `extra_vars` as `-e`."""
    inventory_name: str
    extra_vars: dict
    plays: list[tuple[str, list[str]]] = field(default_factory=list)   # (name, hosts) in run order
    writes: list[Write] = field(default_factory=list)
    database_users: list[DatabaseUser] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    logins: list[Login] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    notes: set[str] = field(default_factory=set)   # what could not be rendered without a run

    @classmethod
    def from_json(cls, data: dict) -> Model:
        return cls(inventory_name=data["inventory_name"], extra_vars=data["extra_vars"],
                   plays=[tuple(play) for play in data["plays"]],
                   writes=[Write(**write) for write in data["writes"]],
                   database_users=[DatabaseUser(**user) for user in data["database_users"]],
                   includes=[Include(**include) for include in data["includes"]],
                   logins=[Login(**login) for login in data["logins"]],
                   calls=[Call(**call) for call in data["calls"]],
                   notes=set(data["notes"]))


@dataclass(frozen=True)
class Models:
    """Every model the tests read, built in one run of service_model_ansible.py."""
    handover_variables: dict   # {handover list: the variables roles name as its items' password}
    secret_owners: dict        # {secret: the role default that reads vault_<secret>} (secret_owner)
    user_variables: list       # the keystone user names overridden too (service users, shared identities)
    overrides: dict            # `-e` value of each of those variables: override-<variable>
    as_is: dict                # {inventory: Model}
    overridden: dict           # {inventory: Model with `overrides` as extra vars}


def run_ansible_script(script: str, *arguments: str) -> Any:
    """`python tests/unit/SCRIPT OUTPUT.json ARGUMENTS...` in a process of its own, for this checkout,
    and the JSON it wrote: Ansible's collection loader and configuration are process-wide, and this
    pytest process has imported ansible_collections already."""
    environment = dict(os.environ, CLOUDLAB_ROOT=str(ROOT), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                       ANSIBLE_CACHE_PLUGIN="memory", PYTHONDONTWRITEBYTECODE="1")
    with tempfile.TemporaryDirectory(prefix="cloudlab-service-model-") as scratch:
        output = Path(scratch) / "output.json"
        run = subprocess.run([sys.executable, str(HERE / script), str(output), *arguments],
                             env=environment, cwd=scratch, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise RuntimeError(f"{script} failed ({run.returncode}):\n{run.stderr[-6000:]}")
        return json.loads(output.read_text())


@cache
def load_models() -> Models:
    """Builds the models with service_model_ansible.py (run_ansible_script)."""
    data = run_ansible_script("service_model_ansible.py")
    models = {name: Model.from_json(model) for name, model in data["models"].items()}
    return Models(handover_variables=data["handover_variables"], secret_owners=data["secret_owners"],
                  user_variables=data["user_variables"], overrides=data["overrides"],
                  as_is={name: models[f"{name} as is"] for name in INVENTORIES},
                  overridden={name: models[f"{name} overridden"] for name in INVENTORIES})


# ---- reading the model ----------------------------------------------------------------------------------

_SIMPLE_VARIABLE = re.compile(r"^\s*\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}\s*$")


def variable_of(expression: Any) -> str | None:
    """'glance_database_password' for "{{ glance_database_password }}", None for anything else."""
    match = _SIMPLE_VARIABLE.match(expression) if isinstance(expression, str) else None
    return match.group(1) if match else None


def password_handovers(model: Model, list_var: str) -> Iterator[tuple[Include, dict, dict]]:
    """The {name, password} items roles hand over as `list_var` (KEYSTONE_REGISTER_USERS,
    MARIADB_DATABASES) in their calls' `vars:`: (include, raw item, item rendered for its host)."""
    for include in model.includes:
        raw_items = include.raw_vars.get(list_var)
        rendered_items = include.vars.get(list_var) or []
        if isinstance(raw_items, list):
            for raw, rendered in zip(raw_items, rendered_items):
                if isinstance(raw, dict) and "password" in raw:
                    yield include, raw, rendered


def credentials(value: Any) -> Iterator[tuple[str, Any]]:
    """(user, password) of every mapping in `value`, at any depth, that names both (USER_KEYS,
    PASSWORD_KEYS): an auth dict, a users list, the OS_* environment, a token request's user."""
    if isinstance(value, dict):
        user = next((value[key] for key in USER_KEYS if key in value), None)
        password = next((value[key] for key in PASSWORD_KEYS if key in value), None)
        if isinstance(user, str) and password is not None and not isinstance(password, (dict, list)):
            yield user, password
        for item in value.values():
            yield from credentials(item)
    elif isinstance(value, list):
        for item in value:
            yield from credentials(item)


def bootstrap_credentials(args: dict, environment: dict) -> Iterator[tuple[str, Any]]:
    """The admin keystone-manage bootstrap sets, for a command whose argv holds `bootstrap`: the
    password on its standard input (the keystone role's files/keystone_bootstrap.py, issue 23) or in
    OS_BOOTSTRAP_PASSWORD of its environment, for the --bootstrap-username of its argv
    (keystone-manage's default: admin)."""
    argv = [str(word) for word in args.get("argv") or str(args.get("_raw_params") or args.get("cmd") or "").split()]
    if "bootstrap" not in argv:
        return
    if args.get("stdin") is not None:
        password = args["stdin"]
    elif "OS_BOOTSTRAP_PASSWORD" in environment:
        password = environment["OS_BOOTSTRAP_PASSWORD"]
    else:
        return
    user = argv[argv.index("--bootstrap-username") + 1] if "--bootstrap-username" in argv[:-1] else "admin"
    yield user, password


def file_credentials(content: Any) -> Iterator[tuple[str, Any]]:
    """credentials() of a file's content written as YAML or JSON (a clouds.yaml); none of any other."""
    if isinstance(content, str):
        try:
            content = yaml.safe_load(content)
        except yaml.YAMLError:
            return
    yield from credentials(content if isinstance(content, (dict, list)) else None)


def merge_settings(maps: list[dict]) -> dict:
    """openstack_config applied in order: a value sets the option, null removes it."""
    result: dict = {}
    for settings in maps:
        for section, options in (settings or {}).items():
            current = result.setdefault(section, {})
            for option, value in (options or {}).items():
                if value is None:
                    current.pop(option, None)
                else:
                    current[option] = value
    return result


# ---- secrets read directly ------------------------------------------------------------------------------

def _task_list_readers(tasks, pattern, label) -> Iterator[str]:
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        own = {key: value for key, value in task.items() if key not in ("block", "rescue", "always")}
        if pattern.search(json.dumps(own, default=str)):
            yield f"{label}: {task.get('name', '(unnamed task)')}"
        for part in ("block", "rescue", "always"):
            yield from _task_list_readers(task.get(part), pattern, label)


@cache
def _sources(root: Path) -> tuple:
    """(relative path, kind, parsed YAML or template text) of every role and playbook file that can
    read a variable: defaults, vars, tasks, handlers, templates, playbooks."""
    found = []
    for path in sorted((root / "roles").glob("*/*/*")) + sorted((root / "playbooks").glob("*.yml")):
        kind = "playbooks" if path.parent == root / "playbooks" else path.parent.name
        if not path.is_file() or kind not in ("defaults", "vars", "tasks", "handlers", "templates", "playbooks"):
            continue
        if kind == "templates":   # Jinja comments do not read anything
            content = re.sub(r"\{#.*?#\}", "", path.read_text(errors="replace"), flags=re.DOTALL)
        else:                     # YAML comments are dropped by parsing
            content = yaml.safe_load(path.read_text())
        found.append((path.relative_to(root).as_posix(), kind, content))
    return tuple(found)


def shared_user_variables(root: Path = ROOT) -> list[str]:
    """The keystone user names cloudlab.openstack.openstack defines for several roles
    (openstack_admin_user, openstack_demo_user, openstack_<service>_keystone_user)."""
    defaults = yaml.safe_load((root / "roles" / "openstack" / "defaults" / "main.yml").read_text()) or {}
    return [name for name in defaults if re.fullmatch(r"openstack_(admin|demo|\w+_keystone)_user", name)]


def secret_owner(name: str, root: Path = ROOT) -> str | None:
    """The variable that owns vault_<name>: the one role default reading it (None when there is
    none, or more than one: test_each_secret_is_read_by_one_variable says which)."""
    owners = [reader for reader in secret_readers(name, root) if "/defaults/" in reader]
    return owners[0].rpartition(": ")[2] if len(owners) == 1 else None


def secret_readers(name: str, root: Path = ROOT) -> list[str]:
    """Every place of the roles and playbooks that reads vault_<name> by that name: one entry per
    variable of defaults and vars ('roles/x/defaults/main.yml: x_password'), per task of tasks,
    handlers and playbooks, per template file."""
    pattern = re.compile(rf"\bvault_{re.escape(name)}\b")
    readers: list[str] = []
    for relative, kind, content in _sources(root):
        if kind == "templates":
            readers += [relative] if pattern.search(content) else []
        elif kind in ("defaults", "vars") and isinstance(content, dict):
            readers += [f"{relative}: {key}" for key, value in content.items()
                        if pattern.search(json.dumps(value, default=str))]
        elif kind == "playbooks":
            for play in content or []:
                sections = ("pre_tasks", "tasks", "post_tasks", "handlers")
                if pattern.search(json.dumps({k: v for k, v in play.items() if k not in sections}, default=str)):
                    readers.append(f"{relative}: {play.get('name', '(unnamed play)')}")
                for section in sections:
                    readers += _task_list_readers(play.get(section), pattern, relative)
        elif isinstance(content, list):
            readers += _task_list_readers(content, pattern, relative)
    return readers
