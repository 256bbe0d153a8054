"""What the scenarios' testinfra tests share (each tests/conftest.py puts molecule/shared on the
import path): the lab inventory molecule hands them, nodes by name and their variables, OpenStack
client calls with the guide's rc files, oslo ini files read back, bounded polling, and the check
mode run of a scenario's converge.yml.
"""
import json
import os
import subprocess
import time
from pathlib import Path

import testinfra
import testinfra.utils.ansible_runner

# The inventory directory: molecule's own file alone has no lab groups; molecule links the lab's
# table script and group_vars next to it.
INVENTORY = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)
TOP = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[2]))


def var(host, name):
    """An inventory variable of a host (internal_ip, public_ip, ...)."""
    return RUNNER.get_variables(host)[name]


def node(name):
    """A testinfra host for a lab node."""
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}")


def rc_run(rc_file, command, host):
    """An OpenStack client command with an rc file sourced on `host`, as the guide does."""
    return node(host).run(f"bash -c '. {rc_file} && {command}'")


def rc_json(rc_file, command, host):
    """rc_run with `-f json`: the parsed output; fails the test on a non-zero exit."""
    out = rc_run(rc_file, command + " -f json", host)
    assert out.rc == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def ini(host, path):
    """{section: {option: value}} of an oslo ini file on `host` (last value wins)."""
    sections, current = {}, None
    for line in node(host).file(path).content_string.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            current = sections.setdefault(line[1:line.index("]")], {})
        elif current is not None and "=" in line:
            key, value = line.split("=", 1)
            current[key.strip()] = value.strip()
    return sections


def wait_for(check, seconds=120, interval=5):
    """Polls check(), which returns (ok, detail), until ok or the time is up; returns the last
    (ok, detail). Agents and services report on their own period: no blind sleep."""
    deadline = time.monotonic() + seconds
    while True:
        ok, detail = check()
        if ok or time.monotonic() > deadline:
            return ok, detail
        time.sleep(interval)


def assert_check_mode_changes_nothing(scenario_dir):
    """`ansible-playbook --check` of the scenario's converge.yml on the converged nodes: every host
    in the recap with changed=0 and failed=0."""
    # molecule forces colour; the recap is parsed as text
    env = dict(os.environ, MOLECULE_PROJECT_DIRECTORY=str(TOP), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    run = subprocess.run(["ansible-playbook", "-i", INVENTORY, str(Path(scenario_dir) / "converge.yml"), "--check"],
                         capture_output=True, text=True, env=env, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    recap = [line for line in run.stdout.splitlines() if " : ok=" in line]
    assert len(recap) == len(RUNNER.get_hosts("all")), run.stdout[-3000:]
    for line in recap:
        assert " changed=0 " in line and " failed=0 " in line, line
