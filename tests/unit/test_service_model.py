"""Issue 20: every service's configuration rendered for the lab and for an all-in-one host, in seconds.

tests/unit/service_model.py builds the model: what each task of playbooks/site.yml writes and
registers on each host of inventory/lab and of tests/unit/fixtures/inventory_aio (every service on
one host), with Ansible's own variable precedence and nothing run. These tests read it:

- each file has one writer, and the writes of a file agree on every option;
- each secret is read by one variable; every other place reads that variable;
- every keystone user is logged in with the password it is registered with, wherever a task or a
  file uses it (bug 2: cinder and neutron logged in with a second variable of the same secret);
- with every secret's owner overridden, no place keeps a secret's value;
- every database user's password is the one its service hands to the mariadb role (bug 1: the
  mariadb role's own list reset it);
- on an all-in-one host nova.conf keeps its database connections (bug 3: nova_compute removed them).
- each node type's kernel parameters (sysctl files count as written files) on its hosts.

The password tests build the model with every password variable a role hands to keystone_register
or to the mariadb role, and every secret's owner (the one role default that reads vault_<secret>),
set by `-e`, as an operator overriding them would: a second variable of the same secret then shows,
because it keeps the secret's value, and so does a consumer that does not follow the owner.

Known exceptions are listed with their reason in the KNOWN_* ratchets below: a new one fails, and so
does a listed one that has gone away (then remove it from the list), so the lists only shrink.
"""
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import service_model as sm  # noqa: E402  pylint: disable=wrong-import-position

INVENTORIES = tuple(sm.INVENTORIES)   # ('lab', 'aio')
NOVA_CONF = "/etc/nova/nova.conf"
DATABASE_URL = re.compile(r"^mysql(?:\+\w+)?://(?P<user>[^:@/]+):(?P<password>[^@]*)@")

# ---- ratchets: today's known exceptions, each with its reason --------------------------------------------

# (inventory, file, its writers): why several tasks write that file on one host. None today. On the
# tree before the nova roles were merged: the all-in-one nova.conf (nova_controller and nova_compute).
KNOWN_SHARED_FILES = {}

# (inventory, file, section, option): why two writes of the file set the option to different values.
# None today. On the original tree: [database] connection on the all-in-one (bug 3), and cinder.conf's
# enabled_backends and nova.conf's [vnc] server_listen there.
KNOWN_DISAGREEING_OPTIONS = {}

# {secret: (reason, the places that read vault_<secret> besides its one owner)}. None today. The dbpass
# secrets, cinder_pass and neutron_pass (two variables in neutron_common and neutron_server before)
# were bugs 1 and 2; admin_pass, demo_pass, placement_pass, nova_pass, neutron_pass and metadata_secret
# had copies in the roles that log in with them (keystone_register, neutron_networks, nova, neutron)
# until those identities moved to cloudlab.openstack.openstack (openstack_admin_*, openstack_demo_*,
# openstack_<service>_keystone_*, openstack_metadata_secret).
KNOWN_EXTRA_SECRET_READERS = {}

# (inventory, keystone user, writer or task, section or source): why that place logs in as the user
# with another password than the one it is registered with. None today; before: cinder's and
# neutron's own sections (bug 2), then nova.conf's [placement] and [neutron] and neutron.conf's [nova]
# with copies of placement's, neutron's and nova's passwords.
KNOWN_FOREIGN_LOGINS = {}

# (inventory, secret, role): why a place of that role still holds the secret's value when every
# secret's owner is overridden. None today; before: the copies of KNOWN_EXTRA_SECRET_READERS.
KNOWN_UNREPLACED_SECRETS = {}

# (inventory, database user, writer, where): why that place has another password for the user.
# None today; on the original tree the mariadb role's own list (bug 1).
KNOWN_DATABASE_PASSWORD_COPIES = {}


# ---- the models --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def models():
    """Built once for the module, in a process of its own (a few seconds)."""
    return sm.load_models()


@pytest.fixture(params=INVENTORIES)
def inventory(request):
    return request.param


def checked(model):
    assert model.writes, f"the model of {model.inventory_name} found no file written: site.yml was not walked"
    return model


@pytest.fixture
def model(models, inventory):
    """site.yml on the inventory as it is."""
    return checked(models.as_is[inventory])


@pytest.fixture
def overrides(models):
    """`-e` values for every password variable a role hands over and every secret's owner:
    override-<variable>."""
    assert models.handover_variables[sm.KEYSTONE_REGISTER_USERS], "no role hands a password to keystone_register"
    assert models.handover_variables[sm.MARIADB_DATABASES], "no role hands a password to the mariadb role"
    assert models.secret_owners, "no secret has an owner to override"
    assert set(models.secret_owners.values()) <= set(models.overrides), "a secret's owner is not overridden"
    assert "openstack_admin_user" in models.user_variables, "the shared identities' user names are not overridden"
    return models.overrides


@pytest.fixture
def overridden_model(models, inventory, overrides):
    """site.yml on the inventory with every handed-over password variable and every secret's owner
    set by `-e`."""
    return checked(models.overridden[inventory])


def check_ratchet(found, known, what):
    """found: {key: what shows it}; known: {key: reason}. Fails on a new key and on a listed key not found."""
    new = sorted(set(found) - set(known))
    gone = sorted(set(known) - set(found))
    lines = []
    if new:
        lines.append(f"{what}: fix these, or list them with their reason in the test's ratchet:")
        lines += [f"  {key!r}: {found[key]}" for key in new]
    if gone:
        lines.append(f"listed in the ratchet but {what} no more, remove them from the list:")
        lines += [f"  {key!r}  ({known[key]})" for key in gone]
    assert not lines, "\n".join(lines)


def known_on(known, inventory):
    return {key: reason for key, reason in known.items() if key[0] == inventory}


def sections(write):
    """(section, options) of what an openstack_config task writes (a sysctl task: ('sysctl', {key: value}))."""
    for section, options in (write.settings or {}).items():
        if isinstance(options, dict):
            yield section, options


# ---- each file has one writer ------------------------------------------------------------------------------

def test_each_file_has_one_writer(model, inventory):
    """On every host, each file is written by one task (role and task name), whichever plays run it."""
    writers = defaultdict(set)      # (host, file) -> its writers
    for write in model.writes:
        writers[(write.target, write.path)].add(write.writer)
    hosts = defaultdict(list)       # (inventory, file, writers) -> the hosts where they share it
    for (target, path), names in writers.items():
        if len(names) > 1:
            hosts[(inventory, path, tuple(sorted(names)))].append(target)
    shared = {key: f"on {sorted(targets)}" for key, targets in hosts.items()}
    check_ratchet(shared, known_on(KNOWN_SHARED_FILES, inventory), "files written by several tasks")


def test_writes_of_a_file_agree(model, inventory):
    """Every write of a file on a host sets each option to the same value (null: removes it).

    Two writes that differ change the file back and forth on every run, restarting its services."""
    values = defaultdict(list)      # (target, path, section, option) -> [(writer, value)] in run order
    for write in model.writes:
        for section, options in sections(write):
            for option, value in options.items():
                values[(write.target, write.path, section, option)].append((write.writer, value))
    assert values, f"no openstack_config settings rendered on {inventory}: {sorted(model.notes)}"
    disagreeing = {
        (inventory, path, section, option): f"on {target}: " + ", then ".join(f"{w} sets {v!r}" for w, v in written)
        for (target, path, section, option), written in values.items()
        if len({repr(value) for _, value in written}) > 1}
    check_ratchet(disagreeing, known_on(KNOWN_DISAGREEING_OPTIONS, inventory), "options two writes of a file disagree on")


# ---- each secret one variable ------------------------------------------------------------------------------

@pytest.mark.parametrize("secret", sm.secret_names())
def test_each_secret_is_read_by_one_variable(secret):
    """vault_<secret> is read by one role default, its owner; every other place reads the owner."""
    readers = sm.secret_readers(secret)
    reason, tolerated = KNOWN_EXTRA_SECRET_READERS.get(secret, ("", ()))
    owners = [reader for reader in readers if reader not in tolerated]
    gone = [reader for reader in tolerated if reader not in readers]
    assert len(owners) <= 1, (
        f"vault_{secret} is read directly by {len(owners)} places; one variable must own it and the others"
        f" read that variable: {owners}")
    assert all("/defaults/" in owner for owner in owners), (
        f"vault_{secret} must be read by a role default (the inventory can override it), not by {owners}")
    assert not gone, (f"listed in KNOWN_EXTRA_SECRET_READERS[{secret!r}] ({reason}) but no longer reading"
                      f" vault_{secret}, remove them from the list: {gone}")


# ---- every keystone user logs in with the password it is registered with ---------------------------------

def registered_users(model, overrides, problems):
    """{keystone user: (the password it is registered with, where)}: the service users roles hand to
    keystone_register, and the users a task sets itself (keystone-manage bootstrap's admin, the
    keystone role's users).

    Each registered password must be an `-e` value (a handed-over variable's, a secret owner's):
    else the override did not reach keystone."""
    registered = {}
    for include, raw, rendered in sm.password_handovers(model, sm.KEYSTONE_REGISTER_USERS):
        user, variable = rendered["name"], sm.variable_of(raw["password"])
        where = f"{include.role}: include of keystone_register"
        key = (model.inventory_name, user, where, "password")
        if variable is None:
            problems[key] = f"hands over {raw['password']!r}: not one variable, the inventory cannot set it"
        elif rendered["password"] != overrides[variable]:
            problems[key] = f"registers {rendered['password']!r} although {variable} is {overrides[variable]!r}"
        elif registered.setdefault(user, (rendered["password"], where))[0] != rendered["password"]:
            problems[key] = (f"registers {user} with {rendered['password']!r},"
                             f" {registered[user][1]} with {registered[user][0]!r}")
    for login in model.logins:
        if not login.sets:
            continue
        key = (model.inventory_name, login.user, f"{login.role}: {login.task}", login.source)
        if registered.setdefault(login.user, (login.password, login.user_of))[0] != login.password:
            problems[key] = (f"sets {login.user}'s password to {login.password!r},"
                             f" {registered[login.user][1]} to {registered[login.user][0]!r}")
        elif login.password not in overrides.values():
            problems[key] = (f"sets {login.user}'s password to {login.password!r}, which no overridden variable"
                             " gave it: it reads no secret's owner")
    return registered


def test_keystone_password_is_the_registered_one(overridden_model, inventory, overrides):
    """With every registered password and every secret's owner set by `-e`: each config section that
    logs in as a keystone user (username) and each task that does (a module's auth, the OpenStack
    client's environment, an rc file) uses a registered user with its registered password."""
    model = overridden_model
    problems = {}
    registered = registered_users(model, overrides, problems)
    assert registered or problems, f"no keystone user registered on {inventory}"
    assert model.logins, f"no task logs in to keystone on {inventory}: the model records no logins"

    def check(user, password, key, place):
        if user not in registered:
            problems[key] = f"{place} logs in as {user}, which no task registers"
        elif password != registered[user][0]:
            problems[key] = (f"{place} logs in as {user} with {password!r}, registered with"
                             f" {registered[user][0]!r} ({registered[user][1]})")

    for write in model.writes:
        for section, options in sections(write):
            if "username" in options and "password" in options:
                check(options["username"], options["password"], (inventory, options["username"], write.writer, section),
                      f"{write.target}:{write.path} [{section}]")
    for login in model.logins:
        if not login.sets:
            check(login.user, login.password, (inventory, login.user, f"{login.role}: {login.task}", login.source),
                  f"{login.host}: {login.user_of}")
    check_ratchet(problems, known_on(KNOWN_FOREIGN_LOGINS, inventory), "keystone passwords that are not the registered one")


# ---- overriding a secret's owner replaces the secret everywhere ---------------------------------------------

def places_holding(model, value):
    """The places of the model that hold `value` (as a whole string or in one): (role, what)."""
    def holds(data):
        if isinstance(data, str):
            return value in data
        if isinstance(data, dict):
            return any(holds(item) for item in data.values())
        if isinstance(data, list):
            return any(holds(item) for item in data)
        return False

    for write in model.writes:
        if holds(write.settings):
            yield write.role, f"{write.target}:{write.path} ({write.task})"
    for login in model.logins:
        if holds(login.password):
            yield login.role, f"{login.host}: {login.user_of}, as {login.user}"
    for include in model.includes:
        if holds(include.vars):
            yield include.role, f"{include.host}: include of {include.included}"
    for user in model.database_users:
        if holds(user.password):
            yield user.role, f"{user.host}: database user {user.name}"


def test_overriding_a_secret_owner_replaces_the_secret(models, overridden_model, inventory):
    """With every secret's owner (the role default reading vault_<secret>) set by `-e`, no file, login,
    handed-over list or database user still holds a secret's value: every place follows the owner.

    A place that still does reads the secret another way than through its owner; a secret read by
    several variables has no owner to override (test_each_secret_is_read_by_one_variable)."""
    problems = {}
    for secret in sm.secret_names():
        owner = models.secret_owners.get(secret)
        for role, place in places_holding(overridden_model, sm.fake_secrets()[f"vault_{secret}"]):
            problems.setdefault((inventory, secret, role), (
                f"{place} holds the value of vault_{secret} although its owner {owner} is overridden" if owner
                else f"{place} holds the value of vault_{secret}, which has no single owner to override"))
    check_ratchet(problems, known_on(KNOWN_UNREPLACED_SECRETS, inventory), "secrets not replaced by their owner's override")


# ---- every database password is the one its service hands to the mariadb role -----------------------------

def test_database_password_has_one_owner(overridden_model, inventory, overrides):
    """With every database password a service hands to the mariadb role set by `-e`: every task
    that creates that database user (mysql_user, in any play) and every database URL written for it
    has that password."""
    model = overridden_model
    problems = {}
    expected = {}     # database user -> the password its service hands over (overridden)
    for include, raw, rendered in sm.password_handovers(model, sm.MARIADB_DATABASES):
        user = rendered.get("user") or rendered["name"]
        variable = sm.variable_of(raw["password"])
        key = (inventory, user, f"{include.role}: include of mariadb", "password")
        if variable is None:
            problems[key] = f"hands over {raw['password']!r}: not one variable, the inventory cannot set it"
        elif expected.setdefault(user, overrides[variable]) != overrides[variable]:
            problems[key] = f"hands over {variable}, another role another variable for the same user"
    assert expected or problems, f"no role has the mariadb role create a database on {inventory}"
    created = [user for user in model.database_users if user.name in expected]
    assert created, f"no mysql_user task creates {sorted(expected)} on {inventory}"
    for user in created:
        if user.password != expected[user.name]:
            problems[(inventory, user.name, f"{user.role}: mysql_user", "password")] = (
                f"play {user.play_name!r} sets {user.password!r}, its service hands over {expected[user.name]!r}")
    for write in model.writes:
        for section, options in sections(write):
            for option, value in options.items():
                url = DATABASE_URL.match(value) if isinstance(value, str) else None
                if url and url["user"] in expected and url["password"] != expected[url["user"]]:
                    problems[(inventory, url["user"], write.writer, f"{section}.{option}")] = (
                        f"{write.target}:{write.path} connects with {url['password']!r},"
                        f" the user has {expected[url['user']]!r}")
    check_ratchet(problems, known_on(KNOWN_DATABASE_PASSWORD_COPIES, inventory), "database passwords with two owners")


# ---- role calls without Ansible's argument validation are valid --------------------------------------------

def test_unvalidated_role_calls_match_their_argument_specs(model, inventory):
    """Every role call that sets rolespec_validate: false (the service roles' calls of the internal
    role cloudlab.openstack.service, and its own calls of mariadb and keystone_register) passes the
    entry point's meta/argument_specs.yml on every host it runs on, with the values rendered for that
    host, as validate_argument_spec would at run time: a run spends no task per call on it."""
    called = {call.entry_point for call in model.calls if call.called == "service"}
    entry_points = set(yaml.safe_load((sm.ROOT / "roles" / "service" / "meta" / "argument_specs.yml").read_text())
                       ["argument_specs"]) - {"main"}
    assert called == entry_points, f"entry points of the service role no call of site.yml validates on {inventory}:" \
                                   f" {sorted(entry_points - called)}"
    problems = defaultdict(set)
    for call in model.calls:
        for error in call.errors:
            problems[(call.role, f"{call.called}/{call.entry_point}", error)].add(call.host)
    assert not problems, "\n".join(f"{role} calls {entry}: {error} (on {sorted(hosts)})"
                                    for (role, entry, error), hosts in sorted(problems.items()))


# ---- the all-in-one nova.conf keeps its database ----------------------------------------------------------

@pytest.mark.parametrize("section", ["database", "api_database"])
def test_all_in_one_nova_conf_keeps_its_database_connection(models, section):
    """nova.conf on a host of nova_controller and nova_compute, after every write in run order."""
    model = checked(models.as_is["aio"])
    writes = [w for w in model.writes if w.path == NOVA_CONF and w.settings is not None]
    assert writes, f"nothing writes {NOVA_CONF} on the all-in-one host"
    connections = {w.writer: w.settings[section]["connection"] for w in writes
                   if (w.settings.get(section) or {}).get("connection") is not None}
    assert len(set(connections.values())) == 1, f"[{section}] connection must be set to one value: {connections}"
    final = sm.merge_settings([w.settings for w in writes])
    assert final.get(section, {}).get("connection") == next(iter(connections.values())), (
        f"[{section}] connection of {NOVA_CONF} is {final.get(section, {}).get('connection')!r} after"
        f" {[w.writer for w in writes]}, set by {sorted(connections)}")


# ---- the guide's kernel parameters per node type ------------------------------------------------------------

NODE_SYSCTL_FILE = "/etc/sysctl.d/60-cloudlab.conf"
# The guide's /etc/sysctl.conf lines on its network node ("启用IP转发") and its compute nodes
# ("启用Linux转发") that the node types set, by node-type group and host. (neutron's OVS agent writes
# its own copy, with the bridge-nf-call-* keys, to 60-neutron.conf.)
NODE_SYSCTLS = {
    "network": {"net.ipv4.ip_forward": 1, "net.ipv4.conf.all.rp_filter": 0, "net.ipv4.conf.default.rp_filter": 0},
    "compute": {"net.ipv4.conf.all.rp_filter": 0, "net.ipv4.conf.default.rp_filter": 0},
}
NODE_TYPE_HOSTS = {"lab": {"network": ["osnetwork"], "compute": ["oscompute1", "oscompute2"]},
                   "aio": {"network": ["aio"], "compute": ["aio"]}}


def test_node_types_kernel_parameters(model, inventory):
    """Each host's 60-cloudlab.conf holds the kernel parameters of its node types, and only those."""
    expected = {}
    for node_type, hosts in NODE_TYPE_HOSTS[inventory].items():
        for host in hosts:
            expected.setdefault(host, {}).update(NODE_SYSCTLS[node_type])
    written = {}
    for write in model.writes:
        if write.path == NODE_SYSCTL_FILE:
            written.setdefault(write.target, {}).update(sm.merge_settings([write.settings]).get("sysctl", {}))
    assert written == expected


# ---- the all-in-one fixture follows the lab ---------------------------------------------------------------

def _groups(hosts_yml):
    """{group: (sorted children, whether it lists hosts)} of an inventory file."""
    found = {}

    def visit(name, group):
        group = group or {}
        found[name] = (sorted(group.get("children") or {}), bool(group.get("hosts")))
        for child, data in (group.get("children") or {}).items():
            visit(child, data)

    visit("all", yaml.safe_load(Path(hosts_yml).read_text())["all"])
    return found


def test_aio_inventory_mirrors_the_lab(models):
    lab, aio = sm.INVENTORIES["lab"], sm.INVENTORIES["aio"]
    assert _groups(aio) == _groups(lab), "the all-in-one inventory must have the lab's groups and children"
    model = models.as_is["aio"]
    assert {host for _, hosts in model.plays for host in hosts} == {"aio"}
    # Every lab group variable a role or another kept variable reads, without the lab's SSH settings.
    lab_vars = yaml.safe_load((lab.parent / "group_vars" / "all" / "main.yml").read_text())
    aio_vars = yaml.safe_load((aio.parent / "group_vars" / "all.yml").read_text())
    roles_text = "\n".join(p.read_text(errors="replace") for p in (sm.ROOT / "roles").rglob("*") if p.is_file())
    needed = {name for name in lab_vars if not name.startswith("ansible_") and re.search(rf"\b{name}\b", roles_text)}
    needed |= {name for name in lab_vars for kept in needed if re.search(rf"\b{name}\b", str(lab_vars[kept]))}
    assert needed, "no lab group variable is read by a role"
    assert needed <= set(aio_vars), f"the all-in-one inventory lacks {sorted(needed - set(aio_vars))}"
    assert not [name for name in aio_vars if name.startswith("ansible_ssh")], "no SSH settings in the all-in-one"


# ---- the model's readers of credentials ------------------------------------------------------------------

@pytest.mark.parametrize("value, found", [
    ({"auth_url": "http://k:5000/v3", "username": "admin", "password": "p", "project_name": "admin"}, [("admin", "p")]),
    ({"OS_AUTH_URL": "u", "OS_USERNAME": "demo", "OS_PASSWORD": "d", "OS_PROJECT_NAME": "demo"}, [("demo", "d")]),
    ([{"name": "demo", "password": "d", "roles": [{"role": "member", "project": "demo"}]}, {"name": "service"}],
     [("demo", "d")]),
    ({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "password": "a"}}}}},
     [("admin", "a")]),
    ({"DEBIAN_FRONTEND": "noninteractive"}, []),
    ("<runtime item>", []),
])
def test_credentials_finds_every_user_with_a_password(value, found):
    assert list(sm.credentials(value)) == found


@pytest.mark.parametrize("args, environment, found", [
    ({"argv": ["keystone-manage", "bootstrap", "--bootstrap-username", "root", "--bootstrap-project-name", "x"]},
     {"OS_BOOTSTRAP_PASSWORD": "a"}, [("root", "a")]),
    ({"argv": ["keystone-manage", "bootstrap"]}, {"OS_BOOTSTRAP_PASSWORD": "a"}, [("admin", "a")]),
    ({"argv": ["openstack", "flavor", "list"]}, {"OS_PASSWORD": "a"}, []),
    # the keystone role's files/keystone_bootstrap.py: keystone-manage's arguments, the password on stdin
    ({"argv": ["runuser", "-u", "keystone", "--", "python3", "-I", "-c", "<script>", "bootstrap",
               "--bootstrap-username", "root"], "stdin": "s"}, {}, [("root", "s")]),
    ({"argv": ["python3", "-c", "<script>", "bootstrap"], "stdin": "s"}, {}, [("admin", "s")]),
    ({"argv": ["rabbitmqctl", "add_user", "openstack"], "stdin": "s"}, {}, []),
    ({"argv": ["keystone-manage", "bootstrap"]}, {}, []),
])
def test_bootstrap_credentials(args, environment, found):
    assert list(sm.bootstrap_credentials(args, environment)) == found


@pytest.mark.parametrize("content, found", [
    ("clouds:\n  admin:\n    auth:\n      username: admin\n      password: a\n      project_name: admin\n",
     [("admin", "a")]),
    ({"clouds": {"demo": {"auth": {"username": "demo", "password": "d"}}}}, [("demo", "d")]),
    ("[DEFAULT]\ndebug = true\n", []),
    ("a: [unclosed\n", []),
])
def test_file_credentials_reads_a_clouds_yaml(content, found):
    assert list(sm.file_credentials(content)) == found
