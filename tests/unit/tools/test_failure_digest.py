"""tools/failure-digest reads molecule's framed output: failed tasks, failed tests, crashes."""
import pathlib
import subprocess
import sys

DIGEST = pathlib.Path(__file__).resolve().parents[3] / "tools" / "failure-digest"

FRAMED_LOG = """\
  \x1b[2m│\x1b[0m TASK [cloudlab.openstack.glance : Start glance-api]
  \x1b[2m│\x1b[0m fatal: [oscontroller]: FAILED! => changed=false
  \x1b[2m│\x1b[0m   msg: Unable to start service glance-api
  \x1b[2m│\x1b[0m TASK [Ignored probe]
  \x1b[2m│\x1b[0m fatal: [osnetwork]: FAILED! => changed=false
  \x1b[2m│\x1b[0m   msg: probe failed
  \x1b[2m│\x1b[0m ...ignoring
FAILED molecule/site/tests/test_heat.py::test_stack - AssertionError
  \x1b[2m│\x1b[0m Traceback (most recent call last):
  \x1b[2m│\x1b[0m   File "/usr/lib/python3.11/shlex.py", line 329, in quote
  \x1b[2m│\x1b[0m     if _find_unsafe(s) is None:
  \x1b[2m│\x1b[0m TypeError: expected string or bytes-like object, got 'int'
=== stage molecule-site: rc=1 in 2697s
"""


def digest(tmp_path, text):
    log = tmp_path / "test.log"
    log.write_text(text, encoding="utf-8")
    return subprocess.run([sys.executable, str(DIGEST), str(log)], check=True,
                          capture_output=True, text=True).stdout


def test_digest_names_task_host_message_test_crash_and_stage(tmp_path):
    out = digest(tmp_path, FRAMED_LOG)
    assert "task: cloudlab.openstack.glance : Start glance-api | oscontroller | msg: Unable to start service glance-api" in out
    assert "Ignored probe" not in out
    assert "test: FAILED molecule/site/tests/test_heat.py::test_stack - AssertionError" in out
    assert "crash: TypeError: expected string or bytes-like object, got 'int'" in out
    assert "stages failed: molecule-site rc=1 2697s" in out


def test_digest_of_a_clean_log_names_nothing(tmp_path):
    out = digest(tmp_path, "=== stage lint: rc=0 in 60s\nPLAY RECAP\n")
    assert "stages failed: none" in out
    assert "task:" not in out and "crash:" not in out


SNAPSHOT_LOG = """\
=== stage molecule-site: rc=2 in 2757s
snapshot osceph1 | age | 2400 /usr/bin/dpkg --status-fd 9 --configure procps:amd64
snapshot osceph1 | age | 12 /usr/bin/python3
snapshot osceph1 | job | 123 procps.service start running
snapshot oskeystone | age | 5 /usr/lib/apt/methods/http
snapshot osceph1 | net | ESTAB 0 0 10.0.100.17:40122 10.0.100.1:3142 users:(("http",pid=77,fd=3))
snapshot host | cache | Mon Dec 1 10:00:00 2026|Error: Connection timeout
"""


def test_digest_keeps_the_snapshots_old_processes_and_jobs_only(tmp_path):
    out = digest(tmp_path, SNAPSHOT_LOG)
    assert "stuck: osceph1: 2400s /usr/bin/dpkg --status-fd 9 --configure procps:amd64" in out
    assert "stuck: osceph1: job 123 procps.service start running" in out
    assert "12 /usr/bin/python3" not in out and "oskeystone" not in out


def test_digest_keeps_the_connections_and_cache_errors_of_the_snapshot(tmp_path):
    out = digest(tmp_path, SNAPSHOT_LOG)
    assert 'stuck: osceph1: net ESTAB 0 0 10.0.100.17:40122 10.0.100.1:3142 users:(("http",pid=77,fd=3))' in out
    assert "stuck: host: cache Mon Dec 1 10:00:00 2026|Error: Connection timeout" in out
