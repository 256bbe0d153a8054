"""Time building the guide's three swift rings: cloudlab.openstack.swift_ring vs swift-ring-builder.

CLI: the guide's sequence verbatim (3 x create 18 3 1, 27 x add, 3 x rebalance), one process per
command as an operator runs it. Module: one ansible-playbook run of
tests/integration/targets/swift_ring/rings.yml (the same devices), on localhost with
/usr/bin/python3. Then a no-change re-run of the module, timed two ways: the whole ansible-playbook
process, and the task itself (the three module runs, from the json callback's task duration).

Usage: python benchmarks/swift_ring.py [--part-power 18] [--runs 1]
Run from the checkout with the venv on PATH (make venv), with python3-swift and swift installed.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
PLAYBOOK = TOP / "tests" / "integration" / "targets" / "swift_ring" / "rings.yml"
NODES = ((1, "192.168.182.144", "10.0.100.139"), (2, "192.168.182.145", "10.0.100.140"),
         (3, "192.168.182.146", "10.0.100.141"))
PORTS = {"account": (6002, 6005), "container": (6001, 6004), "object": (6000, 6003)}


def cli_sequence(part_power):
    """The guide's commands, in the guide's order."""
    cmds = [[f"{r}.builder", "create", str(part_power), "3", "1"] for r in PORTS]
    for zone, ip, rip in NODES:
        for disk in ("loop0", "loop1", "loop2"):
            for ring, (port, rport) in PORTS.items():
                cmds.append([f"{ring}.builder", "add", f"z{zone}-{ip}:{port}R{rip}:{rport}/{disk}", "100"])
    cmds += [[f"{r}.builder", "rebalance"] for r in PORTS]
    return cmds


def time_cli(directory, part_power):
    start = time.monotonic()
    for args in cli_sequence(part_power):
        proc = subprocess.run(["swift-ring-builder"] + args, cwd=directory, capture_output=True, text=True, check=False)
        if proc.returncode not in (0, 1):
            sys.exit("swift-ring-builder %s failed: %s" % (" ".join(args), proc.stdout + proc.stderr))
    return time.monotonic() - start


# The same loop of three module runs with ansible.builtin.ping: what Ansible itself costs
# (AnsiballZ, a Python start per item) before swift_ring does anything.
PING = """- hosts: localhost
  gather_facts: false
  vars: {ansible_python_interpreter: /usr/bin/python3}
  tasks:
    - ansible.builtin.ping:
      loop: [account, container, object]
"""


def run_module(directory, part_power, playbook=PLAYBOOK):
    """Returns (wall seconds of ansible-playbook, seconds of its first task, task result)."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    cmd = ["ansible-playbook", "-i", "localhost,", "-c", "local", str(playbook),
           "-e", json.dumps({"swift_ring_dir": str(directory), "swift_ring_part_power": part_power})]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=TOP, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    if proc.returncode:
        sys.exit("ansible-playbook failed:\n" + proc.stdout[-3000:] + proc.stderr[-3000:])
    report, dummy = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("\n{") + 1:])
    task = report["plays"][0]["tasks"][0]
    span = task["task"]["duration"]
    task_seconds = (datetime.fromisoformat(span["end"].rstrip("Z"))
                    - datetime.fromisoformat(span["start"].rstrip("Z"))).total_seconds()
    return wall, task_seconds, task["hosts"]["localhost"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part-power", type=int, default=18)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    rows = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            cli_dir, mod_dir = Path(tmp, "cli"), Path(tmp, "module")
            cli_dir.mkdir()
            mod_dir.mkdir()
            cli = time_cli(cli_dir, args.part_power)
            build_wall, build_task, built = run_module(mod_dir, args.part_power)
            assert built["changed"], "the module did not build the rings"
            again_wall, again_task, again = run_module(mod_dir, args.part_power)
            assert not again["changed"], "the re-run changed something"
            ping = Path(tmp, "ping.yml")
            ping.write_text(PING)
            ping_wall, ping_task, dummy = run_module(mod_dir, args.part_power, playbook=ping)
            rows.append((cli, build_wall, build_task, again_wall, again_task, ping_wall, ping_task))
            print("run %d: cli %.2fs | module build %.2fs (task %.2fs) | no-change re-run %.2fs (task %.2fs)"
                  " | ping baseline %.2fs (task %.2fs)" % ((run + 1,) + rows[-1]))
    best = [min(col) for col in zip(*rows)]
    cli, build_wall, build_task, again_wall, again_task, ping_wall, ping_task = best
    print()
    print("part power %d, 3 rings x 9 devices, best of %d run(s) on %d cores"
          % (args.part_power, args.runs, os.cpu_count()))
    print("swift-ring-builder sequence (33 commands):  %7.2f s" % cli)
    print("swift_ring build (ansible-playbook):        %7.2f s  ratio module/cli %.2f (goal <= 1.2)"
          % (build_wall, build_wall / cli))
    print("  of which the swift_ring task:             %7.2f s" % build_task)
    print("swift_ring no-change re-run (playbook):     %7.2f s" % again_wall)
    print("  of which the swift_ring task (3 rings):   %7.2f s  (goal < 1 s)" % again_task)
    print("same loop with ansible.builtin.ping:        %7.2f s  (task %.2f s: Ansible's own cost)"
          % (ping_wall, ping_task))
    print("swift_ring's own no-change cost per ring:   %7.2f s  ((task - ping task) / 3)"
          % max((again_task - ping_task) / 3, 0.0))


if __name__ == "__main__":
    main()
