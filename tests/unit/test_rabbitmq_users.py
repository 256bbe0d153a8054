"""The rabbitmq role's users (tasks/users.yml, issue 23) against a fake rabbitmqctl on the controller:
the passwords reach rabbitmqctl on its standard input only, never in its arguments or environment,
and the tasks keep their promises - a user is created once, a password changed only when it
differs, a second run changes nothing, check mode changes nothing, `-v` prints no password.

The fake keeps its users in a JSON file and answers what the role and community.rabbitmq's
rabbitmq_user ask of RabbitMQ 3.10's rabbitmqctl: `status` and `list_users` as JSON, `add_user`,
`change_password` and `authenticate_user` with the password on stdin (one line, trimmed, as
RabbitMQ.CLI.Core.Input.infer_password reads it; refused: exit code 65), permissions. What the
real rabbitmqctl does with stdin is proven only on the lab.
"""
import json
import os
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from controller_playbook import run_playbook  # noqa: E402  pylint: disable=wrong-import-position
from fake_command import RECORDER, assert_no_password_exposed, install, read_calls, recap  # noqa: E402  pylint: disable=wrong-import-position
from service_model import fake_secrets  # noqa: E402  pylint: disable=wrong-import-position

FAKE_RABBITMQCTL = r'''#!PYTHON
import json, os, sys

state_path = os.environ["FAKE_RABBITMQ_STATE"]
state = json.load(open(state_path))
args = sys.argv[1:]
''' + RECORDER + r'''while args and args[0] in ("-q", "--quiet", "-n"):
    args = args[2:] if args[0] == "-n" else args[1:]
args = [a for a in args if a not in ("--formatter", "json")]
command, rest = args[0], args[1:]

def password_from_stdin():
    line = sys.stdin.readline()
    call["stdin"] = line
    if not line:
        print("Error: Password is not provided via argument or stdin", file=sys.stderr)
        sys.exit(70)
    return line.strip()

def save(code=0):
    with open(os.environ["FAKE_RABBITMQ_CALLS"], "a") as log:
        log.write(json.dumps(call) + "\n")
    json.dump(state, open(state_path, "w"))
    sys.exit(code)

users = state["users"]
if command == "status":
    print(json.dumps({"rabbitmq_version": "3.10.8"}))
elif command == "list_users":
    print(json.dumps([{"user": name, "tags": user["tags"]} for name, user in users.items()]))
elif command in ("add_user", "change_password", "authenticate_user"):
    if len(rest) != 1:
        call["refused"] = "password in the arguments"
        save(64)
    password = password_from_stdin()
    name = rest[0]
    if command == "add_user":
        if name in users:
            save(70)
        users[name] = {"password": password, "tags": [], "permissions": []}
    elif command == "change_password":
        if name not in users:
            save(67)
        users[name]["password"] = password
    elif name not in users or users[name]["password"] != password:
        print('Error: failed to authenticate user "%s"' % name, file=sys.stderr)
        save(65)
    print("Success")
elif command == "list_user_permissions":
    print(json.dumps(users[rest[0]]["permissions"]))
elif command == "list_user_topic_permissions":
    print("[]")
elif command == "set_permissions":
    vhost, name, configure, write, read = rest[1], rest[2], rest[3], rest[4], rest[5]
    perms = [p for p in users[name]["permissions"] if p["vhost"] != vhost]
    users[name]["permissions"] = perms + [{"vhost": vhost, "configure": configure, "write": write, "read": read}]
elif command == "set_user_tags":
    users[rest[0]]["tags"] = rest[1:]
else:
    print("fake rabbitmqctl: unknown command %s" % command, file=sys.stderr)
    save(64)
save()
'''

PLAYBOOK = """
- name: The rabbitmq role's users, against a fake rabbitmqctl
  hosts: all
  gather_facts: false
  tasks:
    - name: The users
      ansible.builtin.import_role:
        name: cloudlab.openstack.rabbitmq
        tasks_from: users.yml
"""

PASSWORD = "Pw9sEcretRabbit0000"
NEW_PASSWORD = "NewPw9sEcretRabbit11"


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A scratch directory with the fake rabbitmqctl first on PATH and its state (guest only)."""
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_RABBITMQ_STATE", str(tmp_path / "state.json"))
    monkeypatch.setenv("FAKE_RABBITMQ_CALLS", str(tmp_path / "calls.jsonl"))
    install(tmp_path / "bin", "rabbitmqctl", FAKE_RABBITMQCTL)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"users": {"guest": {"password": "guest", "tags": ["administrator"],
                                                     "permissions": []}}}))
    # One local host in the groups the shared settings (cloudlab.openstack.openstack, the role's
    # dependency, whose argument validation renders its defaults) read, with fake secrets.
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "internal_ip": "10.0.100.149", "public_ip": "192.168.182.154"}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "hosts": {"infra": host}, "vars": fake_secrets(),
        "children": {group: {"hosts": {"infra": {}}} for group in ("keystone", "mariadb", "rabbitmq", "memcached")}}}))
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    return tmp_path


def run(tmp_path, password, *arguments):
    """ansible-playbook -v with rabbitmq_users = [openstack with `password`] (from a vars file):
    the finished process and the fake's calls."""
    calls = tmp_path / "calls.jsonl"
    if calls.exists():
        calls.unlink()
    extra = tmp_path / "users.yml"
    extra.write_text(yaml.safe_dump({"rabbitmq_users": [{"user": "openstack", "password": password, "vhost": "/"}]}))
    done = run_playbook(tmp_path, tmp_path / "inventory.yml", tmp_path / "play.yml", "-v", "-e", f"@{extra}", *arguments)
    return done, read_calls(calls)


def state(tmp_path):
    return json.loads((tmp_path / "state.json").read_text())["users"]


def commands(logged):
    return [[word for word in call["argv"][1:] if word not in ("-q", "--formatter", "json")][0] for call in logged]


def test_a_new_user_gets_its_password_on_stdin_once(fake):
    done, logged = run(fake, PASSWORD)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert state(fake)["openstack"]["password"] == PASSWORD
    assert state(fake)["openstack"]["permissions"] == [{"vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}]
    add = [call for call in logged if "add_user" in call["argv"]]
    assert len(add) == 1 and add[0]["stdin"].strip() == PASSWORD
    assert "authenticate_user" not in commands(logged)   # a new user: nothing to check
    assert recap(done)["changed"] == 2                   # add_user, then tags and permissions
    assert_no_password_exposed(done, logged, PASSWORD)

    again, logged = run(fake, PASSWORD)
    assert again.returncode == 0, again.stdout[-4000:]
    assert recap(again)["changed"] == 0
    assert commands(logged).count("authenticate_user") == 1
    assert not {"add_user", "change_password", "set_permissions"} & set(commands(logged))
    assert_no_password_exposed(again, logged, PASSWORD)


def test_a_changed_secret_changes_the_password_only(fake):
    run(fake, PASSWORD)
    done, logged = run(fake, NEW_PASSWORD)
    assert done.returncode == 0, done.stdout[-4000:]
    assert state(fake)["openstack"]["password"] == NEW_PASSWORD
    assert commands(logged).count("change_password") == 1
    assert recap(done)["changed"] == 1
    assert_no_password_exposed(done, logged, PASSWORD, NEW_PASSWORD)


def test_check_mode_changes_nothing(fake):
    before = state(fake)
    done, logged = run(fake, PASSWORD, "--check")
    assert done.returncode == 0, done.stdout[-4000:]
    assert state(fake) == before
    assert "list_users" in commands(logged)
    assert not {"add_user", "change_password", "set_permissions"} & set(commands(logged))
    assert recap(done)["changed"] == 0
    assert_no_password_exposed(done, logged, PASSWORD)

    run(fake, PASSWORD)
    done, logged = run(fake, NEW_PASSWORD, "--check")
    assert done.returncode == 0, done.stdout[-4000:]
    assert state(fake)["openstack"]["password"] == PASSWORD    # checked, not changed
    assert commands(logged).count("authenticate_user") == 1
    assert "change_password" not in commands(logged)
    assert_no_password_exposed(done, logged, PASSWORD, NEW_PASSWORD)


def test_a_rabbitmqctl_that_does_not_answer_fails_the_run(fake):
    (fake / "bin" / "rabbitmqctl").write_text("#!/bin/sh\necho 'Error: unable to perform an operation on node' >&2\nexit 69\n")
    done, _ = run(fake, PASSWORD)
    assert done.returncode != 0
    assert "Read the users" in done.stdout
