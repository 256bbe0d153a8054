"""keystone_service: main() in-process for what is decided before keystone is contacted (option
validation, the missing-library message), and execute() turning a plan into identity v3 requests.

The planning itself is tested in tests/unit/plugins/module_utils/test_keystone.py; the module
against a real keystone in tests/integration/test_keystone_modules.py.
"""
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cloudlab.openstack.plugins.module_utils import keystone
from ansible_collections.cloudlab.openstack.plugins.modules import keystone_service

SECRET = "Adm1n-Secr3t"
AUTH = {"auth_url": "http://127.0.0.1:9/v3", "username": "admin", "password": SECRET,
        "project_name": "admin", "user_domain_name": "Default", "project_domain_name": "Default"}


def run(args, capsys):
    with patch_module_args(dict(args, auth=AUTH)):
        with pytest.raises(SystemExit):
            keystone_service.main()
    out = capsys.readouterr().out
    assert SECRET not in out
    return json.loads(out)


@pytest.mark.parametrize("args, message", [
    ({"name": "glance"}, "type is required with state=present"),
    ({"name": "glance", "type": "image", "endpoints": {"public": "u"},
      "services": [{"name": "nova", "type": "compute"}]}, "mutually exclusive"),
    ({}, "one of the following is required: name, services"),
    ({"services": [{"name": "a", "type": "x"}, {"name": "a", "type": "y"}]}, "listed twice"),
])
def test_invalid_options_fail_before_contacting_keystone(args, message, capsys):
    result = run(args, capsys)
    assert result["failed"] and message in result["msg"]


@pytest.mark.skipif(keystone.HAS_KEYSTONEAUTH, reason="keystoneauth1 is installed here")
def test_missing_keystoneauth_is_named(capsys):
    result = run({"name": "glance", "type": "image"}, capsys)
    assert result["failed"] and "python3-keystoneauth1" in result["msg"]


class Recorder:
    """Stands in for KeystoneClient.request: records the requests, answers with new ids."""

    def __init__(self):
        self.requests = []

    def request(self, method, path, body=None, missing_ok=False, doing=None):
        self.requests.append((method, path, body))
        if method == "POST":
            kind = path.strip("/").rstrip("s")
            return {kind: {"id": "new-%s-%d" % (kind, len(self.requests))}}
        return None


def test_execute_fresh_service():
    want = dict(name="glance", type="image", description=None, enabled=True, region="R2",
                endpoints={"public": "http://p", "admin": "http://a"}, state="present")
    actions = [dict(action="create_region", region="R2")] + keystone.plan_service(want, None, [])
    client = Recorder()
    ids = keystone_service.execute(client, actions, [None])
    assert ids == {"glance": "new-service-2"}
    assert client.requests == [
        ("POST", "/regions", {"region": {"id": "R2"}}),
        ("POST", "/services", {"service": {"name": "glance", "type": "image", "enabled": True}}),
        ("POST", "/endpoints", {"endpoint": {"service_id": "new-service-2", "interface": "public",
                                             "url": "http://p", "region_id": "R2",
                                             "enabled": True}}),
        ("POST", "/endpoints", {"endpoint": {"service_id": "new-service-2", "interface": "admin",
                                             "url": "http://a", "region_id": "R2",
                                             "enabled": True}}),
    ]
    # created ids are reported back in the actions and the result
    assert actions[2]["id"] == "new-endpoint-3"


def test_execute_update_and_delete():
    service = dict(id="s1", name="glance", type="image", description="d", enabled=True)
    endpoints = [dict(id="e1", interface="public", url="http://old", region_id="RegionOne",
                      service_id="s1", enabled=True),
                 dict(id="e2", interface="internal", url="http://i", region_id="RegionOne",
                      service_id="s1", enabled=True)]
    want = dict(name="glance", type="image", description="new", enabled=True,
                region="RegionOne", endpoints={"public": "http://new"}, state="present")
    client = Recorder()
    keystone_service.execute(client, keystone.plan_service(want, service, endpoints, purge=True),
                             [service])
    assert client.requests == [
        ("PATCH", "/services/s1", {"service": {"description": "new"}}),
        ("PATCH", "/endpoints/e1", {"endpoint": {"url": "http://new"}}),
        ("DELETE", "/endpoints/e2", None),
    ]


def test_result_entry_sorted_by_region_and_interface():
    entry = keystone_service.result_entry("glance", "s1", dict(type="image", enabled=True), [
        dict(id="b", interface="public", url="u2", region_id="R2"),
        dict(id="a", interface="admin", url="u1", region_id="R1")])
    assert [e["id"] for e in entry["endpoints"]] == ["a", "b"]
    assert entry["name"] == "glance" and entry["id"] == "s1"
