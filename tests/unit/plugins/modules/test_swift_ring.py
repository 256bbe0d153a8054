"""swift_ring: main() run in-process on real temporary files.

The venv cannot import swift (tests/unit/plugins/module_utils/test_swift_ring.py explains why and
drives the real RingBuilder under /usr/bin/python3; tests/integration/test_swift_ring.py runs the
module itself through ansible-playbook). Here: argument handling, the clear failure when swift is
missing, and state=absent, which needs no swift.
"""
import json

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
