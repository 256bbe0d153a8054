"""Proves playbooks/horizon.yml (the guide's "Dashboard") on the whole table: horizon on the infra
node oskeystone, as the guide finally puts it, with nova and neutron in the catalog (the project
overview needs both).

testinfra on the horizon node (apache2, port 80, Debian's site, the role's local_settings.d
snippets and the settings horizon really loads), then a real browser on the host: Debian's
chromium, headless, driven by Selenium through Debian's chromedriver (nothing downloaded), logs
in as the guide's demo user at the horizon node's PUBLIC address, as the guide's user browses to
http://192.168.182.154/, and lands on the project overview. Screenshots go to the checkout's
tests/output/horizon/ (ignored by git). No secret is put on a command line or in an assertion
message.
"""
import hashlib
import json
import os
import shlex
import socket

import pytest

from lab_testinfra import RUNNER, TOP, node, secrets, var

OUTPUT = TOP / "tests" / "output" / "horizon"

HORIZON = RUNNER.get_hosts("horizon")[0]
KEYSTONE = RUNNER.get_hosts("keystone")[0]
MEMCACHED = RUNNER.get_hosts("memcached")[0]

SETTINGS_DIR = "/etc/openstack-dashboard/local_settings.d"
SETTINGS = f"{SETTINGS_DIR}/_9000_cloudlab.py"
SECRET_KEY_FILE = f"{SETTINGS_DIR}/_9001_cloudlab_secret_key.py"

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync",
                  "--window-size=1280,1024"]


PUBLIC_IP = var(HORIZON, "public_ip")
DASHBOARD = f"http://{PUBLIC_IP}/"
KEYSTONE_URL = f"http://{var(KEYSTONE, 'internal_ip')}:5000/v3"
MEMCACHED_LOCATION = f"{var(MEMCACHED, 'internal_ip')}:11211"


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def values():
    return secrets()


# ---- apache2 and Debian's site -----------------------------------------------------------------

def test_apache_serves_the_dashboard_on_80():
    host = node(HORIZON)
    assert host.package("openstack-dashboard-apache").is_installed
    assert host.service("apache2").is_enabled
    assert host.service("apache2").is_running
    listening = [s for s in host.socket.get_listening_sockets() if s.endswith(":80")]
    assert listening, host.socket.get_listening_sockets()
    # /etc/default/openstack-dashboard-apache chose the site: horizon at /, Apache's default off
    assert host.file("/etc/apache2/sites-enabled/openstack-dashboard.conf").is_symlink
    assert not host.file("/etc/apache2/sites-enabled/000-default.conf").exists
    assert not host.file("/etc/apache2/sites-enabled/openstack-dashboard-alias-only.conf").exists
    webroot = host.file(f"{SETTINGS_DIR}/_0005_debian_webroot.py").content_string.splitlines()
    assert 'WEBROOT = "/"' in webroot


# ---- local_settings ----------------------------------------------------------------------------

def test_settings_snippet():
    snippet = node(HORIZON).file(SETTINGS)
    assert (snippet.user, snippet.group, snippet.mode) == ("root", "www-data", 0o640)
    text = snippet.content_string
    assert f'OPENSTACK_KEYSTONE_URL = "{KEYSTONE_URL}"\n' in text
    assert f'OPENSTACK_HOST = "{var(KEYSTONE, "internal_ip")}"\n' in text
    assert f'"LOCATION": ["{MEMCACHED_LOCATION}"]' in text
    assert '"BACKEND": "django.core.cache.backends.memcached.MemcachedCache"' in text
    assert 'OPENSTACK_KEYSTONE_DEFAULT_DOMAIN = "Default"\n' in text
    assert 'OPENSTACK_KEYSTONE_DEFAULT_ROLE = "member"\n' in text
    assert '"identity": 3' in text
    assert f'"{PUBLIC_IP}"' in text.split("ALLOWED_HOSTS = ", 1)[1].splitlines()[0]
    assert not [line for line in text.splitlines() if line.startswith("SECRET_KEY")]
    if HORIZON == "oskeystone":  # the lab is the guide's table: its addresses, exactly
        assert 'OPENSTACK_KEYSTONE_URL = "http://10.0.100.149:5000/v3"\n' in text
        assert '"LOCATION": ["10.0.100.149:11211"]' in text


def test_secret_key_is_the_deployments_and_not_world_readable(values):
    host = node(HORIZON)
    key_file = host.file(SECRET_KEY_FILE)
    assert (key_file.user, key_file.group, key_file.mode) == ("root", "www-data", 0o640)
    assert key_file.mode & 0o007 == 0
    lines = [line for line in key_file.content_string.splitlines() if line.startswith("SECRET_KEY = ")]
    assert len(lines) == 1
    # compared as digests: a failing assertion must not print the key
    same = sha256(json.loads(lines[0].split(" = ", 1)[1])) == sha256(values["horizon_secret_key"])
    assert same, "SECRET_KEY in the snippet is not vault_horizon_secret_key"
    leaked = values["horizon_secret_key"] in host.file(SETTINGS).content_string
    assert not leaked, "the secret key is in the settings snippet"


def test_horizon_loads_these_settings(values):
    """The values Django really runs with, read by horizon's own manage.py as www-data (as root it
    would create a root-owned secret key store that apache2 could not read): the snippets win
    over local_settings.py and Debian's _0006_debian_cache.py (a LocMemCache)."""
    code = ("import hashlib, json; from django.conf import settings as s; print(json.dumps({"
            "'caches': s.CACHES, 'session_engine': s.SESSION_ENGINE, 'keystone_url': s.OPENSTACK_KEYSTONE_URL, "
            "'domain': s.OPENSTACK_KEYSTONE_DEFAULT_DOMAIN, 'role': s.OPENSTACK_KEYSTONE_DEFAULT_ROLE, "
            "'api_versions': s.OPENSTACK_API_VERSIONS, 'allowed_hosts': s.ALLOWED_HOSTS, 'webroot': s.WEBROOT, "
            "'secret_key_sha256': hashlib.sha256(s.SECRET_KEY.encode()).hexdigest()}))")
    inner = f"cd /tmp && python3 /usr/share/openstack-dashboard/manage.py shell -c {shlex.quote(code)}"
    run = node(HORIZON).run("su -s /bin/sh -c %s www-data", inner)
    assert run.rc == 0, run.stderr[-2000:]
    loaded = json.loads(run.stdout.strip().splitlines()[-1])
    assert loaded["caches"]["default"]["BACKEND"] == "django.core.cache.backends.memcached.MemcachedCache"
    assert loaded["caches"]["default"]["LOCATION"] == [MEMCACHED_LOCATION]
    assert loaded["session_engine"] == "django.contrib.sessions.backends.cache"
    assert loaded["keystone_url"] == KEYSTONE_URL
    assert (loaded["domain"], loaded["role"]) == ("Default", "member")
    assert loaded["api_versions"]["identity"] == 3
    assert PUBLIC_IP in loaded["allowed_hosts"]
    assert loaded["webroot"] == "/"
    assert loaded["secret_key_sha256"] == sha256(values["horizon_secret_key"]), "SECRET_KEY is not the vault's"


# ---- a real browser, from the host, at the public address --------------------------------------

@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        assert os.access(path, os.X_OK), f"{path} missing: apt-get install chromium chromium-driver"
    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    # An explicit driver path: Selenium Manager (which would download a driver) is not run.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def log_in(driver, user, password):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver.delete_all_cookies()
    driver.get(DASHBOARD)  # the guide: browse to the node's public address
    WebDriverWait(driver, 60).until(EC.presence_of_element_located((By.ID, "id_username")))
    assert "/auth/login/" in driver.current_url, driver.current_url
    driver.find_element(By.ID, "id_username").send_keys(user)
    driver.find_element(By.ID, "id_password").send_keys(password)
    driver.find_element(By.ID, "loginBtn").click()


def test_wrong_password_stays_on_the_login_page(browser, values):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    log_in(browser, "demo", "not-" + values["demo_pass"])
    try:
        WebDriverWait(browser, 60).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".alert-danger")))
        assert "/auth/login/" in browser.current_url
        assert "Invalid credentials" in browser.find_element(By.CSS_SELECTOR, ".alert-danger").text
    finally:
        browser.save_screenshot(str(OUTPUT / "login-refused.png"))


def test_demo_logs_in_and_sees_the_project_overview(browser, values):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    log_in(browser, "demo", values["demo_pass"])
    try:
        WebDriverWait(browser, 120).until(EC.url_to_be(f"{DASHBOARD}project/"))
        WebDriverWait(browser, 60).until(EC.title_contains("Instance Overview"))
        heading = browser.find_element(By.CSS_SELECTOR, "h3.quota-heading").text
        assert "Limit Summary" in heading
        # the user menu shows who is logged in, the project selector the demo project
        page = browser.find_element(By.TAG_NAME, "body").text
        assert "demo" in page
        session = browser.get_cookie("sessionid")
    finally:
        browser.save_screenshot(str(OUTPUT / "project-overview.png"))
    assert (OUTPUT / "project-overview.png").stat().st_size > 0
    # The session is in memcached (the guide's CACHES), under Django's cache key for it.
    assert session and session["value"]
    key = f":1:django.contrib.sessions.cache{session['value']}".encode()
    host, port = MEMCACHED_LOCATION.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(b"get " + key + b"\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = conn.recv(65536)
            assert chunk, "memcached closed the connection"
            data += chunk
    assert data.startswith(b"VALUE " + key + b" "), "the session is not in memcached"
