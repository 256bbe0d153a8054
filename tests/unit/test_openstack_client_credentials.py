"""nova's flavors and neutron_networks (issue 23) against a fake OpenStack client on the controller:
the client logs in from a clouds.yaml (0600, in a 0700 directory made for the tasks), its
environment and arguments hold no password, the directory is gone after the tasks (also when one
fails), and the tasks keep their promises - a second run changes nothing, check mode changes
nothing, `-v` prints no password.

The fake `openstack` keeps its flavors, networks, subnets and routers in a JSON file and answers
what the roles ask (`flavor list/create`, `network/subnet/router show/create`, `router add subnet`,
`router set --external-gateway`); it logs in as the cloud OS_CLOUD names in the file
OS_CLIENT_CONFIG_FILE names, as openstacksdk's config loader does. What the real client and keystone
make of that file is proven only on the lab.
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

FAKE_OPENSTACK = r'''#!PYTHON
import json, os, sys, uuid
import yaml

state_path = os.environ["FAKE_OPENSTACK_STATE"]
state = json.load(open(state_path))
''' + RECORDER + r'''

def done(code=0, out=None, err=None):
    if out is not None:
        print(out if isinstance(out, str) else json.dumps(out))
    if err:
        print(err, file=sys.stderr)
    call["rc"] = code
    with open(os.environ["FAKE_OPENSTACK_CALLS"], "a") as log:
        log.write(json.dumps(call) + "\n")
    json.dump(state, open(state_path, "w"))
    sys.exit(code)


# The login: the cloud OS_CLOUD of the file OS_CLIENT_CONFIG_FILE (openstacksdk's loader).
path, cloud = os.environ.get("OS_CLIENT_CONFIG_FILE"), os.environ.get("OS_CLOUD")
if not path or not cloud or not os.path.isfile(path):
    done(1, err="Missing value auth-url required for auth plugin password")
call["file_mode"] = oct(os.stat(path).st_mode & 0o777)
call["dir_mode"] = oct(os.stat(os.path.dirname(path)).st_mode & 0o777)
auth = yaml.safe_load(open(path))["clouds"][cloud]["auth"]
call["user"] = auth["username"]
if state["passwords"].get(auth["username"]) != auth["password"]:
    done(1, err="The request you have made requires authentication. (HTTP 401)")

args = sys.argv[1:]
def option(name):
    return args[args.index(name) + 1] if name in args else None

kind, verb, name = args[0], args[1], args[-1]
objects = state.setdefault(kind, {})
if kind == "flavor" and verb == "list":
    done(0, list(objects.values()))
if kind == "flavor" and verb == "create":
    objects[name] = {"Name": name, "RAM": int(option("--ram")), "Disk": int(option("--disk")),
                     "VCPUs": int(option("--vcpus")), "ID": option("--id") or str(uuid.uuid4())}
    done(0, "")
found = objects.get(name) or next((o for o in objects.values() if o["id"] == name), None)
if verb == "show":
    if found is None:
        done(1, err="No %s found for %s" % (kind.capitalize(), name))
    done(0, found["id"] if "value" in args else found)
if verb == "create":
    objects[name] = {"id": str(uuid.uuid4()), "name": name, "owner": auth["username"]}
    if kind == "subnet":
        objects[name]["network"] = option("--network")
    if kind == "router":
        objects[name].update(interfaces_info=[], external_gateway_info=None)
    done(0, objects[name] if "json" in args else "")
if kind == "router" and verb == "add":
    router = objects[args[-2]]
    router["interfaces_info"].append({"subnet_id": state["subnet"][name]["id"]})
    done(0, "")
if kind == "router" and verb == "set":
    network = state["network"][option("--external-gateway")]
    fixed = option("--fixed-ip")
    ips = [{"ip_address": fixed.split("ip-address=")[1]}] if fixed else []
    found["external_gateway_info"] = {"network_id": network["id"], "external_fixed_ips": ips}
    done(0, "")
done(2, err="fake openstack: unknown command %s" % args)
'''

PLAYBOOK = """
- name: {name}, against a fake OpenStack client
  hosts: all
  gather_facts: false
  tasks:
    - name: The role's tasks
      ansible.builtin.import_role:
        name: cloudlab.openstack.{role}
        {tasks_from}
"""

ADMIN, DEMO = fake_secrets()["vault_admin_pass"], fake_secrets()["vault_demo_pass"]


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A scratch directory: the fake client first on PATH, its state (the users' passwords, no
    object yet), a parent for the roles' private directory, one local host."""
    bin_dir = tmp_path / "bin"
    install(bin_dir, "openstack", FAKE_OPENSTACK)
    (tmp_path / "state.json").write_text(json.dumps({"passwords": {"admin": ADMIN, "demo": DEMO}}))
    (tmp_path / "run").mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_OPENSTACK_STATE", str(tmp_path / "state.json"))
    monkeypatch.setenv("FAKE_OPENSTACK_CALLS", str(tmp_path / "calls.jsonl"))
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "internal_ip": "10.0.100.149", "public_ip": "192.168.182.154"}
    group_vars = dict(fake_secrets(), cloudlab_public_cidr="192.168.182.128/25", cloudlab_public_gateway="192.168.182.254",
                      cloudlab_floating_range=["192.168.182.200", "192.168.182.220"])
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump({"all": {
        "hosts": {"infra": host}, "vars": group_vars,
        "children": {group: {"hosts": {"infra": {}}} for group in ("keystone", "mariadb", "rabbitmq", "memcached")}}}))
    return tmp_path


def run(tmp_path, role, *arguments):
    """ansible-playbook -v of the role's client tasks (nova: tasks_from flavors.yml; neutron_networks:
    main, without its package steps): the finished process and the fake's calls."""
    calls = tmp_path / "calls.jsonl"
    if calls.exists():
        calls.unlink()
    playbook = tmp_path / f"{role}.yml"
    playbook.write_text(PLAYBOOK.format(name=role, role=role,
                                        tasks_from="tasks_from: flavors.yml" if role == "nova" else ""))
    parent = {"nova": "__nova_clouds_parent", "neutron_networks": "__neutron_networks_clouds_parent"}[role]
    done = run_playbook(tmp_path, tmp_path / "inventory.yml", playbook, "-v", "--skip-tags", "packages",
                        "-e", json.dumps({parent: str(tmp_path / "run")}), *arguments)
    return done, read_calls(calls)


def state(tmp_path):
    return json.loads((tmp_path / "state.json").read_text())


def assert_logged_in_from_a_private_file(tmp_path, done, logged):
    assert logged, "the client never ran"
    for call in logged:
        assert call.get("file_mode") == "0o600" and call.get("dir_mode") == "0o700", call
        assert "OS_PASSWORD" not in call["environ"]
    assert_no_password_exposed(done, logged, ADMIN, DEMO)
    assert list((tmp_path / "run").iterdir()) == [], "the private directory is still there"


# ---- nova's flavors ---------------------------------------------------------------------------------

def test_flavors_as_admin_from_a_clouds_yaml(fake):
    done, logged = run(fake, "nova")
    assert done.returncode == 0, done.stdout[-4000:]
    assert sorted(state(fake)["flavor"]) == ["m1.large", "m1.medium", "m1.nano", "m1.small", "m1.tiny", "m1.xlarge"]
    assert {call["user"] for call in logged} == {"admin"}
    assert recap(done)["changed"] == 1      # the create loop; the file's tasks report no change
    assert_logged_in_from_a_private_file(fake, done, logged)

    again, logged = run(fake, "nova")
    assert again.returncode == 0, again.stdout[-4000:]
    assert recap(again)["changed"] == 0
    assert [call["argv"][1:3] for call in logged] == [["flavor", "list"]]
    assert_logged_in_from_a_private_file(fake, again, logged)


def test_flavors_check_mode_changes_nothing(fake):
    done, logged = run(fake, "nova", "--check")
    assert done.returncode == 0, done.stdout[-4000:]
    assert "flavor" not in state(fake) or not state(fake)["flavor"]
    assert [call["argv"][1:3] for call in logged] == [["flavor", "list"]]
    assert recap(done)["changed"] == 0
    assert_logged_in_from_a_private_file(fake, done, logged)


def test_the_file_goes_also_when_a_task_fails(fake):
    data = state(fake)
    data["flavor"] = {"m1.tiny": {"Name": "m1.tiny", "RAM": 1024, "Disk": 1, "VCPUs": 1, "ID": "1"}}
    (fake / "state.json").write_text(json.dumps(data))
    done, logged = run(fake, "nova")
    assert done.returncode != 0
    assert "flavor m1.tiny exists with RAM 1024 MB" in done.stdout
    assert_logged_in_from_a_private_file(fake, done, logged)


# ---- neutron_networks ---------------------------------------------------------------------------------

def test_networks_as_admin_and_demo_from_a_clouds_yaml(fake):
    done, logged = run(fake, "neutron_networks")
    assert done.returncode == 0, done.stdout[-4000:]
    now = state(fake)
    assert sorted(now["network"]) == ["demo-net", "ext-net"] and sorted(now["subnet"]) == ["demo-subnet", "ext-subnet"]
    router = now["router"]["demo-router"]
    assert router["interfaces_info"] == [{"subnet_id": now["subnet"]["demo-subnet"]["id"]}]
    assert router["external_gateway_info"] == {"network_id": now["network"]["ext-net"]["id"],
                                               "external_fixed_ips": [{"ip_address": "192.168.182.200"}]}
    assert now["network"]["ext-net"]["owner"] == "admin" and now["network"]["demo-net"]["owner"] == "demo"
    gateway = next(call for call in logged if call["argv"][1:3] == ["router", "set"])
    assert gateway["user"] == "admin"
    assert_logged_in_from_a_private_file(fake, done, logged)

    again, logged = run(fake, "neutron_networks")
    assert again.returncode == 0, again.stdout[-4000:]
    assert recap(again)["changed"] == 0
    assert {call["argv"][2] for call in logged} == {"show"}
    assert_logged_in_from_a_private_file(fake, again, logged)


def test_networks_check_mode_changes_nothing(fake):
    before = state(fake)
    done, logged = run(fake, "neutron_networks", "--check")
    assert done.returncode == 0, done.stdout[-4000:]
    assert {key: value for key, value in state(fake).items() if value} == before
    assert {call["argv"][2] for call in logged} == {"show"}
    assert recap(done)["changed"] == 0
    assert_logged_in_from_a_private_file(fake, done, logged)
