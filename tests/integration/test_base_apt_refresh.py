"""The base role's refresh of apt's package lists under a deadline, on a real lab node.

A mirror that answers and then sends one byte every few seconds keeps `apt-get update` waiting
forever: apt's own Acquire::http::Timeout (30 s in the lab) counts silence, and this mirror is never
silent that long. CI lost 1200 s twice to a refresh stalled like that. Proven here: apt alone is
still waiting when the test stops it; the role kills each try at its deadline, tries again, then
fails with its message and leaves no apt process and no lock behind; with the stalled source gone,
the next run refreshes and changes nothing.
"""
import socketserver
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parents[2]
PLAY = TOP / "tests" / "integration" / "targets" / "base" / "apt_refresh.yml"
NODE = "oskeystone"  # keystone[0], the play's host
STALLED_LIST = "/etc/apt/sources.list.d/zz-stalled-mirror.list"
DEADLINE = 6  # seconds per try (base_apt_update_timeout)


class Trickle(socketserver.StreamRequestHandler):
    """Answers 200 with a long body and sends it one byte every 2 seconds."""

    def handle(self):
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            while not self.server.stopping.is_set():
                self.wfile.write(b"x")
                self.wfile.flush()
                self.server.stopping.wait(2)
        except OSError:
            pass  # apt (or the role's deadline) closed the connection


class TrickleServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def stalled_mirror(lab_nodes):
    """A trickling mirror on the host's lab address, named in NODE's apt sources; removed after."""
    lab_nodes([NODE])
    group_vars = yaml.safe_load((TOP / "inventory" / "lab" / "group_vars" / "all" / "main.yml").read_text())
    server = TrickleServer((group_vars["lab_host_internal_ip"], 0), Trickle)
    server.stopping = threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address
    lab = lab_nodes.lab
    lab.ssh(NODE, f"echo 'deb [trusted=yes] http://{host}:{port}/stalled bookworm main' > {STALLED_LIST}")
    # lists older than the role's cache_valid_time, so the role refreshes them
    lab.ssh(NODE, "touch -d '1 day ago' /var/lib/apt/lists")
    yield lab
    lab.ssh(NODE, f"rm -f {STALLED_LIST}", check=False)
    server.stopping.set()
    server.shutdown()
    server.server_close()


def refresh(lab, deadline=None):
    cmd = ["ansible-playbook", str(PLAY)]
    if deadline is not None:
        cmd += ["-e", f"base_apt_update_timeout={deadline}"]
    return subprocess.run(cmd, cwd=TOP, env=lab.ansible_env(ANSIBLE_NOCOLOR="1"), capture_output=True,
                          text=True, timeout=600, check=False)


def apt_processes(lab):
    out = lab.ssh(NODE, "ps -eo args= | grep -E '^(apt-get|/usr/lib/apt/methods/)' || true").stdout
    return [line for line in out.splitlines() if line.strip()]


def apt_gone(lab, wait=30):
    """The job wrapper kills the last try at its deadline, checking every few seconds: poll."""
    until = time.monotonic() + wait
    while apt_processes(lab):
        if time.monotonic() > until:
            return False
        time.sleep(1)
    return True


def test_a_stalled_refresh_is_killed_retried_and_reported(stalled_mirror):
    lab = stalled_mirror
    # apt alone: still waiting when stopped (timeout's exit code 124), although its Timeout is 30 s
    alone = lab.ssh(NODE, "timeout 45 apt-get update -qq; echo rc=$?", timeout=120).stdout
    assert "rc=124" in alone, alone
    assert not apt_processes(lab)

    started = time.monotonic()
    proc = refresh(lab, deadline=DEADLINE)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert "FAILED - RETRYING: [%s]: Refresh apt's package lists" % NODE in output, output[-3000:]
    # the last try ended at its deadline: coreutils timeout's exit code
    assert '"rc": 124' in output or "rc: 124" in output, output[-3000:]
    # every try was killed at its deadline: 4 tries and 3 pauses, far from the 1200 s of a hang
    assert time.monotonic() - started < 4 * DEADLINE + 3 * 5 + 120
    assert apt_gone(lab), "the role's deadline left apt running: %s" % apt_processes(lab)

    lab.ssh(NODE, f"rm -f {STALLED_LIST}")
    proc = refresh(lab)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert f"{NODE}" in proc.stdout and "changed=0" in proc.stdout.split("PLAY RECAP", 1)[1]
    # the lists are usable and unlocked: apt refreshes again at once
    lab.ssh(NODE, "apt-get update -qq")
