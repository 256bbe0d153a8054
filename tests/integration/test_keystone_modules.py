"""keystone_service and keystone_identity through real ansible-playbook runs against a real keystone.

Debian's keystone package on the lab's oskeystone node (uWSGI on :5000, sqlite, fernet), fresh for
each test session and bootstrapped with `keystone-manage bootstrap` (targets/keystone/setup.yml).
The modules run on that node with Debian's python3-keystoneauth1. What they did is read back with
plain HTTP requests (targets/keystone/observe.yml), not with the modules' own code.

The tests share the keystone and run in file order:
  keystone_service: check mode on a keystone without the service predicts the actions, and the
  real run then does exactly those → a re-run changes nothing (3 API calls) → a changed URL is
  updated in place (same endpoint id) → a planted duplicate is removed → purge → a new region →
  absent; the guide's 8 services in one task and in 8 tasks; OS_* variables and clouds.yaml
  (openstacksdk's loader) instead of `auth`; a wrong password, an unreachable keystone and a
  non-admin user fail with messages that say what to fix.
  keystone_identity: check mode predicts project + user + grant, the real run does them → re-run
  unchanged → update_password=always: same password unchanged, new password set (and it works)
  → on_create ignores a different password → absent; heat's stack domain with its admin (check
  mode predicts, created, the admin gets a domain-scoped token, re-run unchanged, domain deleted).
No password may appear in any output.
"""
import json
import os
import secrets
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
TARGET = TOP / "tests" / "integration" / "targets" / "keystone"
NODE = "oskeystone"
KEYSTONE_URL = "http://10.0.100.149:5000/v3"
URLS = {"public": "http://192.168.182.150:9292", "internal": "http://10.0.100.145:9292",
        "admin": "http://10.0.100.145:9292"}
GLANCE = {"name": "glance", "type": "image", "description": "OpenStack Image", "endpoints": URLS}


class Keystone:
    """The session's keystone and the playbook runs against it."""

    def __init__(self, lab, tmp_path):
        self.lab = lab
        self.tmp = tmp_path
        self.admin_password = secrets.token_urlsafe(18)
        self.secrets = [self.admin_password]
        self.auth = {"auth_url": KEYSTONE_URL, "username": "admin",
                     "password": self.admin_password, "project_name": "admin",
                     "user_domain_name": "Default", "project_domain_name": "Default"}

    def secret(self):
        value = secrets.token_urlsafe(18)
        self.secrets.append(value)
        return value

    def play(self, playbook, extra, check=False, diff=False):
        """Runs a playbook of targets/keystone; returns (rc, [task results on the node], output).
        Variables go through a 0600 file: passwords stay off the command line."""
        varfile = self.tmp / "vars.json"
        varfile.write_text(json.dumps(extra))
        varfile.chmod(0o600)
        cmd = ["ansible-playbook", "-i", str(TOP / "inventory" / "lab"), str(TARGET / playbook),
               "-e", "@%s" % varfile]
        cmd += ["--check"] if check else []
        cmd += ["--diff"] if diff else []
        env = self.lab.ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                                   ANSIBLE_NOCOLOR="1")
        proc = subprocess.run(cmd, cwd=TOP, env=env, capture_output=True, text=True, timeout=900,
                              check=False)
        varfile.unlink()
        output = proc.stdout + proc.stderr
        for value in self.secrets:
            assert value not in output, "a password leaked into the output of %s" % playbook
        start = proc.stdout.find("\n{")
        assert start >= 0, output[-3000:]
        report, dummy = json.JSONDecoder().raw_decode(proc.stdout[start + 1:])
        tasks = [t["hosts"][NODE] for t in report["plays"][0]["tasks"] if NODE in t["hosts"]]
        return proc.returncode, tasks, output

    def module(self, playbook, args, auth=None, check=False, diff=False, ok=True, **extra):
        """The result of the module's task (the one that reports api_calls)."""
        extra.update(keystone_test_args=args)
        if auth is not False:
            extra["keystone_test_auth"] = auth or self.auth
        rc, tasks, output = self.play(playbook, extra, check=check, diff=diff)
        if ok:
            assert rc == 0, output[-4000:]
        return [t for t in tasks if "api_calls" in t or "msg" in t and not t.get("skipped")][-1]

    def service(self, check=False, diff=False, auth=None, ok=True, **args):
        return self.module("service.yml", args, auth=auth, check=check, diff=diff, ok=ok)

    def identity(self, check=False, diff=False, auth=None, ok=True, **args):
        return self.module("identity.yml", args, auth=auth, check=check, diff=diff, ok=ok)

    def observe(self, read=(), post=None, login=None):
        """{resource: [...]} read over plain HTTP; with login, also 'login': HTTP status."""
        extra = {"keystone_test_auth": self.auth, "keystone_test_read": list(read)}
        if post:
            extra["keystone_test_post"] = post
        if login:
            extra["keystone_test_login"] = login
        rc, tasks, output = self.play("observe.yml", extra)
        assert rc == 0, output[-4000:]
        seen = {}
        for task in tasks:
            for item in task.get("results", []):
                if item.get("json"):
                    seen[item["item"]] = item["json"][item["item"].split("?")[0]]
        if login:
            seen["login"] = int(tasks[-1]["msg"])   # the last task reports the status
        return seen


@pytest.fixture(scope="module")
def keystone(lab_nodes, tmp_path_factory):
    lab_nodes([NODE])
    ks = Keystone(lab_nodes.lab, tmp_path_factory.mktemp("keystone"))
    rc, dummy, output = ks.play("setup.yml", {"keystone_test_admin_password": ks.admin_password,
                                              "keystone_test_fresh": True})
    assert rc == 0, output[-4000:]
    return ks


@pytest.fixture(scope="module")
def memo():
    """What one test learned for the next (the tests run in file order on one keystone)."""
    return {}


def kinds(result):
    return [(a["action"], a.get("interface")) for a in result["actions"]]


def without_ids(actions):
    return [{k: v for k, v in a.items() if k != "id"} for a in actions]


def glance_endpoints(ks):
    seen = ks.observe(["services", "endpoints"])
    ids = [s["id"] for s in seen["services"] if s["name"] == "glance"]
    return ids, [e for e in seen["endpoints"] if e["service_id"] in ids]


# --- keystone_service --------------------------------------------------------------------------

def test_check_mode_on_fresh_keystone_predicts(keystone, memo):
    result = keystone.service(check=True, diff=True, **GLANCE)
    assert result["changed"] is True
    assert kinds(result) == [("create_service", None), ("create_endpoint", "public"),
                             ("create_endpoint", "internal"), ("create_endpoint", "admin")]
    assert result["diff"]["before"] == {}
    assert "public RegionOne http://192.168.182.150:9292" in result["diff"]["after"]["endpoints"]
    assert glance_endpoints(keystone) == ([], [])     # nothing written
    memo["predicted"] = result["actions"]


def test_create_does_what_check_mode_predicted(keystone, memo):
    result = keystone.service(**GLANCE)
    assert result["changed"] is True
    assert without_ids(result["actions"]) == memo["predicted"]
    ids, endpoints = glance_endpoints(keystone)
    assert len(ids) == 1
    assert sorted((e["interface"], e["region_id"], e["url"]) for e in endpoints) == \
        sorted((i, "RegionOne", u) for i, u in URLS.items())
    memo["public_id"] = [e["id"] for e in endpoints if e["interface"] == "public"][0]


def test_rerun_changes_nothing_in_three_requests(keystone):
    result = keystone.service(**GLANCE)
    assert (result["changed"], result["actions"], result["api_calls"]) == (False, [], 3)
    checked = keystone.service(check=True, **GLANCE)
    assert (checked["changed"], checked["actions"]) == (False, [])


def test_changed_url_is_updated_in_place(keystone, memo):
    new = dict(URLS, public="http://192.168.182.150:9393")
    result = keystone.service(**dict(GLANCE, endpoints=new))
    assert kinds(result) == [("update_endpoint", "public")]
    assert result["actions"][0]["changes"] == {"url": [URLS["public"], new["public"]]}
    ids, endpoints = glance_endpoints(keystone)
    public = [e for e in endpoints if e["interface"] == "public"]
    assert [(e["id"], e["url"]) for e in public] == [(memo["public_id"], new["public"])]
    assert len(endpoints) == 3
    keystone.service(**GLANCE)   # back to the guide's URL for the next tests


def test_duplicate_endpoint_is_removed(keystone, memo):
    ids, dummy = glance_endpoints(keystone)
    keystone.observe(post={"path": "endpoints", "body": {"endpoint": {
        "service_id": ids[0], "interface": "public", "region_id": "RegionOne",
        "url": "http://192.168.182.150:9999"}}})
    assert len(glance_endpoints(keystone)[1]) == 4
    result = keystone.service(**GLANCE)
    assert [(a["action"], a.get("reason")) for a in result["actions"]] == \
        [("delete_endpoint", "duplicate")]
    dummy, endpoints = glance_endpoints(keystone)
    assert sorted(e["url"] for e in endpoints if e["interface"] == "public") == [URLS["public"]]


def test_purge_removes_unlisted_interfaces(keystone):
    two = {"public": URLS["public"], "internal": URLS["internal"]}
    assert keystone.service(**dict(GLANCE, endpoints=two))["changed"] is False
    result = keystone.service(purge_endpoints=True, **dict(GLANCE, endpoints=two))
    assert kinds(result) == [("delete_endpoint", "admin")]
    assert sorted(e["interface"] for e in glance_endpoints(keystone)[1]) == ["internal", "public"]
    assert keystone.service(**GLANCE)["changed"] is True   # the admin endpoint comes back


def test_new_region_is_created_with_its_endpoints(keystone):
    args = dict(GLANCE, region="RegionTwo")
    predicted = keystone.service(check=True, **args)
    assert kinds(predicted)[0] == ("create_region", None)
    assert "RegionTwo" not in [r["id"] for r in keystone.observe(["regions"])["regions"]]
    result = keystone.service(**args)
    assert without_ids(result["actions"]) == predicted["actions"]
    assert "RegionTwo" in [r["id"] for r in keystone.observe(["regions"])["regions"]]
    dummy, endpoints = glance_endpoints(keystone)
    assert sorted(e["region_id"] for e in endpoints) == ["RegionOne"] * 3 + ["RegionTwo"] * 3


def test_absent_removes_service_and_all_endpoints(keystone):
    result = keystone.service(name="glance", state="absent")
    assert [a["action"] for a in result["actions"]] == ["delete_endpoint"] * 6 + ["delete_service"]
    assert glance_endpoints(keystone) == ([], [])
    again = keystone.service(name="glance", state="absent")
    assert (again["changed"], again["actions"]) == (False, [])


def test_guide_services_in_one_task_and_in_eight(keystone):
    extra = {"keystone_test_auth": keystone.auth, "keystone_test_users": False}
    rc, tasks, output = keystone.play("guide_services.yml", dict(extra, keystone_test_mode="batch"))
    assert rc == 0, output[-3000:]
    batch = [t for t in tasks if "actions" in t][0]
    assert batch["changed"] is True and len(batch["actions"]) == 8 * 4
    rc, tasks, output = keystone.play("guide_services.yml", dict(extra, keystone_test_mode="batch"))
    batch = [t for t in tasks if "actions" in t][0]
    assert (batch["changed"], batch["api_calls"]) == (False, 3)
    rc, tasks, output = keystone.play("guide_services.yml", dict(extra, keystone_test_mode="loop"))
    assert rc == 0, output[-3000:]
    loop = [t for t in tasks if "results" in t and t.get("results")][0]["results"]
    assert [(r["changed"], r["api_calls"]) for r in loop] == [(False, 3)] * 8


def test_wrong_password_fails_clearly(keystone):
    wrong = keystone.secret()
    result = keystone.service(auth=dict(keystone.auth, password=wrong), ok=False, **GLANCE)
    assert result["failed"] is True
    assert "rejected the credentials of 'admin' (HTTP 401)" in result["msg"]
    assert KEYSTONE_URL in result["msg"]


def test_unreachable_keystone_fails_clearly(keystone):
    auth = dict(keystone.auth, auth_url="http://10.0.100.149:5999/v3")
    result = keystone.service(auth=auth, ok=False, **GLANCE)
    assert "cannot reach keystone at http://10.0.100.149:5999/v3" in result["msg"]


def test_os_environment_and_clouds_yaml(keystone):
    """Without `auth`: openstacksdk's config loader (Debian's python3-openstacksdk 0.101) reads
    OS_* variables or a clouds.yaml; its generic password plugin adds a discovery request."""
    env = {"OS_AUTH_URL": KEYSTONE_URL, "OS_USERNAME": "admin",
           "OS_PASSWORD": keystone.admin_password, "OS_PROJECT_NAME": "admin",
           "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default"}
    keystone.service(**GLANCE)
    result = keystone.module("service.yml", GLANCE, auth=False, keystone_test_env=env)
    assert (result["changed"], result["api_calls"]) == (False, 4)
    clouds = {"clouds": {"lab": {"auth": {k: v for k, v in keystone.auth.items()},
                                 "identity_api_version": 3}}}
    args = dict(GLANCE, cloud="lab", endpoints=dict(URLS, public="http://192.168.182.150:9494"))
    result = keystone.module("service.yml", args, auth=False, keystone_test_clouds_yaml=clouds)
    assert kinds(result) == [("update_endpoint", "public")]
    assert keystone.service(name="glance", state="absent")["changed"] is True


def test_non_admin_user_fails_clearly(keystone):
    password = keystone.secret()
    keystone.identity(projects=[{"name": "demo"}], users=[{
        "name": "demo", "password": password, "roles": [{"role": "member", "project": "demo"}]}])
    auth = dict(keystone.auth, username="demo", password=password, project_name="demo")
    result = keystone.service(auth=auth, ok=False, **GLANCE)
    assert "keystone refused 'demo' (HTTP 403) while listing services" in result["msg"]


# --- keystone_identity -------------------------------------------------------------------------

def service_user(password, **kw):
    user = {"name": "glance", "password": password, "update_password": "always",
            "roles": [{"role": "admin", "project": "service"}]}
    user.update(kw)
    return {"projects": [{"name": "service", "description": "Service Project"}],
            "users": [user]}


def test_identity_check_mode_predicts_then_creates(keystone, memo):
    memo["glance_password"] = password = keystone.secret()
    predicted = keystone.identity(check=True, diff=True, **service_user(password))
    assert [a["action"] for a in predicted["actions"]] == ["create_project", "create_user",
                                                           "grant"]
    assert predicted["ids"]["users"] == {"glance@Default": None}
    result = keystone.identity(**service_user(password))
    assert result["actions"] == predicted["actions"]
    assert result["ids"]["users"]["glance@Default"]
    assert keystone.observe(login={"name": "glance", "password": password})["login"] == 201


def test_identity_rerun_changes_nothing(keystone, memo):
    result = keystone.identity(**service_user(memo["glance_password"]))
    assert (result["changed"], result["actions"]) == (False, [])
    memo["identity_calls"] = result["api_calls"]
    checked = keystone.identity(check=True, **service_user(memo["glance_password"]))
    assert (checked["changed"], checked["actions"]) == (False, [])


def test_update_password_always_sets_a_new_password(keystone, memo):
    new = keystone.secret()
    result = keystone.identity(diff=True, **service_user(new))
    assert [a["action"] for a in result["actions"]] == ["set_password"]
    assert result["diff"]["after"]["users"]["glance@Default"]["password"] == "(changed)"
    assert keystone.observe(login={"name": "glance", "password": new})["login"] == 201
    assert keystone.observe(login={"name": "glance",
                                   "password": memo["glance_password"]})["login"] == 401
    assert keystone.identity(**service_user(new))["changed"] is False
    memo["glance_password"] = new


def test_update_password_on_create_ignores_a_different_password(keystone, memo):
    other = keystone.secret()
    result = keystone.identity(**service_user(other, update_password="on_create"))
    assert (result["changed"], result["actions"]) == (False, [])
    assert keystone.observe(login={"name": "glance",
                                   "password": memo["glance_password"]})["login"] == 201


def test_identity_absent(keystone):
    args = {"users": [{"name": "glance", "state": "absent"}, {"name": "demo", "state": "absent"}],
            "projects": [{"name": "service", "state": "absent"},
                         {"name": "demo", "state": "absent"}]}
    result = keystone.identity(**args)
    assert [a["action"] for a in result["actions"]] == ["delete_user", "delete_user",
                                                        "delete_project", "delete_project"]
    names = keystone.observe(["users", "projects"])
    assert "glance" not in [u["name"] for u in names["users"]]
    assert "service" not in [p["name"] for p in names["projects"]]
    assert keystone.identity(**args)["changed"] is False


@pytest.fixture(scope="module", autouse=True)
def report_calls(memo):
    """The API-call figures the benchmark also prints (visible with pytest -s)."""
    yield
    if memo.get("identity_calls"):
        print("\nkeystone_identity no-change run (1 project, 1 user, 1 grant, password check): "
              "%d API calls" % memo["identity_calls"])


pytestmark = pytest.mark.skipif(not os.access(TOP / "tools" / "lab", os.X_OK),
                                reason="no lab tooling")


# --- keystone_identity: a domain of its own (heat's stack domain) -------------------------------

def heat_domain(password, state="present"):
    if state == "absent":
        return {"domains": [{"name": "heat", "state": "absent"}]}
    return {"domains": [{"name": "heat", "description": "Stack projects and users"}],
            "users": [{"name": "heat_domain_admin", "domain": "heat", "password": password,
                       "update_password": "always", "roles": [{"role": "admin", "domain": "heat"}]}]}


def test_domain_check_mode_predicts_then_creates_with_its_admin(keystone):
    password = keystone.secret()
    predicted = keystone.identity(check=True, diff=True, **heat_domain(password))
    assert [a["action"] for a in predicted["actions"]] == ["create_domain", "create_user", "grant"]
    assert predicted["ids"]["domains"] == {"heat": None}
    result = keystone.identity(**heat_domain(password))
    assert result["actions"] == predicted["actions"]
    login = {"name": "heat_domain_admin", "domain": "heat", "password": password,
             "scope_domain": "heat"}
    assert keystone.observe(login=login)["login"] == 201
    assert keystone.identity(**heat_domain(password))["changed"] is False
    assert keystone.identity(check=True, **heat_domain(password))["changed"] is False
    removed = keystone.identity(**heat_domain(password, state="absent"))
    assert [a["action"] for a in removed["actions"]] == ["delete_domain"]
    assert "heat" not in [d["name"] for d in keystone.observe(["domains"])["domains"]]
    assert keystone.observe(login=login)["login"] == 401
