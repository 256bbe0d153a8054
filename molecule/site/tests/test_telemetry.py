"""Proves playbooks/telemetry.yml (issue 13) on the whole table: gnocchi, the ceilometer central and
notification agents and aodh on osmeter, the compute agent on both compute nodes; the services'
notifications wired (nova, glance, cinder, neutron, swift's proxy middleware); and the guide's
check in today's terms: after an image upload, gnocchi has an `image` resource with an
`image.size` measure (the guide's `glance image-download ... ceilometer statistics`); alarms list.
"""
import json

from lab_testinfra import RUNNER, admin_json, ini, node, rc_run, var, wait_for

METER = RUNNER.get_hosts("gnocchi")[0]
COMPUTES = RUNNER.get_hosts("ceilometer_compute")
CLIENT = RUNNER.get_hosts("keystone")[0]


def test_services_run_on_the_telemetry_node():
    host = node(METER)
    for name in ("gnocchi-api", "gnocchi-metricd", "ceilometer-agent-central",
                 "ceilometer-agent-notification", "aodh-api", "aodh-evaluator", "aodh-notifier",
                 "aodh-listener"):
        assert host.service(name).is_running and host.service(name).is_enabled, name


def test_compute_agent_on_every_compute_node():
    assert len(COMPUTES) == 2
    for name in COMPUTES:
        assert node(name).service("ceilometer-agent-compute").is_running, name


def test_catalog_has_metric_and_alarming():
    public, internal = var(METER, "public_ip"), var(METER, "internal_ip")
    for service_type, port in (("metric", 8041), ("alarming", 8042)):
        endpoints = {e["Interface"]: e["URL"] for e in admin_json(f"openstack endpoint list --service {service_type}")}
        assert endpoints == {"public": f"http://{public}:{port}", "internal": f"http://{internal}:{port}",
                             "admin": f"http://{internal}:{port}"}, service_type


def test_ceilometer_user_has_reseller_admin():
    grants = admin_json("openstack role assignment list --names --user ceilometer --project service")
    assert {"admin", "ResellerAdmin"} <= {g["Role"] for g in grants}


def test_services_notify():
    """The guide's notification_driver lines, on today's [oslo_messaging_notifications]."""
    controller = RUNNER.get_hosts("nova_controller")[0]
    for host, path in ((controller, "/etc/nova/nova.conf"), (COMPUTES[0], "/etc/nova/nova.conf"),
                       (RUNNER.get_hosts("glance")[0], "/etc/glance/glance-api.conf"),
                       (RUNNER.get_hosts("cinder_controller")[0], "/etc/cinder/cinder.conf"),
                       (RUNNER.get_hosts("neutron_server")[0], "/etc/neutron/neutron.conf")):
        assert ini(host, path)["oslo_messaging_notifications"]["driver"] == "messagingv2", (host, path)
    compute = ini(COMPUTES[0], "/etc/nova/nova.conf")
    assert compute["DEFAULT"]["instance_usage_audit"] == "true"
    assert compute["notifications"]["notify_on_state_change"] == "vm_and_task_state"
    proxy = ini(RUNNER.get_hosts("swift_proxy_server")[0], "/etc/swift/proxy-server.conf")
    assert proxy["pipeline:main"]["pipeline"].split()[-2:] == ["ceilometer", "proxy-server"]
    assert proxy["filter:ceilometer"]["paste.filter_factory"] == "ceilometermiddleware.swift:filter_factory"


def test_gnocchi_has_ceilometers_resource_types():
    types = {t["name"] for t in admin_json("openstack metric resource-type list")}
    assert {"image", "instance", "volume", "swift_account", "network"} <= types, types


def test_image_upload_gives_an_image_size_measure():
    """An image uploaded as admin: glance's notification reaches the notification agent, which
    creates the image resource in gnocchi with its image.size metric; metricd's processing is
    forced with --refresh. The image is deleted at the end."""
    client = node(CLIENT)
    client.run("head -c 1048576 /dev/urandom > /tmp/cloudlab-meter.img")
    image = admin_json("openstack image create cloudlab-test-meter --disk-format raw --container-format bare "
                       "--file /tmp/cloudlab-meter.img")
    try:
        def measured():
            out = rc_run("/root/adminrc", f"openstack metric measures show --resource-id {image['id']} "
                         "image.size --refresh -f json", CLIENT)
            if out.rc != 0:
                return False, out.stderr[-300:]
            values = [m["value"] for m in json.loads(out.stdout)]
            return bool(values) and values[-1] == 1048576, values
        ok, detail = wait_for(measured, seconds=300, interval=10)
        assert ok, detail
        resource = admin_json(f"openstack metric resource show --type image {image['id']}")
        assert resource["type"] == "image" and resource["name"] == "cloudlab-test-meter"
    finally:
        rc_run("/root/adminrc", f"openstack image delete {image['id']}", CLIENT)
        client.run("rm -f /tmp/cloudlab-meter.img")


def test_alarm_list_works():
    """The guide's ceilometer-alarm-* in today's aodh: `openstack alarm list` answers (empty)."""
    assert admin_json("openstack alarm list") == []
