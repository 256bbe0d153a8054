"""cloudlab.openstack.db_schema against the deployed cloud's real databases and code (issue 20).

Three answers a role's sync decision rests on, each from the installed service's own code:
- on the converged cloud every schema is at the head the installed code ships (no sync would run);
- on an empty database (a fresh SQLite file named in a copy of the configuration) every schema is
  behind with no revision (the role would sync);
- where the service is not installed, installed=false and behind=true, without failing (check mode
  on a fresh node plans the sync).
"""
import pytest

from lab_testinfra import RUNNER, run_play, task_results

# service -> (its inventory group, the databases the module reports)
SERVICES = {
    "nova": ("nova_controller", ["api", "main"]),
    "placement": ("placement", ["placement"]),
    "cinder": ("cinder_controller", ["cinder"]),
    "heat": ("heat", ["heat"]),
    "aodh": ("aodh", ["aodh"]),
}
# the configuration sections that hold each service's database URLs
URL_SECTIONS = {"nova": ["api_database", "database"], "placement": ["placement_database"]}
PROBE_DIR = "/tmp/db_schema_probe"


def first_host(group):
    return sorted(RUNNER.get_hosts(group))[0]


def schema(host, service, check=False, config_file=None):
    """The module's result for `service` on `host` (in check mode with check=True)."""
    args = {"service": service}
    if config_file:
        args["config_file"] = config_file
    play = [{"hosts": host, "gather_facts": False, "check_mode": check, "tasks": [
        {"name": "Read", "cloudlab.openstack.db_schema": args, "register": "found"},
        {"name": "Report", "ansible.builtin.debug": {"var": "found"}}]}]
    return dict(task_results(run_play(play), "Report"))[host]["found"]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_converged_schemas_are_at_the_installed_head(service):
    group, databases = SERVICES[service]
    for check in (False, True):
        found = schema(first_host(group), service, check=check)
        assert found["installed"] is True and found["changed"] is False, found
        assert found["behind"] is False and found["ahead"] is False, found
        assert sorted(found["databases"]) == sorted(databases), found
        for name, state in found["databases"].items():
            assert state["current"] is not None and state["current"] == state["head"], (name, state)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_an_empty_database_is_behind(service):
    """The service's own configuration with its database URLs pointed at new, empty SQLite files:
    the code's head is read as before, the database has no revision."""
    group, databases = SERVICES[service]
    host = first_host(group)
    conf = f"{PROBE_DIR}/{service}.conf"
    sections = URL_SECTIONS.get(service, ["database"])
    edits = [{"name": f"Point [{section}] at an empty database",
              "community.general.ini_file": {"path": conf, "section": section, "option": "connection",
                                             "value": f"sqlite:///{PROBE_DIR}/{service}-{section}.sqlite",
                                             "mode": "0600"}}
             for section in sections]
    play = [{"hosts": host, "gather_facts": False, "tasks": [
        {"name": "Probe directory", "ansible.builtin.file": {"path": PROBE_DIR, "state": "directory", "mode": "0700"}},
        {"name": "Copy the configuration", "ansible.builtin.copy": {
            "src": f"/etc/{service}/{service}.conf", "dest": conf, "remote_src": True, "mode": "0600"}},
        *edits,
        {"name": "Read", "cloudlab.openstack.db_schema": {"service": service, "config_file": conf},
         "register": "found"},
        {"name": "Report", "ansible.builtin.debug": {"var": "found"}},
        {"name": "Remove the probe", "ansible.builtin.file": {"path": PROBE_DIR, "state": "absent"}}]}]
    found = dict(task_results(run_play(play), "Report"))[host]["found"]
    assert found["installed"] is True and found["behind"] is True, found
    assert sorted(found["databases"]) == sorted(databases), found
    for name, state in found["databases"].items():
        assert state["current"] is None and state["head"] and state["behind"] is True, (name, state)


def test_a_service_that_is_not_installed_plans_the_sync():
    """aodh is not installed on the controller: no failure, installed=false, behind=true."""
    host = first_host("nova_controller")
    assert host not in RUNNER.get_hosts("aodh")
    found = schema(host, "aodh", check=True)
    assert found["installed"] is False and found["behind"] is True and found["changed"] is False, found
