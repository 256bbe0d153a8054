"""The prechecks of the inventory's groups (issue 23): a group the collection does not know, and a
service the collection deploys on one host given several, stop site.yml in its first play, before
any node is changed, with a message naming the group.

The collection's groups are roles/prechecks/vars/main.yml's node types and service groups; the
tests here without Ansible keep them equal to the deployment table's rows (inventory/lab) and to
the groups site.yml's plays run on, and check that every group the collection names elsewhere is
one of them. The others run ansible-playbook on the controller alone (controller_playbook.py) on a
copy of the guide's table in tmp_path: passing tables run the first play of playbooks/prechecks.yml
(the uplink play would read a node's facts); broken ones the whole playbooks/site.yml, every node
pointed at an unroutable address, so a precheck that wrongly passed could reach no node.
tests/integration/test_prechecks.py runs such tables on the lab host (targets/prechecks/cases).
"""
import copy
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from controller_playbook import run_playbook  # noqa: E402  pylint: disable=wrong-import-position
from service_model import ROOT, fake_secrets  # noqa: E402  pylint: disable=wrong-import-position

PLAYBOOKS = ROOT / "playbooks"
ROLE = ROOT / "roles" / "prechecks"
LAB = ROOT / "inventory" / "lab"
TABLES = {
    "lab": LAB / "hosts.yml",
    "example": ROOT / "inventory" / "example" / "hosts.yml",
    "aio": ROOT / "tests" / "unit" / "fixtures" / "inventory_aio" / "hosts.yml",
}
FIRST_PLAY = "Check the deployment table"
UNKNOWN = "Check that every group of the inventory is one this collection knows"
SINGLE = "Check that single-node services have one node"
TIME = "Check that several time servers follow upstream servers"


def load(path):
    return yaml.safe_load(Path(path).read_text())


# ---- the list of known groups, against what it mirrors ---------------------------------------------

def known():
    variables = load(ROLE / "vars" / "main.yml")
    return variables["__prechecks_node_types"], variables["__prechecks_service_groups"]


def plays(playbook):
    """The plays of a playbook of playbooks/, its imported playbooks' plays in their place."""
    for play in load(PLAYBOOKS / playbook):
        if "ansible.builtin.import_playbook" in play:
            yield from plays(play["ansible.builtin.import_playbook"])
        else:
            yield play


def pattern_groups(pattern):
    """The names in a host pattern: `a:b:!c`, `a,b`, `a:&b`, `neutron_server[0]`."""
    return {re.sub(r"\[.*\]$", "", name.lstrip("!&")) for name in re.split(r"[:,]", pattern) if name}


def table_groups(path):
    """{group: holds hosts itself} of an inventory file, every level of `children:`."""
    found = {}

    def walk(name, body):
        body = body or {}
        found[name] = found.get(name, False) or bool(body.get("hosts"))
        for child, child_body in (body.get("children") or {}).items():
            walk(child, child_body)

    walk("all", load(path)["all"])
    return found


def test_known_groups_are_what_site_yml_runs_on():
    node_types, service_groups = known()
    assert len(set(node_types)) == len(node_types) and len(set(service_groups)) == len(service_groups)
    assert not set(node_types) & set(service_groups)
    ran_on = set().union(*(pattern_groups(play["hosts"]) for play in plays("site.yml"))) - {"all"}
    # every service group is a play's; every group a play runs on is a node type or a service group
    assert set(service_groups) == ran_on - set(node_types)


@pytest.mark.parametrize("table", ["lab", "example"])
def test_known_groups_are_the_guides_table(table):
    """The node types are the table's groups that hold hosts; the service groups those made of
    node types (`children:`)."""
    node_types, service_groups = known()
    groups = table_groups(TABLES[table])
    assert sorted(g for g, holds_hosts in groups.items() if holds_hosts) == sorted(node_types)
    assert sorted(g for g, holds_hosts in groups.items() if not holds_hosts and g != "all") == sorted(service_groups)


def test_every_group_the_collection_names_is_known():
    node_types, service_groups = known()
    names = {}
    prechecks = load(ROLE / "defaults" / "main.yml")
    for option in ("prechecks_required_groups", "prechecks_single_host_groups", "prechecks_tunnel_groups",
                   "prechecks_external_groups"):
        names[option] = set(prechecks[option])
    names["base_firewall_rules_by_group"] = set(load(ROOT / "roles" / "base" / "defaults" / "main.yml")["base_firewall_rules_by_group"])
    names["chrony_server_group"] = {load(ROOT / "roles" / "chrony" / "defaults" / "main.yml")["chrony_server_group"]}
    names["lab_privileged_groups"] = set(load(LAB / "group_vars" / "all" / "main.yml")["lab_privileged_groups"])
    for path in sorted([*(ROOT / "roles").rglob("*.yml"), *(ROOT / "roles").rglob("*.j2"), *PLAYBOOKS.rglob("*.yml")]):
        read = set(re.findall(r"groups\[['\"](\w+)['\"]\]", path.read_text()))
        if read:
            names[str(path.relative_to(ROOT))] = read
    unknown = {where: sorted(found - set(node_types) - set(service_groups) - {"all"}) for where, found in names.items()}
    assert {where: found for where, found in unknown.items() if found} == {}


def test_the_time_server_check_mirrors_the_chrony_default():
    # tasks/groups.yml reads a time server's chrony_upstream_servers with the chrony role's default
    assert load(ROOT / "roles" / "chrony" / "defaults" / "main.yml")["chrony_upstream_servers"] == []
    assert "hostvars[host].chrony_upstream_servers | default([])" in (ROLE / "tasks" / "groups.yml").read_text()


def test_the_tables_of_the_tests_hold_only_known_groups():
    """The all-in-one fixture and the integration tests' own tables (not the broken prechecks cases)."""
    node_types, service_groups = known()
    tables = [TABLES["aio"], *(p for p in (ROOT / "tests" / "integration" / "targets").rglob("hosts.yml")
                               if "prechecks" not in p.parts)]
    unknown = {str(t.relative_to(ROOT)): sorted(set(table_groups(t)) - set(node_types) - set(service_groups) - {"all"})
               for t in tables}
    assert {t: groups for t, groups in unknown.items() if groups} == {}


# ---- ansible-playbook on a copy of the guide's table -----------------------------------------------

def write_table(tmp_path, table="lab", change=None, group_vars=None):
    """inventory/ in tmp_path: the table (after `change(table)`), its group_vars/all (the lab's for
    the all-in-one fixture) and every secret (fake), plus group_vars."""
    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    hosts = copy.deepcopy(load(TABLES[table]))
    if change:
        change(hosts["all"]["children"])
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    own = TABLES[table].parent / "group_vars" / "all" / "main.yml"
    variables = {**load(own if own.exists() else LAB / "group_vars" / "all" / "main.yml"), **fake_secrets(), **(group_vars or {})}
    (inventory / "group_vars" / "all" / "main.yml").write_text(yaml.safe_dump(variables, sort_keys=False))
    return inventory


def results(run):
    """[(play, task, host, ok|failed|skipped|unreachable, msg)] from the json callback."""
    assert run.stdout.lstrip().startswith("{"), run.stdout[-3000:] + run.stderr[-3000:]
    found = []
    for play in json.loads(run.stdout)["plays"]:
        for task in play["tasks"]:
            name = task["task"]["name"].partition(" : ")[2] or task["task"]["name"]
            for host, result in task["hosts"].items():
                state = ("unreachable" if result.get("unreachable") else "failed" if result.get("failed")
                         else "skipped" if result.get("skipped") else "ok")
                found.append((play["play"]["name"], name, host, state, result.get("msg", "")))
    return found


def prechecks(tmp_path, inventory):
    """The first play of playbooks/prechecks.yml, as written there, on the inventory."""
    (tmp_path / "prechecks.yml").write_text(yaml.safe_dump([next(plays("prechecks.yml"))], sort_keys=False))
    run = run_playbook(tmp_path, inventory, tmp_path / "prechecks.yml", stdout_callback="ansible.posix.json")
    return run, results(run)


def site(tmp_path, inventory):
    """playbooks/site.yml on the inventory, every node at an unroutable address."""
    run = run_playbook(tmp_path, inventory, PLAYBOOKS / "site.yml", "-e", "ansible_host=192.0.2.1",
                       "-e", "ansible_ssh_common_args='-o ConnectTimeout=1'", stdout_callback="ansible.posix.json")
    return run, results(run)


def passed(run, found, *checks):
    assert run.returncode == 0, [r for r in found if r[3] != "ok"] or run.stderr[-3000:]
    for check in checks:
        assert [state for _, task, _, state, _ in found if task == check] == ["ok"], (check, found)


def stopped_in_prechecks(run, found, check):
    """The run failed in the first play's `check`, once (run_once), and went no further: no other
    play started, no node was reached. Returns the message's lines."""
    assert run.returncode != 0
    assert {play for play, *_ in found} == {FIRST_PLAY}, found
    assert not [r for r in found if r[3] == "unreachable"]
    failed = [(task, msg) for _, task, _, state, msg in found if state == "failed"]
    assert [task for task, _ in failed] == [check], failed
    return failed[0][1].split("\n")


@pytest.mark.parametrize("table", ["lab", "example"])
def test_the_guides_table_passes(tmp_path, table):
    run, found = prechecks(tmp_path, write_table(tmp_path, table))
    passed(run, found, UNKNOWN, SINGLE, TIME)


def misspell(children):
    """A misspelt node type (its hosts in `contoller`; the service groups' `controller` is left
    empty), a misspelt service group (neutron_l3_agent), a misspelt `children:` entry (aodh's)."""
    children["contoller"] = children.pop("controller")
    children["neutron_l3_agnet"] = children.pop("neutron_l3_agent")
    children["aodh"]["children"] = {"telemtry": {}}


def test_a_misspelt_group_stops_the_run_naming_it_and_the_group_meant(tmp_path):
    run, found = site(tmp_path, write_table(tmp_path, change=misspell))
    lines = stopped_in_prechecks(run, found, UNKNOWN)
    end = ": rename it, or list it in prechecks_extra_groups if it is a group of your own."
    assert lines == [
        f"Group contoller is no node type or service group of this collection (did you mean controller?){end}",
        f"Group neutron_l3_agnet is no node type or service group of this collection (did you mean neutron_l3_agent?){end}",
        f"Group telemtry is no node type or service group of this collection (did you mean telemetry?){end}",
    ]


def racks(children):
    children["rack1"] = {"hosts": {"oscompute1": {}, "oscompute2": {}}}
    children["rack2"] = {"hosts": {"osswift1": {}, "osswift2": {}}}


def test_an_operators_own_group_passes_once_declared(tmp_path):
    run, found = site(tmp_path, write_table(tmp_path, change=racks))
    assert stopped_in_prechecks(run, found, UNKNOWN) == [
        f"Group {rack} is no node type or service group of this collection: rename it, or list it in "
        "prechecks_extra_groups if it is a group of your own." for rack in ("rack1", "rack2")]
    declared = tmp_path / "declared"
    run, found = prechecks(declared, write_table(declared, change=racks, group_vars={"prechecks_extra_groups": ["rack1", "rack2"]}))
    passed(run, found, UNKNOWN)


def doubled(children):
    """A second host in each single-host group the lab's table has: a compute node, mapped in as a
    host of the group beside its node type."""
    for group in load(ROLE / "defaults" / "main.yml")["prechecks_single_host_groups"]:
        children[group]["hosts"] = {"oscompute1": {}}


def test_a_single_host_service_given_two_hosts_stops_the_run_naming_them(tmp_path):
    run, found = site(tmp_path, write_table(tmp_path, change=doubled))
    lines = stopped_in_prechecks(run, found, SINGLE)
    first = {"mariadb": "oskeystone", "rabbitmq": "oskeystone", "keystone": "oskeystone", "swift_ring_builder": "osswift0",
             "gnocchi": "osmeter", "aodh": "osmeter"}
    groups = load(ROLE / "defaults" / "main.yml")["prechecks_single_host_groups"]
    assert {"mariadb", "rabbitmq", "keystone", "swift_ring_builder", "nova_controller", "glance"} <= set(groups)
    # the group's own hosts first, then its node types' (Ansible's order)
    assert lines == [f"Group {group} has 2 hosts (oscompute1, {first.get(group, 'oscontroller')}), but this collection "
                     f"deploys {group} on one host only (prechecks_single_host_groups; docs/prechecks.md says why): keep one host in it."
                     for group in groups]


UPSTREAM = [{"type": "pool", "address": "pool.ntp.org"}]


def two_time_servers(children):
    """oscontroller a time server beside oskeystone, which alone follows upstream servers."""
    children["chrony_server"]["hosts"] = {"oscontroller": {}}
    children["infra"]["hosts"]["oskeystone"]["chrony_upstream_servers"] = UPSTREAM


def test_two_time_servers_need_upstream_servers(tmp_path):
    run, found = site(tmp_path, write_table(tmp_path, change=two_time_servers))
    assert stopped_in_prechecks(run, found, TIME) == [
        "Group chrony_server has 2 hosts (oscontroller, oskeystone), and oscontroller has no "
        "chrony_upstream_servers: each would serve its own local clock, and a client of clocks that drift apart "
        "trusts none of them. Keep one time server, or give every time server chrony_upstream_servers."]
    upstream = tmp_path / "upstream"
    run, found = prechecks(upstream, write_table(upstream, change=two_time_servers,
                                                 group_vars={"chrony_upstream_servers": UPSTREAM}))
    passed(run, found, TIME)
