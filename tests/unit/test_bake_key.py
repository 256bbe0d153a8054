"""tools/bake-key (issue 21): the key of a host's baked image changes with what the bake's
`ansible-playbook --tags TAGS` run reads for that host, and with nothing else.

Two subjects, each run of the script a subprocess (a couple of seconds):
- a small playbook in tmp_path (FIXTURE: roles beside the playbook, an inventory with fake secrets),
  copied and changed one file at a time;
- the real site.yml with the lab inventory and an existing tag (glance_install), in a copy of the
  checkout linked as the collection, so a change to a role never touches this checkout.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_model import ROOT  # noqa: E402  pylint: disable=wrong-import-position

BAKE_KEY = ROOT / "tools" / "bake-key"

# Fake secrets of the fixture inventory: none may reach the output, and changing them changes no key.
SECRETS = ("fake-inline-password", "fake-secrets-file-login", "fake-group-token", "fake-nested-password", "fake-secrets-file-value",
           "fake-vaulted-value", "fake-inline-vault-value", "fake-host-vars-key")
VAULT_PASSWORD = "fixture-vault-password"

FIXTURE = {
    "site.yml": """
- name: Web servers
  hosts: web
  roles:
    - role: app
      tags: app
- name: Database server
  hosts: db
  tasks:
    - name: Install the database
      ansible.builtin.apt: {name: postgresql, state: present}
      tags: [packages]
    - name: Configure the database
      ansible.builtin.template: {src: db.conf.j2, dest: /etc/db.conf}
      tags: [config]
""",
    "templates/db.conf.j2": "port = 5432\n",
    "roles/app/defaults/main.yml": "app_port: 8080\n",
    "roles/app/meta/main.yml": "dependencies: [common]\n",
    "roles/common/defaults/main.yml": "common_mirror: http://deb.example/\n",
    "roles/app/vars/Debian.yml": "app_packages: [nginx]\n",
    "roles/app/vars/main.yml": "__app_service: nginx\n",
    "roles/app/templates/app.conf.j2": "listen {{ app_port }};\n",
    "roles/app/templates/sources.list.j2": "deb http://deb.example/ stable main\n",
    "roles/app/tasks/main.yml": """
- name: Load the data of this OS family
  ansible.builtin.include_vars: "{{ ansible_facts['os_family'] }}.yml"
  tags: [packages, config]
- name: Packages
  ansible.builtin.import_tasks: install.yml
  tags: [packages]
- name: Configure the app
  ansible.builtin.template: {src: app.conf.j2, dest: /etc/app.conf}
  tags: [config]
- name: Check the inputs on every run
  ansible.builtin.assert: {that: [app_port | int > 0]}
  tags: [always]
- name: More packages, included when the run gets here
  ansible.builtin.include_tasks:
    file: extra.yml
    apply: {tags: [packages]}
  tags: [packages]
""",
    "roles/app/tasks/install.yml": """
- name: Package sources
  ansible.builtin.template: {src: sources.list.j2, dest: /etc/apt/sources.list.d/app.list}
- name: Install the app
  ansible.builtin.apt:
    name: "{{ app_packages }}"
    state: present
  environment: {DEBIAN_FRONTEND: noninteractive}
""",
    "roles/app/tasks/extra.yml": """
- name: Install the app's tools
  ansible.builtin.apt: {name: [curl], state: present}
""",
    # web1 and web3 alike; web2 the same but also in the group `monitored` (no play targets it).
    "inventory/hosts.yml": """
all:
  vars:
    ansible_password: fake-inline-password
  children:
    web:
      hosts:
        web1: {ansible_host: 10.0.0.1}
        web2: {ansible_host: 10.0.0.1}
        web3: {ansible_host: 10.0.0.1}
    monitored:
      hosts:
        web2: {}
    db:
      hosts:
        db1: {ansible_host: 10.0.0.2}
""",
    "inventory/group_vars/all/main.yml": """
app_region: lab
api_token: fake-group-token
app_users:
  - {name: alice, password: fake-nested-password}
""",
    # What playbooks/secrets.yml writes, here in plain text: skipped by its name, never read (a
    # variable not named like a secret too).
    "inventory/group_vars/all/secrets.yml": "vault_admin_pass: fake-secrets-file-value\nadmin_login: fake-secrets-file-login\n",
}


def vault(text):
    """`text` encrypted as ansible-vault does (the script has no password: it must not need it)."""
    from ansible.parsing.vault import VaultLib, VaultSecret  # pylint: disable=import-outside-toplevel
    return VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))]).encrypt(text).decode()


def write_fixture(top: Path):
    for name, text in FIXTURE.items():
        (top / name).parent.mkdir(parents=True, exist_ok=True)
        (top / name).write_text(text.lstrip("\n"))
    # A vault-encrypted host_vars file and an inline !vault value: skipped unread.
    (top / "inventory/host_vars").mkdir()
    (top / "inventory/host_vars/db1.yml").write_text(vault("db_admin: fake-vaulted-value\n"))
    inline = "  " + vault("fake-inline-vault-value").replace("\n", "\n  ")
    (top / "inventory/host_vars/web1.yml").write_text(f"web_api_key: fake-host-vars-key\nweb_cert: !vault |\n{inline}\n")


def run(top: Path, *arguments, inventory=None, playbook=None, config=None):
    """tools/bake-key on the tree `top`: its output parsed as JSON."""
    config = config or top / "ansible.cfg"
    if not config.exists():
        config.write_text(f"[defaults]\ncollections_path = {ROOT / '.collections'}\nretry_files_enabled = False\n"
                          f"local_tmp = {top}/.tmp\n")
    environment = dict(os.environ, ANSIBLE_CONFIG=str(config), ANSIBLE_NOCOLOR="1", PYTHONDONTWRITEBYTECODE="1")
    environment.pop("ANSIBLE_VAULT_PASSWORD_FILE", None)
    command = [sys.executable, str(BAKE_KEY), "-i", str(inventory or top / "inventory"),
               "--playbook", str(playbook or top / "site.yml"), *arguments]
    done = subprocess.run(command, env=environment, cwd=top, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


# ---- the fixture ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fixture_tree(tmp_path_factory):
    top = tmp_path_factory.mktemp("bake-key-fixture")
    write_fixture(top)
    return top


@pytest.fixture(scope="module")
def baseline(fixture_tree):
    return run(fixture_tree, "--tags", "packages")


@pytest.fixture
def changed(fixture_tree, tmp_path):
    """A copy of the fixture, changed by the test: edit(name, old, new) then keys()."""
    top = tmp_path / "tree"
    shutil.copytree(fixture_tree, top, ignore=shutil.ignore_patterns("ansible.cfg", ".tmp"))

    class Changed:
        path = top

        @staticmethod
        def edit(name, old, new):
            text = (top / name).read_text()
            assert old in text, f"{old!r} not in {name}"
            (top / name).write_text(text.replace(old, new))

        @staticmethod
        def keys(*arguments):
            return run(top, "--tags", "packages", *arguments)
    return Changed


def differing(before, after):
    assert before.keys() == after.keys()
    return {host for host in before if before[host] != after[host]}


def test_same_inputs_same_keys(fixture_tree, baseline):
    assert set(baseline) == {"web1", "web2", "web3", "db1"}
    assert all(len(key) == 40 for key in baseline.values())
    assert run(fixture_tree, "--tags", "packages") == baseline


@pytest.mark.parametrize("name, old, new", [
    # a task under the tag (imported with the tag)
    ("roles/app/tasks/install.yml", "state: present", "state: latest"),
    # a task of a dynamic include under the tag (tagged by its `apply`)
    ("roles/app/tasks/extra.yml", "[curl]", "[curl, jq]"),
    # the template a task under the tag writes
    ("roles/app/templates/sources.list.j2", "stable", "testing"),
    # the OS family's package list (include_vars)
    ("roles/app/vars/Debian.yml", "[nginx]", "[nginx, nginx-extras]"),
    # the defaults of the role's meta dependency
    ("roles/common/defaults/main.yml", "deb.example", "deb.example.org"),
], ids=["task", "included-task", "template", "os-vars", "dependency-defaults"])
def test_the_install_path_changes_the_keys_of_its_hosts(changed, baseline, name, old, new):
    changed.edit(name, old, new)
    assert differing(baseline, changed.keys()) == {"web1", "web2", "web3"}


def test_configuration_and_always_tasks_change_no_key(changed, baseline):
    changed.edit("roles/app/tasks/main.yml", "dest: /etc/app.conf", "dest: /etc/app/app.conf")
    changed.edit("roles/app/tasks/main.yml", "app_port | int > 0", "app_port | int > 1")
    changed.edit("roles/app/templates/app.conf.j2", "listen", "listen [::]:")
    changed.edit("site.yml", "dest: /etc/db.conf", "dest: /etc/db/db.conf")
    changed.edit("templates/db.conf.j2", "5432", "5433")
    assert differing(baseline, changed.keys()) == set()


def test_a_task_renamed_or_moved_keeps_the_key(changed, baseline):
    changed.edit("roles/app/tasks/install.yml", "- name: Install the app\n", "- name: Install the application\n")
    changed.edit("site.yml", "    - name: Install the database\n", "\n\n    - name: Install PostgreSQL\n")
    assert differing(baseline, changed.keys()) == set()


def test_group_names_are_part_of_the_key(baseline):
    assert baseline["web1"] == baseline["web3"]
    assert baseline["web2"] != baseline["web1"]


def test_the_extra_value_changes_every_key(fixture_tree, baseline):
    with_extra = run(fixture_tree, "--tags", "packages", "--extra", "sha256:0123abcd")
    assert differing(baseline, with_extra) == set(baseline)


def test_inventory_variables_count_and_secrets_do_not(changed, baseline):
    changed.edit("inventory/group_vars/all/main.yml", "fake-group-token", "fake-group-token-2")
    changed.edit("inventory/group_vars/all/main.yml", "fake-nested-password", "fake-nested-password-2")
    changed.edit("inventory/group_vars/all/secrets.yml", "fake-secrets-file-value", "fake-secrets-file-value-2")
    changed.edit("inventory/group_vars/all/secrets.yml", "fake-secrets-file-login", "fake-secrets-file-login-2")
    changed.edit("inventory/hosts.yml", "fake-inline-password", "fake-inline-password-2")
    changed.edit("inventory/host_vars/web1.yml", "fake-host-vars-key", "fake-host-vars-key-2")
    (changed.path / "inventory/host_vars/db1.yml").write_text(vault("db_admin: fake-vaulted-value-2\n"))
    assert differing(baseline, changed.keys()) == set()
    changed.edit("inventory/group_vars/all/main.yml", "app_region: lab", "app_region: prod")
    assert differing(baseline, changed.keys()) == set(baseline)


@pytest.mark.parametrize("host", ["web1", "db1"])
def test_no_secret_in_the_explanation(fixture_tree, baseline, host):
    material = run(fixture_tree, "--tags", "packages", "--explain", host)
    text = json.dumps(material)
    assert not [secret for secret in SECRETS if secret in text]
    assert "ANSIBLE_VAULT" not in text and VAULT_PASSWORD not in text
    assert material["inventory_vars"]["app_region"] == "lab"
    assert material["inventory_vars"]["app_users"] == [{"name": "alice"}]
    assert not {"ansible_password", "api_token", "vault_admin_pass", "admin_login", "web_api_key", "web_cert"} & set(material["inventory_vars"])
    actions = [task["action"] for play in material["plays"] for task in play["tasks"]]
    if host == "db1":
        assert actions == ["ansible.builtin.apt"]
    else:
        # include_vars, the sources template, the install, the include and its task; not the
        # configuration, not the always check.
        assert actions == ["ansible.builtin.include_vars", "ansible.builtin.template", "ansible.builtin.apt",
                           "ansible.builtin.include_tasks", "ansible.builtin.apt"]


# ---- the real site.yml ---------------------------------------------------------------------------

REAL_TAG = "glance_install"


@pytest.fixture(scope="module")
def checkout_copy(tmp_path_factory):
    """The collection's playbooks, roles, plugins and the lab inventory, copied and linked as
    cloudlab.openstack, with a configuration that finds them (not the checkout's .collections)."""
    top = tmp_path_factory.mktemp("bake-key-checkout")
    copy = top / "checkout"
    for name in ("site.yml", "galaxy.yml", "meta", "playbooks", "roles", "plugins", "inventory"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "secrets.yml"))
        else:
            copy.mkdir(exist_ok=True)
            shutil.copy2(source, copy / name)
    link = top / "collections" / "ansible_collections" / "cloudlab" / "openstack"
    link.parent.mkdir(parents=True)
    link.symlink_to(copy, target_is_directory=True)
    (top / "ansible.cfg").write_text(f"[defaults]\ncollections_path = {top / 'collections'}\n"
                                     f"retry_files_enabled = False\nlocal_tmp = {top}/.tmp\n")
    return copy


def real_keys(copy):
    return run(copy, "--tags", REAL_TAG, inventory=copy / "inventory" / "lab",
               playbook=copy / "site.yml", config=copy.parent / "ansible.cfg")


@pytest.fixture(scope="module")
def real_baseline(checkout_copy):
    return real_keys(checkout_copy)


def test_site_keys_do_not_depend_on_where_the_checkout_is(real_baseline):
    """The checkout itself (its ansible.cfg and .collections link) and the copy: the same keys, for
    the lab's 12 nodes; twice the same."""
    here = run(ROOT, "--tags", REAL_TAG, inventory=ROOT / "inventory" / "lab", playbook=ROOT / "site.yml",
               config=ROOT / "ansible.cfg")
    assert len(here) == 12
    assert here == real_baseline


def test_the_bakes_keys_do_not_depend_on_where_the_checkout_is(checkout_copy):
    """The lab's own tag: nova's background play carries ansible-core's argument validation of the
    role under `packages`, whose arguments hold the role's absolute path (the compute nodes' keys
    differed between the lab's checkout and CI's clone of the same commit)."""
    def keys(top, config):
        return run(top, "--tags", "packages", inventory=top / "inventory" / "lab", playbook=top / "site.yml",
                   config=config)
    assert keys(ROOT, ROOT / "ansible.cfg") == keys(checkout_copy, checkout_copy.parent / "ansible.cfg")


def edit_real(copy, name, old, new):
    path = copy / name
    original = path.read_text()
    assert old in original, f"{old!r} not in {name}"
    path.write_text(original.replace(old, new))
    return lambda: path.write_text(original)


@pytest.mark.parametrize("name, old, new", [
    # The package list of glance-api, read by cloudlab.openstack.service's install.
    ("roles/glance/vars/Debian.yml", "  - glance-api\n", "  - glance-api\n  - python3-glance-store\n"),
    # The install step itself, in the internal role glance imports.
    ("roles/service/tasks/install.yml", "install_recommends: false", "install_recommends: true"),
], ids=["package-list", "install-task"])
def test_site_install_path_changes_the_glance_node_key(checkout_copy, real_baseline, name, old, new):
    restore = edit_real(checkout_copy, name, old, new)
    try:
        assert differing(real_baseline, real_keys(checkout_copy)) == {"oscontroller"}
    finally:
        restore()


def test_site_configuration_changes_no_key(checkout_copy, real_baseline):
    """glance's configuration tasks (tag glance_config) changed, and every role's templates: no key
    changes under glance_install."""
    restores = [edit_real(checkout_copy, "roles/glance/tasks/config.yml", 'mode: "0640"', 'mode: "0600"'),
                edit_real(checkout_copy, "roles/glance/tasks/config.yml", "state: directory", "state: directory\n    recurse: true")]
    templates = sorted((checkout_copy / "roles").glob("*/templates/*"))
    assert templates
    for template in templates:
        original = template.read_bytes()
        template.write_bytes(original + b"\n# changed\n")
        restores.append(lambda template=template, original=original: template.write_bytes(original))
    try:
        assert differing(real_baseline, real_keys(checkout_copy)) == set()
    finally:
        for restore in restores:
            restore()
