"""keystone_identity: main() in-process for what is decided before keystone is contacted, and
Identity.execute() turning a plan into identity v3 requests (ids from a recorder).

The planning itself is tested in tests/unit/plugins/module_utils/test_keystone.py; the module
against a real keystone in tests/integration/test_keystone_modules.py.
"""
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cloudlab.openstack.plugins.module_utils import keystone
from ansible_collections.cloudlab.openstack.plugins.modules import keystone_identity

SECRET = "Adm1n-Secr3t"
USER_SECRET = "Gl4nce-Secr3t"
AUTH = {"auth_url": "http://127.0.0.1:9/v3", "username": "admin", "password": SECRET,
        "project_name": "admin"}


def run(args, capsys):
    with patch_module_args(dict(args, auth=AUTH)):
        with pytest.raises(SystemExit):
            keystone_identity.main()
    out = capsys.readouterr().out
    assert SECRET not in out and USER_SECRET not in out
    return json.loads(out)


@pytest.mark.parametrize("args, message", [
    ({"role_assignments": [{"role": "admin", "user": "glance"}]},
     "give exactly one of project or domain"),
    ({"users": [{"name": "glance", "password": USER_SECRET,
                 "roles": [{"role": "admin", "project": "service", "domain": "Default"}]}]},
     "give exactly one of project or domain"),
    ({"users": [{"name": "glance", "update_password": "sometimes"}]}, "value of update_password"),
])
def test_invalid_options_fail_before_contacting_keystone(args, message, capsys):
    result = run(args, capsys)
    assert result["failed"] and message in result["msg"]


@pytest.mark.skipif(keystone.HAS_KEYSTONEAUTH, reason="keystoneauth1 is installed here")
def test_missing_keystoneauth_is_named(capsys):
    result = run({"users": [{"name": "glance", "password": USER_SECRET}]}, capsys)
    assert result["failed"] and "python3-keystoneauth1" in result["msg"]


class Recorder:
    def __init__(self):
        self.requests = []

    def request(self, method, path, body=None, missing_ok=False, doing=None):
        self.requests.append((method, path, body))
        if method == "POST":
            kind = path.strip("/").rstrip("s")
            return {kind: {"id": "new-%s" % kind}}
        return None


class FakeModule:
    params = {}


PARAMS = dict(
    domain="Default",
    projects=[dict(name="service", description="Service Project")],
    users=[dict(name="glance", password=USER_SECRET, default_project="service",
                roles=[dict(role="admin", project="service")])],
    role_assignments=[dict(role="reader", group="ops", domain="Default")])


def test_execute_service_user_on_fresh_keystone():
    want = keystone.normalize_identity(PARAMS)
    have = dict(projects={}, users={}, groups={("group", "Default", "ops"): {"id": "g1"}},
                roles={"admin": {"id": "r1"}, "reader": {"id": "r2"}}, assignments=set(),
                password_ok={})
    identity = keystone_identity.Identity(FakeModule(), Recorder())
    identity.domain_ids = {"Default": "default"}
    identity.ids["roles"] = {"admin": "r1", "reader": "r2"}
    identity.ids["groups"] = {("group", "Default", "ops"): "g1"}
    identity.execute(want, keystone.plan_identity(want, have))
    assert identity.client.requests == [
        ("POST", "/projects", {"project": {"name": "service", "enabled": True,
                                           "description": "Service Project",
                                           "domain_id": "default"}}),
        ("POST", "/users", {"user": {"name": "glance", "enabled": True, "domain_id": "default",
                                     "default_project_id": "new-project",
                                     "password": USER_SECRET}}),
        ("PUT", "/projects/new-project/users/new-user/roles/r1", None),
        ("PUT", "/domains/default/groups/g1/roles/r2", None),
    ]


def test_execute_password_and_revoke():
    want = keystone.normalize_identity(dict(
        users=[dict(name="glance", password=USER_SECRET, update_password="always")],
        role_assignments=[dict(role="admin", user="glance", project="service",
                               state="absent")]))
    user, project = ("user", "Default", "glance"), ("project", "Default", "service")
    have = dict(projects={project: {"id": "p1"}}, users={user: {"id": "u1", "enabled": True}},
                groups={}, roles={"admin": {"id": "r1"}},
                assignments={("admin", user, project)}, password_ok={user: False})
    identity = keystone_identity.Identity(FakeModule(), Recorder())
    identity.ids.update(projects={project: "p1"}, users={user: "u1"}, roles={"admin": "r1"})
    actions = keystone.plan_identity(want, have)
    identity.execute(want, actions)
    assert identity.client.requests == [
        ("PATCH", "/users/u1", {"user": {"password": USER_SECRET}}),
        ("DELETE", "/projects/p1/users/u1/roles/r1", None),
    ]
    assert USER_SECRET not in repr(keystone.public_actions(actions))


def test_execute_creates_the_domain_before_its_user_and_grant():
    want = keystone.normalize_identity(dict(
        domains=[dict(name="heat", description="Stack projects and users")],
        users=[dict(name="heat_domain_admin", domain="heat", password=USER_SECRET,
                    roles=[dict(role="admin", domain="heat")])]))
    have = dict(domains={}, projects={}, users={}, groups={}, roles={"admin": {"id": "r1"}},
                assignments=set(), password_ok={})
    identity = keystone_identity.Identity(FakeModule(), Recorder())
    identity.domain_ids = {"heat": None}  # resolve_domains: a domain this task creates
    identity.ids["roles"] = {"admin": "r1"}
    identity.execute(want, keystone.plan_identity(want, have))
    assert identity.client.requests == [
        ("POST", "/domains", {"domain": {"name": "heat", "enabled": True,
                                         "description": "Stack projects and users"}}),
        ("POST", "/users", {"user": {"name": "heat_domain_admin", "enabled": True,
                                     "domain_id": "new-domain", "password": USER_SECRET}}),
        ("PUT", "/domains/new-domain/users/new-user/roles/r1", None),
    ]
    assert identity.public_ids(want)["domains"] == {"heat": "new-domain"}


def test_execute_disables_a_domain_before_deleting_it():
    want = keystone.normalize_identity(dict(domains=[dict(name="heat", state="absent")]))
    have = dict(domains={"heat": {"id": "d1", "enabled": True}}, projects={}, users={},
                groups={}, roles={}, assignments=set(), password_ok={})
    identity = keystone_identity.Identity(FakeModule(), Recorder())
    identity.domain_ids = {"heat": "d1"}
    identity.execute(want, keystone.plan_identity(want, have))
    assert identity.client.requests == [
        ("PATCH", "/domains/d1", {"domain": {"enabled": False}}),
        ("DELETE", "/domains/d1", None),
    ]
