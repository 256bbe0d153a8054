# Prints, as JSON, what `ceilometer-upgrade` would change in gnocchi's resource types (an empty list
# when nothing): the same walk as ceilometer.gnocchi_client.upgrade_resource_types, read-only, with
# ceilometer's own configuration and credentials. The role runs ceilometer-upgrade only when the
# list is not empty, so a converged cloud reports no change and check mode stays truthful.
import json

from oslo_config import cfg

from ceilometer import gnocchi_client, service

conf = cfg.ConfigOpts()
service.prepare_service(argv=[], conf=conf)
client = gnocchi_client.get_gnocchiclient(conf)
types = dict((rt["name"], rt) for rt in client.resource_type.list())
pending = ["create resource type %s" % name for name in sorted(gnocchi_client.resources_initial)
           if name not in types]
for op in gnocchi_client.resources_update_operations:
    current = types.get(op["resource_type"])
    if op["type"] == "create_resource_type":
        if current is None:
            pending.append(op["desc"])
    elif op["type"] == "update_attribute_type":
        first = op["data"][0]
        attribute = first["path"].replace("/attributes/", "", 1)
        present = current is not None and attribute in current["attributes"]
        if (first["op"] == "add" and not present) or (first["op"] == "remove" and present):
            pending.append(op["desc"])
print(json.dumps(pending))
