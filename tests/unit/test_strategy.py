"""The strategy every run uses (issue 21): ansible.cfg and molecule's base config name Mitogen's
mitogen_linear through tools/strategy/mitogen_linear.py, and ANSIBLE_STRATEGY=linear still runs
plain Ansible. A real play on this machine (connection local), no lab: under Mitogen the command's
parent is a persistent Mitogen interpreter, under linear the uploaded AnsiballZ module."""
import configparser
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]

PLAY = """
- name: Where does a module run
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The command's parent process
      ansible.builtin.command: sh -c 'ps -o args= -p $PPID'
      register: parent
      changed_when: false
    - name: Print it
      ansible.builtin.debug:
        msg: "parent={{ parent.stdout }}"
"""


def run_play(tmp_path, strategy=None):
    (tmp_path / "play.yml").write_text(PLAY)
    environment = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
                       ANSIBLE_NOCOLOR="1", ANSIBLE_FACT_CACHING="memory")
    environment.pop("ANSIBLE_STRATEGY", None)
    if strategy:
        environment["ANSIBLE_STRATEGY"] = strategy
    playbook = Path(sys.executable).with_name("ansible-playbook")
    run = subprocess.run([str(playbook), "-i", "localhost,", "-c", "local",
                          "-e", f"ansible_python_interpreter={sys.executable}", str(tmp_path / "play.yml")],
                         env=environment, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return next(line for line in run.stdout.splitlines() if '"msg": "parent=' in line)


def test_ansible_cfg_runs_plays_with_mitogen(tmp_path):
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "ansible.cfg")
    assert config["defaults"]["strategy"] == "mitogen_linear"
    assert (ROOT / config["defaults"]["strategy_plugins"] / "mitogen_linear.py").is_file()
    assert "(mitogen:" in run_play(tmp_path)


def test_linear_stays_available(tmp_path):
    parent = run_play(tmp_path, strategy="linear")
    assert "(mitogen:" not in parent and "AnsiballZ_command.py" in parent


def test_molecule_runs_what_ansible_cfg_runs():
    base = yaml.safe_load((ROOT / ".config" / "molecule" / "config.yml").read_text())
    defaults = base["ansible"]["cfg"]["defaults"]
    assert defaults["strategy"] == "mitogen_linear"
    assert defaults["strategy_plugins"] == "${MOLECULE_PROJECT_DIRECTORY}/tools/strategy"


def test_the_shim_reexports_mitogens_strategy():
    spec = importlib.util.spec_from_file_location("shim", ROOT / "tools" / "strategy" / "mitogen_linear.py")
    shim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shim)
    from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule  # pylint: disable=import-outside-toplevel
    assert shim.StrategyModule is StrategyModule
