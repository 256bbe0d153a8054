"""roles/keystone/files/keystone_bootstrap.py (issue 23): keystone-manage bootstrap gets the admin's
password from standard input, in the argument list its entry point parses, never in the process's
command line or environment.

The script runs here against a stand-in for keystone.cmd.cli (keystone is not installed on the
controller) that records what keystone-manage's main() would get and what /proc shows of its own
process. The role runs it with `python3 -I` (no PYTHONPATH); here PYTHONPATH is how the stand-in
is found, so the tests run it without -I.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parents[2]
SCRIPT = TOP / "roles" / "keystone" / "files" / "keystone_bootstrap.py"
TASKS = TOP / "roles" / "keystone" / "tasks" / "bootstrap.yml"

STAND_IN = '''
import json, os, sys

def main(argv=None, developer_config_file=None):
    with open("/proc/self/cmdline", "rb") as f:
        cmdline = f.read().decode(errors="replace")
    with open("/proc/self/environ", "rb") as f:
        environ = f.read().decode(errors="replace")
    with open(os.environ["STAND_IN_RECORD"], "w") as f:
        json.dump({"argv": argv, "cmdline": cmdline, "environ": environ,
                   "env_password": os.environ.get("OS_BOOTSTRAP_PASSWORD")}, f)
'''

ARGS = ["bootstrap", "--bootstrap-username", "admin", "--bootstrap-project-name", "admin"]


def run(tmp_path, stdin, args=ARGS, extra_env=None):
    package = tmp_path / "stand_in" / "keystone" / "cmd"
    package.mkdir(parents=True, exist_ok=True)
    (package.parent / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "cli.py").write_text(STAND_IN)
    record = tmp_path / "record.json"
    # pytest names the running test, parameters included, in PYTEST_CURRENT_TEST
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
    env.update(PYTHONPATH=str(tmp_path / "stand_in"), STAND_IN_RECORD=str(record), **(extra_env or {}))
    done = subprocess.run([sys.executable, "-c", SCRIPT.read_text(), *args], input=stdin, env=env,
                          capture_output=True, text=True, check=False, timeout=60)
    return done, (json.loads(record.read_text()) if record.exists() else None)


@pytest.mark.parametrize("password", ["Zq81secretPassword", "-starts-with-a-dash", " spaces kept "])
def test_the_password_reaches_keystone_manage_and_no_process_listing(tmp_path, password):
    done, seen = run(tmp_path, password, extra_env={"OS_BOOTSTRAP_PASSWORD": "stray"})
    assert done.returncode == 0, done.stderr
    assert seen["argv"] == ["keystone-manage", *ARGS, f"--bootstrap-password={password}"]
    assert password not in seen["cmdline"]
    assert password not in seen["environ"]
    # a stray environment variable would win over the option in keystone-manage: it is dropped
    assert seen["env_password"] is None


@pytest.mark.parametrize("stdin, args", [("", ARGS), ("secret", ["db_sync"]), ("secret", [])])
def test_refuses_without_a_password_or_bootstrap(tmp_path, stdin, args):
    done, seen = run(tmp_path, stdin, args)
    assert done.returncode != 0
    assert seen is None
    assert "secret" not in done.stderr


def test_the_role_hands_the_password_on_stdin():
    task = next(task for task in yaml.safe_load(TASKS.read_text()) if task["name"].startswith("Bootstrap keystone"))
    args = task["ansible.builtin.command"]
    argv = args["argv"]
    assert argv[:5] == ["runuser", "-u", "{{ __keystone_user }}", "--", "{{ __keystone_python }}"]
    assert argv[5:8] == ["-I", "-c", "{{ lookup('ansible.builtin.file', 'keystone_bootstrap.py') }}"]
    assert argv[8] == "bootstrap"
    assert args["stdin"] == "{{ openstack_admin_password }}" and args["stdin_add_newline"] is False
    assert "environment" not in task
    assert task["no_log"] == "{{ keystone_no_log }}"
