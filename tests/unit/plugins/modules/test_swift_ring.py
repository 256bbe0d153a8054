"""swift_ring: main() run in-process on real temporary files.

The venv cannot import swift (tests/unit/plugins/module_utils/test_swift_ring.py explains why and
drives the real RingBuilder under /usr/bin/python3; tests/integration/test_swift_ring.py runs the
module itself through ansible-playbook). Here: argument handling, the clear failure when swift is
missing, state=absent, and the converged fast path, none of which imports swift: a run that got to
swift would fail here with the missing-library message.
"""
import hashlib
import json
import subprocess
import sys

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cloudlab.openstack.plugins.modules import swift_ring


def run(args, capsys, check=False, diff=False):
    if check:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            swift_ring.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def ring_dir(tmp_path):
    (tmp_path / "object.builder").write_bytes(b"builder")
    (tmp_path / "object.ring.gz").write_bytes(b"ring")
    return tmp_path


@pytest.mark.parametrize("args, message", [
    ({"ring": "objects"}, "ring must be account, container, object or object-N"),
    ({"builder": "/x/object.builder", "ring": "object"}, "mutually exclusive"),
    ({}, "one of the following is required: builder, ring"),
    ({"builder": "/nonexistent/dir/object.builder"}, "directory /nonexistent/dir does not exist"),
    ({"ring": "object", "devices": [{"ip": "1.2.3.4", "port": 6000, "device": "d", "weight": 1}]},
     "missing required arguments: zone"),
], ids=["bad-ring-name", "builder-and-ring", "neither", "no-directory", "device-without-zone"])
def test_argument_errors(args, message, capsys):
    result = run(args, capsys)
    assert result["failed"] and message in result["msg"]


def test_missing_swift_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(swift_ring, "HAS_SWIFT", False)
    result = run({"builder": str(tmp_path / "object.builder"), "part_power": 10, "replicas": 3,
                  "min_part_hours": 1}, capsys)
    assert result["failed"]
    assert "swift" in result["msg"] and "apt-get install python3-swift" in result["msg"]
    assert not list(tmp_path.iterdir())


def test_absent_check_mode_predicts_and_keeps_files(ring_dir, capsys):
    result = run({"ring": "object", "path": str(ring_dir), "state": "absent"}, capsys, check=True, diff=True)
    assert result["changed"] and result["builder_changed"] and result["ring_changed"]
    assert result["backup_files"] == []
    assert sorted(p.name for p in ring_dir.iterdir()) == ["object.builder", "object.ring.gz"]
    assert str(ring_dir / "object.builder") in result["diff"]["before"] and result["diff"]["after"] == ""


def test_absent_removes_with_backups_then_is_idempotent(ring_dir, capsys):
    result = run({"ring": "object", "path": str(ring_dir), "state": "absent"}, capsys)
    assert result["changed"]
    assert not (ring_dir / "object.builder").exists() and not (ring_dir / "object.ring.gz").exists()
    backups = sorted(p.name.split(".", 1)[1] for p in (ring_dir / "backups").iterdir())
    assert backups == ["object.builder", "object.ring.gz"]
    assert (ring_dir / "backups" / result["backup_files"][0].rsplit("/", 1)[1]).read_bytes() == b"builder"
    again = run({"ring": "object", "path": str(ring_dir), "state": "absent"}, capsys)
    assert not again["changed"] and again["msg"] == "nothing to remove"


def test_absent_without_backup(ring_dir, capsys):
    result = run({"builder": str(ring_dir / "object.builder"), "state": "absent", "backup": False}, capsys)
    assert result["changed"] and result["backup_files"] == []
    assert not (ring_dir / "backups").exists()


# A builder and ring made by swift's real RingBuilder under Debian's python: the guide's object
# ring at part power 6. The module, run here in the venv (where swift cannot be imported), must
# answer a converged task from the builder file alone, and go to swift for anything else.
MAKE_RING = """
import sys
from swift.common.ring import RingBuilder
b = RingBuilder(6, 3.0, 1)
for z in (1, 2, 3):
    for d in (0, 1, 2):
        b.add_dev(dict(region=1, zone=z, ip='192.168.182.%d' % (143 + z), port=6000, replication_ip='10.0.100.%d' % (138 + z),
                       replication_port=6003, device='loop%d' % d, weight=100.0, meta=''))
b.rebalance(seed=1)
b.save(sys.argv[1] + '/object.builder')
b.get_ring().save(sys.argv[1] + '/object.ring.gz')
"""
GUIDE_OBJECT_DEVICES = [
    {"zone": z, "ip": "192.168.182.%d" % (143 + z), "port": 6000, "replication_ip": "10.0.100.%d" % (138 + z),
     "replication_port": 6003, "device": "loop%d" % d, "weight": 100}
    for z in (1, 2, 3) for d in (0, 1, 2)]


@pytest.fixture
def real_ring(tmp_path):
    proc = subprocess.run(["/usr/bin/python3", "-c", MAKE_RING, str(tmp_path)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return tmp_path


def test_converged_run_needs_no_swift_import(real_ring, capsys, monkeypatch):
    monkeypatch.setattr(swift_ring, "HAS_SWIFT", True)  # installed on the target, only not importable here
    args = {"ring": "object", "path": str(real_ring), "part_power": 6, "replicas": 3, "min_part_hours": 1,
            "devices": GUIDE_OBJECT_DEVICES}
    before = {p.name: p.read_bytes() for p in real_ring.iterdir()}
    result = run(dict(args), capsys, diff=True)
    assert result["changed"] is False and not result["rebalance"]["due"]
    assert result["ring_md5"] == hashlib.md5(before["object.ring.gz"]).hexdigest()
    assert len(result["devices"]) == 9 and sum(d["parts"] for d in result["devices"]) == 3 * 64
    assert result["diff"]["before"] == result["diff"]["after"]
    assert result["diff"]["after"].startswith("part_power 6, replicas 3.0, min_part_hours 1\n")
    assert "swift" not in sys.modules
    assert {p.name: p.read_bytes() for p in real_ring.iterdir()} == before


@pytest.mark.parametrize("change", [
    {"part_power": 7}, {"min_part_hours": 2}, {"rebalance": "force"},
    {"devices": GUIDE_OBJECT_DEVICES[:8]}, {"devices": GUIDE_OBJECT_DEVICES + [dict(GUIDE_OBJECT_DEVICES[0], device="loop9")]},
], ids=["part-power", "min-part-hours", "force", "drop-device", "add-device"])
def test_anything_else_goes_to_swift(real_ring, capsys, monkeypatch, change):
    monkeypatch.setattr(swift_ring, "HAS_SWIFT", True)
    args = {"ring": "object", "path": str(real_ring), "devices": GUIDE_OBJECT_DEVICES}
    args.update(change)
    result = run(args, capsys)
    # In the venv, reaching swift means its import fails: the clear missing-library message.
    assert result["failed"] and "apt-get install python3-swift" in result["msg"]
