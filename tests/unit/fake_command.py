"""Fake commands for the unit tests that prove no secret reaches a command line or a process
environment (issue 23): a fake put first on PATH records each call - its arguments, its environment
and its ancestors' command lines - as a JSON line, and the tests look for the passwords there.

A fake's script is Python text starting with `#!PYTHON` (replaced by this interpreter) that
includes RECORDER, which defines `call`; the fake adds what it wants and appends json.dumps(call) to
its calls file.
"""
import json
import sys

RECORDER = r'''
def ancestors():
    """The command lines of this process's ancestors: the module's interpreter, the shell that
    started it (where Ansible writes a task's environment), ansible-playbook."""
    lines, pid = [], os.getppid()
    while pid > 1:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                lines.append(f.read().replace(b"\0", b" ").decode(errors="replace"))
            with open("/proc/%d/stat" % pid) as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            break
    return lines


call = {"argv": sys.argv, "environ": open("/proc/self/environ", "rb").read().decode(errors="replace"),
        "ancestors": ancestors()}
'''


def install(bin_dir, name, script):
    """Write the fake `name` into bin_dir (made if missing), runnable by this interpreter."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(script.replace("PYTHON", sys.executable, 1))
    path.chmod(0o755)
    return path


def read_calls(path):
    """The calls a fake recorded in its calls file, oldest first; [] when it never ran."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def recap(done, host="infra"):
    """The host's counters (ok, changed, failed, ...) from ansible-playbook's recap."""
    line = next(line for line in done.stdout.splitlines() if line.startswith(host) and "ok=" in line)
    return {key: int(value) for key, value in (part.split("=") for part in line.split()[2:])}


def assert_no_password_exposed(done, logged, *passwords):
    """None of the passwords in a call's arguments, environment or ancestors' command lines, nor in
    ansible-playbook's output."""
    for password in passwords:
        for call in logged:
            assert password not in " ".join(call["argv"]), call["argv"]
            assert password not in call["environ"]
            assert not [line for line in call["ancestors"] if password in line], "on an ancestor's command line"
        assert password not in done.stdout and password not in done.stderr
