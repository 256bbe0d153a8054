"""The lab for integration tests: lab nodes brought up once per pytest session (docs/lab.md).

Use through the session fixtures in tests/integration/conftest.py:

    def test_something(lab_nodes):
        inventory = lab_nodes(["oskeystone"])        # ensures the node is up, returns inventory/lab
        lab = lab_nodes.lab                          # the Lab below: env, ansible, ssh, ...

`Lab.ansible_env()` is the environment every ansible run against the lab should use: the
checkout's venv and ansible.cfg, and one fresh SSH ControlPath directory for the session (a
master left by another run hangs on a rebuilt node).
"""
import json
import os
import subprocess
import tempfile
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
TOOL = TOP / "tools" / "lab"
INVENTORY = TOP / "inventory" / "lab"
KEY = TOP / ".lab" / "ssh" / "id_ed25519"
LABEL = "cloudlab.lab"


def table():
    """The deployment table: {node: {internal_ip, public_ip, groups}} read from inventory/lab."""
    out = subprocess.run([str(TOP / ".venv" / "bin" / "ansible-inventory"), "-i", str(INVENTORY), "--list"],
                         cwd=TOP, env=base_env(), capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    nodes = {name: {"internal_ip": v["internal_ip"], "public_ip": v["public_ip"], "groups": []}
             for name, v in data["_meta"]["hostvars"].items()}
    for group, body in data.items():
        for host in body.get("hosts", []) if isinstance(body, dict) else []:
            if host in nodes:
                nodes[host]["groups"].append(group)
    return nodes


def base_env():
    env = dict(os.environ)
    env["PATH"] = f"{TOP / '.venv' / 'bin'}:{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(TOP / "ansible.cfg")
    return env


class Lab:
    """Brings lab nodes up on demand and remembers which ones this session already has."""

    def __init__(self):
        self.control_dir = None
        self.new_control_dir()
        self.up_nodes = set()

    def new_control_dir(self):
        """A fresh SSH ControlPath directory: masters in the old one may point at removed nodes.
        Short path under /tmp: UNIX sockets are limited to 107 bytes and %C adds 40."""
        self.control_dir = tempfile.mkdtemp(prefix="cloudlab-cp.")
        return self.control_dir

    def ansible_env(self, **extra):
        env = base_env()
        env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(self.control_dir)
        env.update(extra)
        return env

    def tool(self, *args, timeout=1800, check=True):
        """Runs tools/lab; returns the CompletedProcess (output captured)."""
        proc = subprocess.run([str(TOOL), *args], cwd=TOP, env=self.ansible_env(), capture_output=True,
                              text=True, timeout=timeout)
        if args and args[0] in ("up", "down", "rebuild"):
            self.new_control_dir()
        if check and proc.returncode != 0:
            raise AssertionError(f"tools/lab {' '.join(args)} failed (rc={proc.returncode}):\n"
                                 f"{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
        return proc

    def ensure(self, nodes):
        """Makes sure `nodes` (names or groups) are up; returns the inventory path."""
        nodes = [nodes] if isinstance(nodes, str) else list(nodes)
        wanted = [n for n in nodes if n not in self.up_nodes]
        if wanted:
            self.tool("up", "--nodes", ",".join(wanted))
            self.up_nodes.update(wanted)
        return INVENTORY

    def forget(self, nodes=None):
        """Tells the session that nodes (default: all) are no longer known to be up."""
        if nodes is None:
            self.up_nodes.clear()
        else:
            self.up_nodes.difference_update(nodes)

    def up(self, *args):
        proc = self.tool("up", *args)
        return proc

    def down(self, *args):
        proc = self.tool("down", *args)
        self.forget()
        return proc

    def ansible(self, pattern, module, module_args=None, timeout=600, **env_extra):
        """Ad-hoc ansible against the lab; returns {host: result} from the json callback.
        env_extra: more environment, e.g. ANSIBLE_STRATEGY="linear" for plain SSH."""
        cmd = ["ansible", "-i", str(INVENTORY), pattern, "-m", module]
        if module_args is not None:
            cmd += ["-a", module_args]
        env = self.ansible_env(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                               ANSIBLE_NOCOLOR="1", **env_extra)
        proc = subprocess.run(cmd, cwd=TOP, env=env, capture_output=True, text=True, timeout=timeout)
        start = proc.stdout.find("{")
        if start < 0:
            raise AssertionError(f"no json from ansible (rc={proc.returncode}): {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
        report, _ = json.JSONDecoder().raw_decode(proc.stdout[start:])  # profile_tasks may follow
        results = {}
        for play in report["plays"]:
            for task in play["tasks"]:
                results.update(task["hosts"])
        return results

    def ssh(self, node, command, check=True, timeout=120):
        proc = subprocess.run([str(TOOL), "ssh", node, command], cwd=TOP, env=self.ansible_env(),
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"ssh {node} {command!r} failed (rc={proc.returncode}): {proc.stderr[-2000:]}")
        return proc


def podman(*args):
    """podman on the host; returns stdout lines."""
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, check=True)
    return [line for line in proc.stdout.splitlines() if line.strip()]
