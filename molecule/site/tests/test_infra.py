"""Proves playbooks/nodes.yml and playbooks/infra.yml on the whole table: every node's base, the
network and compute node types' kernel parameters, the infra node's services.

Negative checks (root, guest, closed ports) run ON another lab node, the controller (the guide
installs the MySQL driver there; its services' packages bring it); checks that need a secret run
from this machine (on the internal network too), so no secret is ever put on a command line.
"""
import re
import shlex
import socket

import pymysql
import pytest

from lab_testinfra import RUNNER, SECRETS_FILE, TOP, VAULT_PASS, ansible_playbook, node, secrets, var

INFRA = RUNNER.get_hosts("infra")[0]
CLIENTS = [h for h in RUNNER.get_hosts("all") if h != INFRA]
CLIENT = RUNNER.get_hosts("controller")[0]
INFRA_IP = var(INFRA, "internal_ip")
SERVICE_DATABASES = ["keystone", "glance", "placement", "nova_api", "nova", "nova_cell0",
                     "neutron", "cinder", "heat", "gnocchi", "aodh"]

# A minimal AMQP 0-9-1 client (PLAIN login up to Connection.Tune), as a script that runs on a
# node with nothing but python3. Prints "accepted" or "rejected".
AMQP_LOGIN = r'''
import socket, struct, sys
def login(host, port, user, password):
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"AMQP\x00\x00\x09\x01")
    def frame():
        head = b""
        while len(head) < 7:
            chunk = s.recv(7 - len(head))
            if not chunk:
                return None
            head += chunk
        size = struct.unpack(">I", head[3:7])[0]
        body = b""
        while len(body) < size + 1:
            chunk = s.recv(size + 1 - len(body))
            if not chunk:
                return None
            body += chunk
        return struct.unpack(">HH", body[:4])
    assert frame() == (10, 10), "no Connection.Start"
    sstr = lambda b: bytes([len(b)]) + b
    response = b"\x00" + user.encode() + b"\x00" + password.encode()
    payload = (struct.pack(">HH", 10, 11) + struct.pack(">I", 0) + sstr(b"PLAIN")
               + struct.pack(">I", len(response)) + response + sstr(b"en_US"))
    s.sendall(struct.pack(">BHI", 1, 0, len(payload)) + payload + b"\xce")
    try:
        reply = frame()
    except OSError:
        reply = None
    return "accepted" if reply == (10, 30) else "rejected"
'''


def amqp_login(host, port, user, password):
    scope = {}
    exec(AMQP_LOGIN, scope)  # the same code the nodes run
    return scope["login"](host, port, user, password)


def listening(host, port):
    return sorted(s for s in host.socket.get_listening_sockets() if s.endswith(f":{port}"))


# ---- MariaDB --------------------------------------------------------------------------------

def test_mysqld_listens_on_internal_ip_only():
    assert listening(node(INFRA), 3306) == [f"tcp://{INFRA_IP}:3306"]


def test_mysql_root_has_no_network_or_password_login():
    infra = node(INFRA)
    # On the node: a non-root OS user cannot be MariaDB's root (unix_socket), with or without -p.
    for cmd in ("runuser -u nobody -- mariadb -u root -e 'SELECT 1'",
                "runuser -u nobody -- mariadb -u root -pguess -e 'SELECT 1'",
                f"mariadb -h {INFRA_IP} -u root -e 'SELECT 1'"):
        result = infra.run(cmd)
        assert result.rc != 0 and "denied" in result.stderr.lower(), cmd
    # From another node, over the network.
    client = node(CLIENT)
    for password in ("", "root"):
        probe = client.run(
            "python3 -c \"import pymysql,sys\n"
            "try:\n pymysql.connect(host=sys.argv[1], user='root', password=sys.argv[2], connect_timeout=5)\n"
            " print('LOGGED-IN')\n"
            "except pymysql.err.OperationalError as e:\n print('ERROR', e.args[0])\" %s '%s'" % (INFRA_IP, password))
        assert probe.rc == 0 and probe.stdout.startswith("ERROR 1045"), probe.stdout + probe.stderr


def test_service_databases_and_users_exist():
    infra = node(INFRA)
    dbs = infra.check_output("mariadb -N -e 'SHOW DATABASES'").split()
    assert set(SERVICE_DATABASES) <= set(dbs)
    assert "test" not in dbs
    users = set(infra.check_output("mariadb -N -e \"SELECT CONCAT(user, '@', host) FROM mysql.user\"").split())
    for user in ("keystone", "glance", "placement", "nova", "neutron", "cinder", "heat", "gnocchi", "aodh"):
        assert {f"{user}@%", f"{user}@localhost"} <= users
    assert {u for u in users if u.startswith("root@")} <= {"root@localhost"}
    assert not any(u.startswith("@") for u in users), "anonymous users left"


def test_service_users_log_in_over_the_network():
    values = secrets()
    for db, user in (("keystone", "keystone"), ("nova_cell0", "nova"), ("glance", "glance")):
        conn = pymysql.connect(host=INFRA_IP, user=user, password=values[f"{user}_dbpass"], database=db,
                               connect_timeout=5)
        with conn.cursor() as cur:
            cur.execute("SELECT @@character_set_server, @@default_storage_engine")
            assert cur.fetchone() == ("utf8mb4", "InnoDB")
        conn.close()
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(host=INFRA_IP, user="keystone", password="wrong", connect_timeout=5)


# ---- RabbitMQ -------------------------------------------------------------------------------

def test_rabbitmq_listens_on_internal_ip_only():
    infra = node(INFRA)
    assert listening(infra, 5672) == [f"tcp://{INFRA_IP}:5672"]


def test_rabbitmq_rejects_guest_from_another_node():
    client = node(CLIENT)
    script = AMQP_LOGIN + f"\nprint(login({INFRA_IP!r}, 5672, 'guest', 'guest'))\n"
    result = client.run("python3 -c %s" % shlex.quote(script))
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "rejected"


def test_rabbitmq_accepts_the_deployment_user_only_with_its_password():
    assert amqp_login(INFRA_IP, 5672, "openstack", secrets()["rabbit_pass"]) == "accepted"
    assert amqp_login(INFRA_IP, 5672, "openstack", "wrong") == "rejected"


def test_rabbitmq_has_no_guest_user():
    infra = node(INFRA)
    users = infra.check_output("rabbitmqctl --quiet list_users")
    assert "openstack" in users and "guest" not in users


# ---- memcached ------------------------------------------------------------------------------

def test_memcached_listens_on_internal_ip_only():
    infra = node(INFRA)
    assert listening(infra, 11211) == [f"tcp://{INFRA_IP}:11211"]
    with socket.create_connection((INFRA_IP, 11211), timeout=5) as s:
        s.sendall(b"version\r\n")
        assert s.recv(100).startswith(b"VERSION ")


# ---- firewall -------------------------------------------------------------------------------

def test_firewall_opens_only_the_service_ports():
    client = node(CLIENT)
    probe = ("python3 -c \"import socket,sys\n"
             "try:\n socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3); print('open')\n"
             "except OSError: print('closed')\" %s %s")
    # epmd listens on every address: only the firewall keeps it from the other nodes.
    expected = {3306: "open", 5672: "open", 11211: "open", 22: "open", 4369: "closed", 25672: "closed"}
    seen = {port: client.check_output(probe % (INFRA_IP, port)) for port in expected}
    assert seen == expected


# ---- chrony -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CLIENTS)
def test_chrony_client_synchronised_to_infra(name):
    host = node(name)
    # waitsync polls every second, at most 90 times: bounded, no blind sleep.
    assert host.run("chronyc waitsync 90 0 0 1").rc == 0
    tracking = host.check_output("chronyc -n tracking")
    assert f"({INFRA_IP})" in tracking
    assert "Leap status     : Normal" in tracking
    sources = host.check_output("chronyc -n sources")
    assert f"^* {INFRA_IP}" in sources


def test_chrony_server_serves_its_local_clock():
    infra = node(INFRA)
    tracking = infra.check_output("chronyc -n tracking")
    assert "Stratum         : 10" in tracking
    assert listening_udp(infra, 123)


def listening_udp(host, port):
    return [s for s in host.socket.get_listening_sockets() if s.startswith("udp://") and s.endswith(f":{port}")]


# ---- base -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [INFRA] + CLIENTS)
def test_base(name):
    host = node(name)
    assert host.check_output("hostname") == name
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Asia/Shanghai"
    assert host.check_output("date +%Z") == "CST"
    for other in [INFRA] + CLIENTS:
        assert host.check_output(f"getent hosts {other}").split()[0] == var(other, "public_ip")
    assert host.service("cloudlab-firewall").is_enabled
    assert "policy drop" in host.check_output("nft list chain inet cloudlab input")


@pytest.mark.parametrize("name", RUNNER.get_hosts("network"))
def test_network_sysctl_from_the_guide(name):
    """cloudlab.openstack.network_node: the guide's "启用IP转发" lines."""
    host = node(name)
    conf = host.file("/etc/sysctl.d/60-cloudlab.conf")
    assert conf.contains("net.ipv4.ip_forward=1") and conf.contains("net.ipv4.conf.all.rp_filter=0")
    assert host.check_output("sysctl -n net.ipv4.ip_forward") == "1"
    assert host.check_output("sysctl -n net.ipv4.conf.all.rp_filter") == "0"
    assert host.check_output("sysctl -n net.ipv4.conf.default.rp_filter") == "0"


@pytest.mark.parametrize("name", RUNNER.get_hosts("compute"))
def test_compute_sysctl_from_the_guide(name):
    """cloudlab.openstack.compute_node: the guide's "启用Linux转发" lines (the firewall: base)."""
    host = node(name)
    assert host.file("/etc/sysctl.d/60-cloudlab.conf").contains("net.ipv4.conf.all.rp_filter=0")
    assert host.check_output("sysctl -n net.ipv4.conf.all.rp_filter") == "0"
    assert host.check_output("sysctl -n net.ipv4.conf.default.rp_filter") == "0"
    rules = host.check_output("nft list chain inet cloudlab input")
    assert "gre" in rules and "4789" in rules and "5900-5999" in rules


# ---- secrets --------------------------------------------------------------------------------

def test_secrets_file_is_vault_encrypted():
    raw = SECRETS_FILE.read_text()
    assert raw.startswith("$ANSIBLE_VAULT;")
    assert oct(SECRETS_FILE.stat().st_mode & 0o777) == "0o600"
    assert oct(VAULT_PASS.stat().st_mode & 0o777) == "0o600"
    values = secrets()
    assert {"admin_pass", "rabbit_pass", "keystone_dbpass", "metadata_secret", "swift_hash_path_prefix",
            "horizon_secret_key"} <= set(values)
    leaked = [name for name, value in values.items() if value in raw]
    assert not leaked, f"plain text in the secrets file: {leaked}"


@pytest.mark.changes_cloud  # would rewrite the deployment's secrets if the role regressed
def test_secrets_are_not_regenerated():
    """The secrets step again, as an operator re-runs it: nothing changes, nothing is printed."""
    before = (SECRETS_FILE.read_bytes(), secrets())
    run = ansible_playbook(TOP / "playbooks" / "secrets.yml")
    assert run.returncode == 0, run.stdout[-3000:]
    assert re.search(r"\bchanged=0\b", run.stdout) and not re.search(r"\bchanged=[1-9]", run.stdout), run.stdout[-3000:]
    assert (SECRETS_FILE.read_bytes(), secrets()) == before
    printed = [name for name, value in before[1].items() if value in run.stdout + run.stderr]
    assert not printed, printed
