"""ansible-playbook on the controller alone, for the unit tests that run the collection's checks on
scratch or fake hosts: asserts, set_fact and argument validation need no connection, so the hosts
need not exist (and `gather_facts: false` or `gathering = explicit` keeps Ansible off them)."""
import os
import subprocess
import sys
from pathlib import Path

from service_model import ROOT


def run_playbook(workdir: Path, inventory, playbook, *arguments, stdout_callback=None, cwd=None):
    """ansible-playbook -i INVENTORY PLAYBOOK ARGUMENTS with a scratch configuration in workdir: the
    checkout's collection (`make venv` links it), no fact gathering, no retry files, no vault
    password script; stdout_callback, e.g. ansible.posix.json, for results to parse. Returns the
    finished process."""
    config = Path(workdir) / "ansible.cfg"
    config.write_text(f"[defaults]\ncollections_path = {ROOT / '.collections'}\nretry_files_enabled = False\n"
                      "gathering = explicit\n" + (f"stdout_callback = {stdout_callback}\n" if stdout_callback else ""))
    environment = dict(os.environ, ANSIBLE_CONFIG=str(config), ANSIBLE_LOCAL_TEMP=str(Path(workdir) / "tmp"),
                       ANSIBLE_NOCOLOR="1", PYTHONDONTWRITEBYTECODE="1")
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(inventory), str(playbook), *arguments]
    return subprocess.run(command, env=environment, cwd=cwd or workdir, capture_output=True, text=True, check=False)
