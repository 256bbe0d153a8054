"""Issue 23: no secret on a command line or in a process environment during a run.

Ansible hands a task's `environment:` to the node inside the command line of the shell that starts the
module (`/bin/sh -c 'OS_PASSWORD=... /usr/bin/python3 ...'`, shown by `ps` to every user and printed
by `-vvv`, no_log or not), and a command's arguments are in /proc/<pid>/cmdline for everyone to read.
A secret goes to a program another way: on its standard input (the command module's `stdin`, which
travels inside the module's arguments), in a root-only file, or through a module that talks to the
service itself.

Read from the roles' and playbooks' YAML, nothing rendered. A *secret* is a variable `vault_<name>`
(the secrets role's names, and any other `vault_` variable) and, by closure, any variable whose
definition (role defaults and vars, the inventories' group_vars, a play's, block's or task's `vars:`,
set_fact) templates a secret, and any key of a mapping whose value does (`password` of
rabbitmq_users, `OS_PASSWORD` of an environment). Found:

- a task, block or play whose `environment:` templates a secret;
- a command (command, shell, raw, script, expect) whose arguments other than `stdin` template one:
  its argv, its free-form command line, chdir, creates...;
- a module that puts one of its own parameters on a command line it runs (MODULES_WITH_ARGV_PARAMETERS),
  given a secret in that parameter;
- a command that gets a secret on `stdin` without no_log: its arguments, stdin included, are printed
  with -v.

Nothing is allowed through by name. Point CLOUDLAB_ROOT at another checkout to check that one.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("CLOUDLAB_ROOT") or HERE.parents[1]).resolve()

# Modules that run their whole argument list as a command line (the command module's `stdin` goes to
# the program's standard input instead, and expect's `responses` to its terminal).
COMMAND_MODULES = {"command", "shell", "raw", "script", "expect"}
NOT_ON_THE_COMMAND_LINE = {"stdin", "stdin_add_newline", "responses", "strip_empty_ends"}
# Modules that pass a parameter of theirs to a program as an argument.
MODULES_WITH_ARGV_PARAMETERS = {
    # `rabbitmqctl add_user <user> <password>`, `change_password` and `authenticate_user` alike
    # (community.rabbitmq's RabbitMqUser.add, change_password, check_password).
    "community.rabbitmq.rabbitmq_user": {"password"},
}
# Task keywords whose values are not module arguments (the module is the one other key).
TASK_KEYWORDS = {
    "name", "when", "tags", "register", "loop", "loop_control", "vars", "environment", "no_log",
    "become", "become_user", "become_method", "become_flags", "delegate_to", "delegate_facts",
    "run_once", "changed_when", "failed_when", "until", "retries", "delay", "check_mode", "diff",
    "ignore_errors", "ignore_unreachable", "notify", "listen", "args", "async", "poll", "throttle",
    "any_errors_fatal", "timeout", "module_defaults", "collections", "connection", "debugger",
    "local_action", "action",
}
BLOCK_KEYS = ("block", "rescue", "always")
PLAY_TASK_KEYS = ("pre_tasks", "tasks", "post_tasks", "handlers")

_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STRING = re.compile(r"'[^']*'|\"[^\"]*\"")
# A variable filtered down to one key of its items: `users | selectattr('x', 'defined') | map(attribute='name')`.
_PROJECTION = re.compile(r"\b[A-Za-z_]\w*(\s*\|\s*(select|reject|selectattr|rejectattr|unique|list|sort|flatten)\b"
                         r"(\([^()]*\))?)*\s*\|\s*map\(\s*attribute\s*=\s*['\"](?P<key>\w+)['\"]\s*\)")


class _Loader(yaml.SafeLoader):
    """safe_load that reads Ansible's tags (!unsafe, !vault) as the plain value they tag."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None))


def load(path: Path):
    return yaml.load(path.read_text(), Loader=_Loader)   # noqa: S506  (a SafeLoader)


def templates(value) -> Iterator[str]:
    """The Jinja expressions and statements in `value`, at any depth (keys included)."""
    if isinstance(value, str):
        yield from _TEMPLATE.findall(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from templates(key)
            yield from templates(item)
    elif isinstance(value, list):
        for item in value:
            yield from templates(item)


def words(value) -> set[str]:
    """Every identifier in the templates of `value`: variables, attributes, string literals' words."""
    return {word for expression in templates(value) for word in _WORD.findall(expression)}


# ---- where variables are defined --------------------------------------------------------------------

def secret_names(root: Path = ROOT) -> list[str]:
    defaults = load(root / "roles" / "secrets" / "defaults" / "main.yml")
    return list(dict.fromkeys(defaults["secrets_names"] + (defaults.get("secrets_extra_names") or [])))


def task_files(root: Path = ROOT) -> list[Path]:
    """The task lists of roles/ and playbooks/ (a YAML list at the top: tasks, handlers, plays)."""
    found = []
    for pattern in ("roles/*/tasks/**/*.yml", "roles/*/handlers/**/*.yml", "playbooks/**/*.yml"):
        for path in sorted(root.glob(pattern)):
            if isinstance(load(path), list):
                found.append(path)
    return found


def variable_files(root: Path = ROOT) -> list[Path]:
    """Files of variables: role defaults and vars, the inventories' group and host variables, a
    playbook directory's vars files (a YAML mapping at the top)."""
    found = []
    for pattern in ("roles/*/defaults/**/*.yml", "roles/*/vars/**/*.yml", "inventory/**/*_vars/**/*.yml",
                    "inventory/**/*_vars/*.yml", "playbooks/**/*.yml"):
        for path in sorted(root.glob(pattern)):
            if path not in found and isinstance(load(path), dict):
                found.append(path)
    return found


def nodes(value, no_log=False) -> Iterator[tuple[dict, bool]]:
    """(play, block or task, whether no_log is set on it or around it) of a task file or playbook."""
    if isinstance(value, list):
        for item in value:
            yield from nodes(item, no_log)
    elif isinstance(value, dict):
        no_log = bool(value.get("no_log", no_log)) and value.get("no_log", no_log) is not False
        yield value, no_log
        for key in BLOCK_KEYS + PLAY_TASK_KEYS:
            if isinstance(value.get(key), list):
                yield from nodes(value[key], no_log)


def definitions(root: Path = ROOT) -> Iterator[tuple[str, object]]:
    """(variable, its value) of every definition the files hold."""
    for path in variable_files(root):
        yield from (load(path) or {}).items()
    for path in task_files(root):
        for node, _ in nodes(load(path)):
            if isinstance(node.get("vars"), dict):
                yield from node["vars"].items()
            for role in node.get("roles") or []:     # a play's roles: their parameters and vars
                if isinstance(role, dict):
                    yield from ((key, value) for key, value in role.items()
                                if key not in ("role", "name", "tags", "when", "vars"))
                    yield from (role.get("vars") or {}).items()
            for fact_module in ("ansible.builtin.set_fact", "set_fact"):
                if isinstance(node.get(fact_module), dict):
                    yield from node[fact_module].items()


def keyed_values(value) -> Iterator[tuple[str, object]]:
    """(key, value) of every mapping entry in `value` whose value is no mapping or list, at any depth:
    the keys that name a secret itself (password), not those of a mapping around it (auth, user)."""
    if isinstance(value, dict):
        for item_key, item in value.items():
            if not isinstance(item, (dict, list)):
                yield str(item_key), item
            yield from keyed_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from keyed_values(item)


@cache
def secrets(root: Path = ROOT) -> tuple[frozenset[str], frozenset[str]]:
    """(the secret variables, the secret keys): the vault_ variables and, to a fixed point, what
    templates them."""
    defined = list(definitions(root))
    variables = {f"vault_{name}" for name in secret_names(root)}
    variables |= {name for name, _ in defined if name.startswith("vault_")}
    keys: set[str] = set()
    while True:
        before = (len(variables), len(keys))
        for name, value in defined:
            if references(value, variables, keys):
                variables.add(name)
            for key, item in keyed_values(value):
                if references(item, variables, keys):
                    keys.add(key)
        if (len(variables), len(keys)) == before:
            return frozenset(variables), frozenset(keys)


def references(value, variables, keys, loop_var: str | None = None) -> set[str]:
    """What in the templates of `value` reads a secret: a secret variable (by name, also as a string:
    hostvars[...]['vault_x'], lookup('vars', 'vault_' ~ name)) unless only a key of it that holds
    no secret is taken (`users | map(attribute='name')`), a secret key of a mapping (.key, ['key'],
    attribute='key'), the whole loop item of a loop over secrets."""
    found = set()
    for expression in templates(value):
        code = _STRING.sub("''", expression)     # .key and the loop item outside string literals
        unprojected = _PROJECTION.sub(lambda match: match[0] if match["key"] in keys else "", expression)
        for word in _WORD.findall(unprojected):
            if word in variables or word.startswith("vault_"):
                found.add(word)
        for key in keys:
            if (re.search(rf"\.{re.escape(key)}\b", code)
                    or re.search(rf"[\w)\]]\s*\[\s*['\"]{re.escape(key)}['\"]\s*\]|attribute\s*=\s*['\"]{re.escape(key)}['\"]",
                                 expression)):
                found.add(f".{key}")
        if loop_var and re.search(rf"\b{re.escape(loop_var)}\b(?!\s*(\.|\[))", code):
            found.add(loop_var)
    return found


# ---- what a task puts on a command line -------------------------------------------------------------

def modules_of(task: dict) -> list[tuple[str, object]]:
    """(a module's name as written, its arguments) of a task: the one key that is no task keyword, or
    each of them when there are several (a keyword missing from TASK_KEYWORDS is checked as a module
    rather than skipped), or `action`/`local_action`; none for a play or block."""
    if any(key in task for key in BLOCK_KEYS + PLAY_TASK_KEYS + ("hosts", "import_playbook")):
        return []
    found = [(key, task[key]) for key in task if key not in TASK_KEYWORDS and not key.startswith("with_")]
    for keyword in ("action", "local_action"):
        action = task.get(keyword)
        if isinstance(action, dict) and "module" in action:
            found.append((str(action["module"]), {k: v for k, v in action.items() if k != "module"}))
        elif isinstance(action, str) and action.split():
            found.append((action.split()[0], action.split(None, 1)[1] if len(action.split()) > 1 else ""))
    return found


def short(module: str) -> str:
    return module.rsplit(".", 1)[-1] if module.startswith(("ansible.builtin.", "ansible.legacy.")) else module


def loop_var(task: dict, variables, keys) -> str | None:
    """The loop variable when the task loops over something that templates a secret."""
    loops = [task[key] for key in task if key == "loop" or key.startswith("with_")]
    if any(references(value, variables, keys) for value in loops):
        return (task.get("loop_control") or {}).get("loop_var", "item")
    return None


def findings(root: Path = ROOT) -> list[str]:
    variables, keys = secrets(root)
    found = []
    for path in task_files(root):
        for node, no_log in nodes(load(path)):
            where = f"{path.relative_to(root)}: {node.get('name') or node.get('hosts') or '(unnamed)'}"
            item = loop_var(node, variables, keys)
            if "environment" in node:
                read = references(node["environment"], variables, keys, item)
                if read:
                    found.append(f"{where}: environment templates {', '.join(sorted(read))}")
            for module, args in modules_of(node):
                args = dict(args) if isinstance(args, dict) else {"_raw_params": args}
                if isinstance(node.get("args"), dict):
                    args.update(node["args"])
                if short(module) in COMMAND_MODULES:
                    on_line = {name: value for name, value in args.items() if name not in NOT_ON_THE_COMMAND_LINE}
                    read = references(on_line, variables, keys, item)
                    if read:
                        found.append(f"{where}: command line templates {', '.join(sorted(read))}")
                    if references(args.get("stdin"), variables, keys, item) and not no_log:
                        found.append(f"{where}: a secret on stdin without no_log (-v prints the module's arguments)")
                for parameter in MODULES_WITH_ARGV_PARAMETERS.get(module, ()):
                    read = references({parameter: args.get(parameter)}, variables, keys, item)
                    if read:
                        found.append(f"{where}: {module} puts {parameter} on a command line"
                                     f" ({', '.join(sorted(read))})")
    return found


# ---- the tests ---------------------------------------------------------------------------------------

def test_the_files_are_found():
    assert len(task_files()) > 50
    variables, keys = secrets()
    # the closure reaches the variables the roles read: a role default that owns a secret, a role
    # variable built from it, a mapping's key
    assert {"vault_admin_pass", "openstack_admin_password", "keystone_database_connection"} <= variables
    assert {"password"} <= keys


def test_no_secret_on_a_command_line_or_in_an_environment():
    found = findings()
    assert not found, ("a secret on a command line or in a process environment (issue 23; pass it on "
                       "stdin with no_log, in a root-only file, or through a module):\n" + "\n".join(found))


# ---- the checker itself, on small trees -------------------------------------------------------------

def tree(tmp_path, tasks, defaults=None):
    (tmp_path / "roles" / "secrets" / "defaults").mkdir(parents=True)
    (tmp_path / "roles" / "secrets" / "defaults" / "main.yml").write_text(
        yaml.safe_dump({"secrets_names": ["admin_pass", "rabbit_pass"]}))
    (tmp_path / "roles" / "r" / "tasks").mkdir(parents=True)
    (tmp_path / "roles" / "r" / "defaults").mkdir(parents=True)
    (tmp_path / "roles" / "r" / "defaults" / "main.yml").write_text(yaml.safe_dump(defaults or {"x": 1}))
    (tmp_path / "roles" / "r" / "tasks" / "main.yml").write_text(yaml.safe_dump(tasks, sort_keys=False))
    secrets.cache_clear()
    return tmp_path


DEFAULTS = {
    "admin_password": "{{ vault_admin_pass }}",
    "admin_env": {"OS_USERNAME": "admin", "OS_PASSWORD": "{{ admin_password }}"},
    "users": [{"user": "openstack", "password": "{{ vault_rabbit_pass }}"}],
    "plain": "{{ inventory_hostname }}",
}


@pytest.mark.parametrize("task, what", [
    ({"name": "t", "ansible.builtin.command": {"argv": ["tool", "{{ admin_password }}"]}}, "command line"),
    ({"name": "t", "ansible.builtin.command": "tool --password {{ vault_admin_pass }}"}, "command line"),
    ({"name": "t", "ansible.builtin.shell": {"cmd": "tool {{ hostvars[h]['vault_rabbit_pass'] }}"}}, "command line"),
    ({"name": "t", "ansible.builtin.command": {"argv": ["tool"]}, "environment": "{{ admin_env }}"}, "environment"),
    ({"name": "t", "ansible.builtin.command": {"argv": ["tool"]},
      "environment": {"X": "{{ admin_env.OS_PASSWORD }}"}}, "environment"),
    ({"name": "b", "environment": {"P": "{{ admin_password }}"}, "block": [{"name": "t", "ansible.builtin.ping": {}}]},
     "environment"),
    ({"name": "t", "ansible.builtin.command": {"argv": ["add", "{{ item.user }}", "{{ item.password }}"]},
      "loop": "{{ users }}"}, "command line"),
    ({"name": "t", "ansible.builtin.command": {"argv": ["add", "{{ item }}"]}, "loop": "{{ users }}"}, "command line"),
    ({"name": "t", "ansible.builtin.command": {"argv": ["add", "{{ x }}"]}, "vars": {"x": "{{ vault_admin_pass }}"}},
     "command line"),
    ({"name": "t", "ansible.builtin.command": {"argv": ["add", "{{ users | map(attribute='password') | first }}"]}},
     "command line"),
    ({"name": "t", "ansible.builtin.command": {"argv": ["add", "{{ lookup('vars', 'vault_' ~ name) }}"]}},
     "command line"),
    ({"name": "p", "hosts": "all", "environment": {"P": "{{ admin_password }}"}, "tasks": []}, "environment"),
    ({"name": "t", "action": {"module": "ansible.builtin.command", "argv": ["x", "{{ admin_password }}"]}},
     "command line"),
    ({"name": "t", "local_action": "ansible.builtin.shell tool {{ admin_password }}"}, "command line"),
    ({"name": "t", "ansible.builtin.shell": "tool {{ admin_password }}", "some_new_keyword": True}, "command line"),
    ({"name": "t", "community.rabbitmq.rabbitmq_user": {"user": "{{ item.user }}", "password": "{{ item.password }}"},
      "loop": "{{ users }}"}, "rabbitmq_user puts password on a command line"),
    ({"name": "t", "ansible.builtin.command": {"argv": ["add", "{{ item.user }}"], "stdin": "{{ item.password }}"},
      "loop": "{{ users }}"}, "stdin without no_log"),
])
def test_the_checker_finds(tmp_path, task, what):
    found = findings(tree(tmp_path, [task], DEFAULTS))
    assert len(found) == 1 and what in found[0], found


@pytest.mark.parametrize("task", [
    {"name": "t", "ansible.builtin.command": {"argv": ["add", "{{ item.user }}"], "stdin": "{{ item.password }}"},
     "loop": "{{ users }}", "no_log": True},
    {"name": "b", "no_log": True, "block": [
        {"name": "t", "ansible.builtin.command": {"argv": ["tool"], "stdin": "{{ admin_password }}"}}]},
    {"name": "t", "ansible.builtin.command": {"argv": ["tool", "{{ plain }}"]}, "environment": {"LANG": "C"}},
    {"name": "t", "community.rabbitmq.rabbitmq_user": {"user": "{{ item.user }}"}, "loop": "{{ users }}"},
    {"name": "t", "ansible.builtin.uri": {"url": "http://k", "body": {"password": "{{ admin_password }}"}}},
    # one harmless key of a list that holds secrets; a list literal is no subscript; a string is no attribute
    {"name": "t", "ansible.builtin.command": {"argv": ["list", "{{ users | map(attribute='user') | join(',') }}"]}},
    {"name": "t", "ansible.builtin.command": {"argv": ["x", "{{ ['password'] | first }}", "{{ plain ~ '.password' }}"]}},
    # the loop's items are secret, the task takes a harmless key of each
    {"name": "t", "ansible.builtin.command": {"argv": ["show", "{{ item.user }}"]}, "loop": "{{ users }}"},
])
def test_the_checker_lets_through(tmp_path, task):
    assert findings(tree(tmp_path, [task], DEFAULTS)) == []
