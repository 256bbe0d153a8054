"""What the scenarios' testinfra tests share (each tests/conftest.py puts molecule/shared on the
import path): the lab inventory molecule hands them, nodes by name and their variables, the
deployment's secrets, OpenStack client calls with the guide's rc files, oslo ini files read back,
bounded polling, ansible-playbook runs as molecule makes them, and the check mode run of a
scenario's converge.yml.
"""
import json
import os
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

import testinfra
import testinfra.utils.ansible_runner
import yaml

# The inventory directory: molecule's own file alone has no lab groups; molecule links the lab's
# table script and group_vars next to it.
INVENTORY = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)
TOP = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[2]))
# The deployment's secrets: the lab inventory's vault-encrypted vars file (molecule links its
# group_vars next to its own inventory), made by prepare.yml with playbooks/secrets.yml.
SECRETS_FILE = TOP / "inventory" / "lab" / "group_vars" / "all" / "secrets.yml"
# ansible.cfg's vault password script: the password file it reads (and the tests check).
VAULT_SCRIPT = TOP / "scripts" / "vault-password"
VAULT_PASS = Path(os.environ.get("CLOUDLAB_VAULT_PASSWORD_FILE", Path.home() / ".cloudlab" / "vault-pass"))


def var(host, name):
    """An inventory variable of a host (internal_ip, public_ip, ...)."""
    return RUNNER.get_variables(host)[name]


def node(name):
    """A testinfra host for a lab node."""
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}")


def secrets():
    """The deployment's secrets {name: value} (the file holds vault_<name>), decrypted with
    ansible-vault and the vault password script (never put on a command line)."""
    out = subprocess.run(["ansible-vault", "view", str(SECRETS_FILE), "--vault-password-file", str(VAULT_SCRIPT)],
                         check=True, capture_output=True, text=True).stdout
    return {name.removeprefix("vault_"): value for name, value in yaml.safe_load(out).items()}


def rc_run(rc_file, command, host):
    """An OpenStack client command with an rc file sourced on `host`, as the guide does."""
    # quoted whole: a command may carry its own quotes (-c 'Stack Name')
    return node(host).run("bash -c " + shlex.quote(f". {rc_file} && {command}"))


def rc_json(rc_file, command, host):
    """rc_run with `-f json`: the parsed output; fails the test on a non-zero exit."""
    out = rc_run(rc_file, command + " -f json", host)
    assert out.rc == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def admin_json(command):
    """rc_json with the guide's adminrc on the keystone node."""
    return rc_json("/root/adminrc", command, RUNNER.get_hosts("keystone")[0])


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


def service_conf(host, path, group):
    """ini(host, path) of a service's config file, after checking it is root:GROUP 0640 (it holds
    the service's passwords)."""
    conf = node(host).file(path)
    assert (conf.user, conf.group, conf.mode) == ("root", group, 0o640), path
    return ini(host, path)


def wait_for(check, seconds=120, interval=5):
    """Polls check(), which returns (ok, detail), until ok or the time is up; returns the last
    (ok, detail). Agents and services report on their own period: no blind sleep."""
    deadline = time.monotonic() + seconds
    while True:
        ok, detail = check()
        if ok or time.monotonic() > deadline:
            return ok, detail
        time.sleep(interval)


def ansible_playbook(playbook, *args, inventories=(), json_report=False, timeout=3600):
    """ansible-playbook on molecule's inventory (plus `inventories`, later ones win for a host's
    variables) with molecule's ansible.cfg from the environment; returns the CompletedProcess.
    json_report: the ansible.posix.json callback (read it with report())."""
    # molecule forces colour; recaps and messages are parsed as text
    env = dict(os.environ, MOLECULE_PROJECT_DIRECTORY=str(TOP), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    if json_report:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    sources = [arg for inventory in [INVENTORY, *inventories] for arg in ("-i", str(inventory))]
    return subprocess.run(["ansible-playbook", *sources, str(playbook), *args],
                          capture_output=True, text=True, env=env, timeout=timeout, check=False)


def report(run):
    """The json callback's report of an ansible_playbook(..., json_report=True) run (profile_tasks
    may print around it). With several playbooks on the command line the callback prints a report
    after each, every one holding the plays run so far: the last is the whole run's."""
    decoder, text, last = json.JSONDecoder(), run.stdout, None
    position = text.find("{")
    while position != -1:
        try:
            document, position = decoder.raw_decode(text, position)
        except ValueError:
            position += 1  # a brace in profile_tasks' lines, not a report
            document = None
        if isinstance(document, dict) and "plays" in document:
            last = document
        position = text.find("{", position)
    if last is None:
        raise AssertionError(f"no json report (rc {run.returncode}): {text[-3000:]} {run.stderr[-2000:]}")
    return last


def run_play(play, timeout=600):
    """A play list (Python data) run with the json callback; fails the test on a non-zero exit;
    returns the report."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "play.yml"
        path.write_text(yaml.safe_dump(play))
        run = ansible_playbook(path, json_report=True, timeout=timeout)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return report(run)


def task_results(result, name):
    """[(host, result)] of the tasks called `name` in a json report (the callback prefixes a
    role's tasks with the role's name)."""
    return [(host, outcome) for play in result["plays"] for task in play["tasks"]
            if task["task"]["name"].split(" : ")[-1] == name for host, outcome in task["hosts"].items()]


def assert_check_mode_changes_nothing(scenario_dir, *args):
    """`ansible-playbook --check` of the scenario's converge.yml on the converged nodes: every host
    in the recap with changed=0 and failed=0. Returns the run's output (stdout + stderr)."""
    run = ansible_playbook(Path(scenario_dir) / "converge.yml", "--check", *args)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    recap = [line for line in run.stdout.splitlines() if " : ok=" in line]
    assert len(recap) == len(RUNNER.get_hosts("all")), run.stdout[-3000:]
    for line in recap:
        assert " changed=0 " in line and " failed=0 " in line, line
    return run.stdout + run.stderr
