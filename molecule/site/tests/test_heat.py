"""Proves playbooks/heat.yml (issue 13, orchestration) on the whole table: heat-api, heat-api-cfn and
heat-engine on oscontroller, the guide's catalog entries and role, today's stack domain; a stack
created by demo reaches CREATE_COMPLETE (the smoke test, side_effect, does it once; this test does
it again on the converged cloud, from the keystone node as the guide's client).
"""
import json

from lab_testinfra import RUNNER, admin_json, node, rc_run, service_conf, var, wait_for

HEAT = RUNNER.get_hosts("heat")[0]
CLIENT = RUNNER.get_hosts("keystone")[0]


def test_services_run_and_listen():
    host = node(HEAT)
    for name in ("heat-api", "heat-api-cfn", "heat-engine"):
        assert host.service(name).is_running and host.service(name).is_enabled, name
    listening = host.check_output("ss -Htln").split()
    assert any(a.endswith(":8004") for a in listening) and any(a.endswith(":8000") for a in listening)


def test_heat_conf_as_the_guide():
    conf = service_conf(HEAT, "/etc/heat/heat.conf", "heat")
    internal = var(HEAT, "internal_ip")
    keystone = var(CLIENT, "internal_ip")
    assert conf["DEFAULT"]["heat_metadata_server_url"] == f"http://{internal}:8000"
    assert conf["DEFAULT"]["heat_waitcondition_server_url"] == f"http://{internal}:8000/v1/waitcondition"
    assert conf["DEFAULT"]["stack_user_domain_name"] == "heat"
    assert conf["DEFAULT"]["stack_domain_admin"] == "heat_domain_admin"
    assert conf["database"]["connection"].startswith("mysql+pymysql://heat:")
    assert conf["keystone_authtoken"]["username"] == "heat"
    assert conf["trustee"]["auth_url"] == f"http://{keystone}:5000"
    assert conf["ec2authtoken"]["auth_uri"] == f"http://{keystone}:5000/v3"


def test_catalog_has_the_guides_endpoints():
    public, internal = var(HEAT, "public_ip"), var(HEAT, "internal_ip")
    orchestration = {e["Interface"]: e["URL"] for e in admin_json("openstack endpoint list --service orchestration")}
    assert orchestration == {"public": f"http://{public}:8004/v1/%(tenant_id)s",
                             "internal": f"http://{internal}:8004/v1/%(tenant_id)s",
                             "admin": f"http://{internal}:8004/v1/%(tenant_id)s"}
    cfn = {e["Interface"]: e["URL"] for e in admin_json("openstack endpoint list --service cloudformation")}
    assert cfn == {"public": f"http://{public}:8000/v1", "internal": f"http://{internal}:8000/v1",
                   "admin": f"http://{internal}:8000/v1"}


def test_roles_and_the_stack_domain():
    roles = {r["Name"] for r in admin_json("openstack role list")}
    assert {"heat_stack_user", "heat_stack_owner"} <= roles
    domain = admin_json("openstack domain show heat")
    assert domain["enabled"] is True
    grants = admin_json("openstack role assignment list --names --user heat_domain_admin --user-domain heat")
    assert [(g["Role"], g["Domain"], g["Project"]) for g in grants] == [("admin", "heat", "")]


def test_engine_is_up():
    """`openstack orchestration service list` as admin: one engine per worker, all up."""
    def engines():
        out = rc_run("/root/adminrc", "openstack orchestration service list -f json", CLIENT)
        if out.rc != 0:
            return False, out.stderr[-500:]
        rows = [r for r in json.loads(out.stdout) if r["Binary"] == "heat-engine"]
        return bool(rows) and all(r["Status"] == "up" for r in rows), rows
    ok, detail = wait_for(engines, seconds=120)
    assert ok, detail


def test_demo_stack_reaches_create_complete():
    """The guide's `heat stack-create` + `heat stack-list` as demo (a template of one random
    string: no image or network needed), then deleted."""
    name = "cloudlab-test-stack"
    template = ("heat_template_version: 2018-08-31\n"
                "resources:\n  s:\n    type: OS::Heat::RandomString\n    properties: {length: 8}\n"
                "outputs:\n  v:\n    value: {get_attr: [s, value]}\n")
    client = node(CLIENT)
    client.run(f"printf '%s' '{template}' > /tmp/{name}.yml")
    try:
        created = rc_run("/root/demorc", f"openstack stack create --wait -t /tmp/{name}.yml {name} "
                         "-f value -c stack_status", CLIENT)
        assert created.rc == 0, created.stderr[-2000:]
        assert created.stdout.split()[-1] == "CREATE_COMPLETE"
        listed = rc_run("/root/demorc", "openstack stack list -f value -c 'Stack Name'", CLIENT)
        assert listed.rc == 0, listed.stderr[-2000:]
        assert name in listed.stdout.split()
        value = rc_run("/root/demorc", f"openstack stack output show {name} v -f value -c output_value", CLIENT)
        assert len(value.stdout.strip()) == 8
    finally:
        rc_run("/root/demorc", f"openstack stack delete --yes --wait {name}", CLIENT)
        client.run(f"rm -f /tmp/{name}.yml")
