"""Time and count the keystone registration of the guide's 8 services and 8 service users.

Against the keystone that tests/integration/targets/keystone/setup.yml installs on the lab's
oskeystone (this script runs that playbook first; it resets the bootstrap admin's password, so do
not run it while the keystone integration test runs). It registers the services and users once,
then re-runs (nothing to change) and prints, per variant, the API calls the modules report and
the time of the task as Ansible measured it (module transfer and run on the node included), and
the wall time of the whole ansible-playbook run:

  services, one task (`services:` list)     8 services x 3 endpoints
  services, one task per service (a loop)   as roles that each register their own service do
  service users, one task                   8 users, role admin in project service,
                                            update_password: always (one token request each)

Usage: .venv/bin/python benchmarks/keystone_register.py [--runs N]      (from the checkout root; lab tooling)
"""
import argparse
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
TARGET = TOP / "tests" / "integration" / "targets" / "keystone"
NODE = "oskeystone"
sys.path.insert(0, str(TOP / "tests" / "integration"))

from lab import Lab  # noqa: E402  pylint: disable=wrong-import-position


def seconds(task):
    d = task["task"]["duration"]
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    return (datetime.strptime(d["end"], fmt) - datetime.strptime(d["start"], fmt)).total_seconds()


def play(lab, playbook, extra):
    with tempfile.NamedTemporaryFile("w", suffix=".json") as varfile:
        json.dump(extra, varfile)
        varfile.flush()
        cmd = ["ansible-playbook", "-i", str(TOP / "inventory" / "lab"), str(TARGET / playbook),
               "-e", "@" + varfile.name]
        env = lab.ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1")
        start = time.monotonic()
        proc = subprocess.run(cmd, cwd=TOP, env=env, capture_output=True, text=True, timeout=1800,
                              check=False)
        wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("%s failed:\n%s" % (playbook, (proc.stdout + proc.stderr)[-3000:]))
    report, dummy = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("\n{") + 1:])
    return report["plays"][0]["tasks"], wall


def measure(lab, extra, pick):
    """One run: (task seconds, API calls, changed) of the task `pick` selects, and the wall time."""
    tasks, wall = play(lab, "guide_services.yml", extra)
    task = [t for t in tasks if pick(t)][0]
    result = task["hosts"][NODE]
    items = result.get("results") or [result]
    calls = sum(r.get("api_calls", 0) for r in items)
    changed = any(r.get("changed") for r in items)
    return seconds(task), calls, changed, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="no-change runs per variant")
    args = parser.parse_args()

    lab = Lab()
    lab.ensure([NODE])
    password = secrets.token_urlsafe(18)
    dummy, wall = play(lab, "setup.yml", {"keystone_test_admin_password": password})
    auth = {"auth_url": "http://10.0.100.149:5000/v3", "username": "admin", "password": password,
            "project_name": "admin", "user_domain_name": "Default",
            "project_domain_name": "Default"}
    base = {"keystone_test_auth": auth, "keystone_test_user_password": secrets.token_urlsafe(18),
            "keystone_test_suffix": "-bench"}
    variants = [
        ("services, one task (services: list of 8)",
         dict(base, keystone_test_mode="batch", keystone_test_users=False),
         lambda t: "services" in t["task"]["name"] and "one task" in t["task"]["name"]),
        ("services, one task per service (loop of 8)",
         dict(base, keystone_test_mode="loop", keystone_test_users=False),
         lambda t: "one task per service" in t["task"]["name"]),
        ("service users, one task (8 users, update_password: always)",
         dict(base, keystone_test_mode="none", keystone_test_users=True),
         lambda t: "service users" in t["task"]["name"]),
    ]
    print("keystone registration of the guide's 8 services / 8 service users on %s" % NODE)
    print("%-60s %9s %9s %10s %9s" % ("variant", "first run", "no-change", "API calls", "wall"))
    for label, extra, pick in variants:
        # remove what the variant registers, so that its first run creates everything
        cleanup = dict(extra, keystone_test_state="absent")
        if cleanup["keystone_test_mode"] == "loop":
            cleanup["keystone_test_mode"] = "batch"
        play(lab, "guide_services.yml", cleanup)
        first = measure(lab, extra, pick)
        assert first[2], "%s: the first run changed nothing" % label
        runs = [measure(lab, extra, pick) for dummy in range(args.runs)]
        assert not any(r[2] for r in runs), "%s: a re-run reported changed" % label
        print("%-60s %8.2fs %8.2fs %10d %8.2fs" % (
            label, first[0], statistics.median(r[0] for r in runs), runs[0][1],
            statistics.median(r[3] for r in runs)))
    print("(first run: creates; no-change: median task time of %d re-runs; API calls: of one "
          "re-run, token requests included; wall: whole ansible-playbook run)" % args.runs)


if __name__ == "__main__":
    main()
