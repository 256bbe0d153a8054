"""Proves playbooks/keystone.yml (and the keystone_register role, through glance's registration)
on the whole table.

Token requests run ON another lab node (the controller, the guide's "other node" of its checks)
through a short ansible-playbook whose passwords sit in a 0600 vars file: no secret is put on any
command line. The rc files are tried on the keystone node with the OpenStack client, as the guide
does.
"""
import json
import socket
import tempfile
from pathlib import Path

import pytest

from lab_testinfra import RUNNER, node, rc_run, run_play, secrets, task_results, var

KEYSTONE = RUNNER.get_hosts("keystone")[0]
OTHER = RUNNER.get_hosts("controller")[0]

INTERNAL_IP = var(KEYSTONE, "internal_ip")
PUBLIC_IP = var(KEYSTONE, "public_ip")
# The guide's endpoints (public 192.168.182.154, internal and admin 10.0.100.149) in today's
# form: keystone v3, the admin endpoint on :5000 like the others (35357 is gone).
PUBLIC_URL = f"http://{PUBLIC_IP}:5000/v3"
INTERNAL_URL = f"http://{INTERNAL_IP}:5000/v3"
ADMIN_URL = INTERNAL_URL


def tokens_from(host, requests):
    """POST /v3/auth/tokens on `host` for each request ({url, user, password, project});
    returns [{'status': int, 'token': body or None}] in order."""
    with tempfile.TemporaryDirectory() as tmp:
        vars_file = Path(tmp) / "requests.json"
        vars_file.touch(mode=0o600)
        vars_file.write_text(json.dumps({"token_requests": requests}))
        play = [{
            "hosts": host, "gather_facts": False, "vars_files": [str(vars_file)],
            "tasks": [
                {"name": "Request tokens", "no_log": True, "register": "tokens",
                 "loop": "{{ token_requests }}", "loop_control": {"label": "{{ item.user }}"},
                 "ansible.builtin.uri": {
                     "url": "{{ item.url }}/auth/tokens", "method": "POST", "body_format": "json",
                     "status_code": [201, 401], "timeout": 30,
                     "body": {"auth": {
                         "identity": {"methods": ["password"], "password": {"user": {
                             "name": "{{ item.user }}", "domain": {"name": "Default"},
                             "password": "{{ item.password }}"}}},
                         "scope": {"project": {"name": "{{ item.project }}", "domain": {"name": "Default"}}}}}}},
                {"name": "Report", "ansible.builtin.debug": {
                    "msg": "{{ tokens.results | map(attribute='status') | zip(tokens.results | map(attribute='json', default=None)) | list }}"}},
            ]}]
        msg = dict(task_results(run_play(play, timeout=300), "Report"))[host]["msg"]
    return [{"status": status, "token": (body or {}).get("token")} for status, body in msg]


def keystone_rc(rc_file, command):
    """An OpenStack client command on the keystone node with an rc file sourced, as the guide does."""
    return rc_run(rc_file, command, KEYSTONE)


@pytest.fixture(scope="module")
def values():
    return secrets()


@pytest.fixture(scope="module")
def issued(values):
    """Tokens for admin and demo on the public and the internal endpoint, requested from the other
    node, plus one with a wrong password."""
    asks = [
        {"url": INTERNAL_URL, "user": "admin", "password": values["admin_pass"], "project": "admin"},
        {"url": PUBLIC_URL, "user": "admin", "password": values["admin_pass"], "project": "admin"},
        {"url": INTERNAL_URL, "user": "demo", "password": values["demo_pass"], "project": "demo"},
        {"url": PUBLIC_URL, "user": "demo", "password": values["demo_pass"], "project": "demo"},
        {"url": INTERNAL_URL, "user": "demo", "password": "not-" + values["demo_pass"], "project": "demo"},
        {"url": INTERNAL_URL, "user": "glance", "password": values["glance_pass"], "project": "service"},
    ]
    results = tokens_from(OTHER, asks)
    return dict(zip(["admin_internal", "admin_public", "demo_internal", "demo_public", "demo_wrong",
                     "glance"], results))


# ---- the service -------------------------------------------------------------------------------

def test_keystone_runs_under_uwsgi_on_5000():
    host = node(KEYSTONE)
    assert host.service("keystone").is_enabled
    assert host.service("keystone").is_running
    listening = [s for s in host.socket.get_listening_sockets() if s.endswith(":5000")]
    assert listening, host.socket.get_listening_sockets()
    # Debian's init script runs /usr/bin/uwsgi_python3XX with the package's ini file.
    uwsgi = [p for p in host.process.filter() if p.comm.startswith("uwsgi") and "keystone-uwsgi.ini" in p.args]
    assert uwsgi and all(":5000" in p.args for p in uwsgi), "keystone is not served by uWSGI on :5000"


def test_keystone_conf():
    host = node(KEYSTONE)
    conf = host.file("/etc/keystone/keystone.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "keystone", 0o640)
    text = conf.content_string
    infra_ip = var(RUNNER.get_hosts("mariadb")[0], "internal_ip")
    assert f"@{infra_ip}/keystone?charset=utf8mb4\n" in text and "\nconnection = mysql+pymysql://keystone:" in text
    assert "\nprovider = fernet\n" in text
    assert f"\nmemcache_servers = {infra_ip}:11211\n" in text
    assert "\nbackend = oslo_cache.memcache_pool\n" in text


def test_database_schema_is_current():
    check = node(KEYSTONE).run("su -s /bin/sh -c 'keystone-manage db_sync --check' keystone")
    assert check.rc == 0, check.stderr[-2000:]


# ---- tokens and catalog, from another node -----------------------------------------------------

@pytest.mark.parametrize("which", ["admin_internal", "admin_public", "demo_internal", "demo_public"])
def test_token_issued_from_another_node(issued, which):
    assert issued[which]["status"] == 201
    user = which.split("_")[0]
    assert issued[which]["token"]["user"]["name"] == user
    assert issued[which]["token"]["project"]["name"] == user


def test_wrong_password_is_refused(issued):
    assert issued["demo_wrong"]["status"] == 401


def test_demo_is_member_of_demo(issued):
    roles = {r["name"] for r in issued["demo_internal"]["token"]["roles"]}
    assert "member" in roles and "admin" not in roles


def test_catalog_lists_the_identity_endpoints(issued):
    catalog = issued["admin_internal"]["token"]["catalog"]
    identity = [s for s in catalog if s["type"] == "identity"]
    assert len(identity) == 1 and identity[0]["name"] == "keystone"
    endpoints = sorted((e["interface"], e["url"], e["region_id"]) for e in identity[0]["endpoints"])
    assert endpoints == sorted([("public", PUBLIC_URL, "RegionOne"), ("internal", INTERNAL_URL, "RegionOne"),
                                ("admin", ADMIN_URL, "RegionOne")])
    if KEYSTONE == "oskeystone":  # the lab is the guide's table: its addresses, exactly
        assert (PUBLIC_URL, INTERNAL_URL) == ("http://192.168.182.154:5000/v3", "http://10.0.100.149:5000/v3")


def test_keystone_caches_in_memcached(issued):
    assert issued["admin_internal"]["status"] == 201
    infra_ip = var(RUNNER.get_hosts("memcached")[0], "internal_ip")
    with socket.create_connection((infra_ip, 11211), timeout=5) as conn:
        conn.sendall(b"stats\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = conn.recv(4096)
            assert chunk, "memcached closed the connection"
            data += chunk
    stats = dict(line.split()[1:3] for line in data.decode().splitlines() if line.startswith("STAT "))
    assert int(stats["curr_items"]) > 0 and int(stats["cmd_set"]) > 0, stats


# ---- keystone_register, from the controller ----------------------------------------------------

def test_registered_service_and_user(issued):
    glance = issued["glance"]
    assert glance["status"] == 201
    assert "admin" in {r["name"] for r in glance["token"]["roles"]}
    image = [s for s in glance["token"]["catalog"] if s["type"] == "image"]
    assert len(image) == 1 and image[0]["name"] == "glance"
    controller = RUNNER.get_hosts("glance")[0]
    want = sorted([("public", f"http://{var(controller, 'public_ip')}:9292"),
                   ("internal", f"http://{var(controller, 'internal_ip')}:9292"),
                   ("admin", f"http://{var(controller, 'internal_ip')}:9292")])
    assert sorted((e["interface"], e["url"]) for e in image[0]["endpoints"]) == want


# ---- the guide's adminrc and demorc ------------------------------------------------------------

@pytest.mark.parametrize("rc_file,user", [("/root/adminrc", "admin"), ("/root/demorc", "demo")])
def test_rc_file(rc_file, user):
    rc = node(KEYSTONE).file(rc_file)
    assert (rc.user, rc.group, rc.mode) == ("root", "root", 0o600)
    text = rc.content_string
    assert f"export OS_USERNAME={user}\n" in text
    assert f"export OS_AUTH_URL={INTERNAL_URL}\n" in text
    assert "export OS_IDENTITY_API_VERSION=3\n" in text
    issue = keystone_rc(rc_file, "openstack token issue -f json")
    assert issue.rc == 0, issue.stderr[-2000:]
    token = json.loads(issue.stdout)
    assert token["id"] and token["project_id"] and token["expires"]


def test_adminrc_sees_the_guide_projects_and_users():
    projects = keystone_rc("/root/adminrc", "openstack project list -f json -c Name")
    assert projects.rc == 0, projects.stderr[-2000:]
    assert {"admin", "service", "demo"} <= {p["Name"] for p in json.loads(projects.stdout)}
    grants = keystone_rc("/root/adminrc", "openstack role assignment list --user demo --project demo --names -f json")
    assert grants.rc == 0, grants.stderr[-2000:]
    assert [g["Role"] for g in json.loads(grants.stdout)] == ["member"]


def test_demorc_is_not_admin():
    users = keystone_rc("/root/demorc", "openstack user list -f json")
    assert users.rc != 0
    assert "403" in users.stderr or "not authorized" in users.stderr.lower(), users.stderr[-2000:]


# ---- fernet keys -------------------------------------------------------------------------------

@pytest.mark.changes_cloud  # rotates the deployment's fernet keys
def test_fernet_rotation_keeps_issuing_tokens(values):
    host = node(KEYSTONE)
    keys = host.file("/etc/keystone/fernet-keys")
    assert (keys.user, keys.mode) == ("keystone", 0o700)
    before = sorted(int(k) for k in keys.listdir())
    assert host.service("keystone-fernet-rotate.timer").is_enabled
    assert host.service("keystone-fernet-rotate.timer").is_running
    rotate = host.run("systemctl start keystone-fernet-rotate.service")
    assert rotate.rc == 0, rotate.stderr
    after = sorted(int(k) for k in keys.listdir())
    # the staged key 0 became primary (the new highest number); at most max_active_keys = 3 stay
    assert after[0] == 0 and after[-1] == before[-1] + 1 and len(after) == min(len(before) + 1, 3)
    again = tokens_from(OTHER, [{"url": INTERNAL_URL, "user": "demo", "password": values["demo_pass"],
                                 "project": "demo"}])
    assert again[0]["status"] == 201
