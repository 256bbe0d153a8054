"""Planning logic of swift_ring: pure functions, table-driven.

The last tests drive swift's real RingBuilder with these functions under Debian's /usr/bin/python3
(python3-swift cannot be imported into the venv: its OpenSSL binding clashes with the venv's).
"""
import hashlib
import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from ansible_collections.cloudlab.openstack.plugins.module_utils import swift_ring as sr

TOP = Path(__file__).resolve().parents[4]


def dev(ip="192.168.182.144", port=6000, device="loop0", **kw):
    base = {"region": 1, "zone": 1, "ip": ip, "port": port, "replication_ip": "10.0.100.139",
            "replication_port": 6003, "device": device, "weight": 100.0, "meta": ""}
    base.update(kw)
    return base


def have(id_, parts=100, **kw):
    d = dev(**kw)
    d.update(id=id_, parts=parts)
    return d


# ---------------------------------------------------------------- normalize_devices

@pytest.mark.parametrize("given, expected", [
    ({"zone": 1, "ip": "1.2.3.4", "port": 6000, "device": "sdb", "weight": 100},
     {"region": 1, "zone": 1, "ip": "1.2.3.4", "port": 6000, "replication_ip": "1.2.3.4",
      "replication_port": 6000, "device": "sdb", "weight": 100.0, "meta": ""}),
    ({"region": 2, "zone": 3, "ip": "1.2.3.4", "port": "6002", "replication_ip": "10.0.0.1",
      "replication_port": 6005, "device": "loop1", "weight": "12.5", "meta": "rack a"},
     {"region": 2, "zone": 3, "ip": "1.2.3.4", "port": 6002, "replication_ip": "10.0.0.1",
      "replication_port": 6005, "device": "loop1", "weight": 12.5, "meta": "rack a"}),
    ({"zone": 1, "ip": "1.2.3.4", "port": 6000, "device": "sdb", "weight": 0, "region": None,
      "replication_ip": None, "replication_port": None, "meta": None},
     {"region": 1, "zone": 1, "ip": "1.2.3.4", "port": 6000, "replication_ip": "1.2.3.4",
      "replication_port": 6000, "device": "sdb", "weight": 0.0, "meta": ""}),
], ids=["cli-defaults", "all-given", "nulls-mean-defaults"])
def test_normalize_devices_fills_cli_defaults(given, expected):
    assert sr.normalize_devices([given]) == [expected]


@pytest.mark.parametrize("devices, message", [
    ([{"ip": "1.2.3.4", "port": 6000, "device": "sdb", "weight": 1}], "devices[0] lacks zone"),
    ([{"zone": 1, "ip": "1.2.3.4", "port": 6000, "device": "sdb", "weight": -1}], "negative weight"),
    ([{"zone": 1, "ip": "1.2.3.4", "port": 6000, "device": "/dev/sdb", "weight": 1}], "not a path"),
    ([dev(), dev(zone=2)], "devices[0] and devices[1] are both 192.168.182.144:6000/loop0"),
], ids=["missing-zone", "negative-weight", "path-as-device", "duplicate-key"])
def test_normalize_devices_refuses(devices, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        sr.normalize_devices(devices)


# ---------------------------------------------------------------- plan_devices

PLAN_CASES = [
    # (have, want, force, pending, expected counts add/update/drain/remove/draining)
    ([], [dev(), dev(device="loop1")], False, (), (2, 0, 0, 0, 0)),
    ([have(0)], [dev()], False, (), (0, 0, 0, 0, 0)),
    ([have(0)], [dev(weight=50)], False, (), (0, 1, 0, 0, 0)),
    ([have(0)], [dev(meta="x", replication_port=7000)], False, (), (0, 1, 0, 0, 0)),
    ([have(0), have(1, device="loop1")], [dev()], False, (), (0, 0, 1, 0, 0)),
    ([have(0), have(1, device="loop1", weight=0.0, parts=5)], [dev()], False, (), (0, 0, 0, 0, 1)),
    ([have(0), have(1, device="loop1", weight=0.0, parts=0)], [dev()], False, (), (0, 0, 0, 1, 0)),
    ([have(0), have(1, device="loop1")], [dev()], True, (), (0, 0, 0, 1, 0)),
    ([have(0), have(1, device="loop1", weight=0.0)], [dev()], False, (1,), (0, 0, 0, 0, 0)),
    ([have(0), None, have(2, device="loop2")], [dev(), dev(device="loop2")], False, (), (0, 0, 0, 0, 0)),
    ([have(0)], [dev(port=6001)], False, (), (1, 0, 1, 0, 0)),
]


@pytest.mark.parametrize("have_devs, want, force, pending, counts", PLAN_CASES, ids=[
    "all-new", "unchanged", "weight", "info-only", "missing-drains", "still-draining", "drained-removed",
    "force-removes", "pending-removal-ignored", "holes-in-devs", "port-is-identity"])
def test_plan_devices(have_devs, want, force, pending, counts):
    plan = sr.plan_devices(have_devs, want, force=force, pending_removal=pending)
    assert tuple(len(plan[k]) for k in ("add", "update", "drain", "remove", "draining")) == counts


def test_plan_update_names_old_and_new():
    plan = sr.plan_devices([have(3, zone=1)], [dev(zone=2, weight=50, meta="m")])
    assert plan["update"] == [{"id": 3, "key": "192.168.182.144:6000/loop0",
                               "changes": {"zone": [1, 2], "weight": [100.0, 50.0], "meta": ["", "m"]}}]


def test_plan_weight_compares_numbers_not_text():
    assert not sr.plan_devices([have(0, weight=100)], [dev(weight=100.0)])["update"]


@pytest.mark.parametrize("plan, moves, info_only, builder", [
    ({"add": [1], "update": [], "drain": [], "remove": [], "draining": []}, True, False, True),
    ({"add": [], "update": [{"changes": {"zone": [1, 2]}}], "drain": [], "remove": [], "draining": []},
     True, False, True),
    ({"add": [], "update": [{"changes": {"meta": ["", "x"]}}], "drain": [], "remove": [], "draining": []},
     False, True, True),
    ({"add": [], "update": [], "drain": [], "remove": [], "draining": [1]}, False, False, False),
    ({"add": [], "update": [], "drain": [], "remove": [1], "draining": []}, True, False, True),
], ids=["add", "zone", "meta", "draining-only", "remove"])
def test_plan_predicates(plan, moves, info_only, builder):
    assert sr.plan_moves_partitions(plan) is moves
    assert sr.plan_changes_info_only(plan) is info_only
    assert sr.plan_changes_builder(plan) is builder


class RecordingBuilder:
    """Records the RingBuilder calls apply_plan makes (the real builder is tested below)."""

    def __init__(self, devs):
        self.devs = devs
        self.calls = []

    def set_dev_weight(self, i, w):
        self.calls.append(("weight", i, w))

    def set_dev_zone(self, i, z):
        self.calls.append(("zone", i, z))

    def set_dev_region(self, i, r):
        self.calls.append(("region", i, r))

    def remove_dev(self, i):
        self.calls.append(("remove", i))

    def add_dev(self, d):
        self.calls.append(("add", d["device"]))


def test_apply_plan_uses_the_cli_calls():
    builder = RecordingBuilder([have(0), have(1, device="loop1"), have(2, device="loop2", weight=0.0, parts=0)])
    plan = sr.plan_devices(builder.devs, [dev(zone=2, meta="new"), dev(device="loop3")])
    sr.apply_plan(builder, plan)
    assert builder.calls == [("zone", 0, 2), ("weight", 1, 0.0), ("remove", 2), ("add", "loop3")]
    assert builder.devs[0]["meta"] == "new"  # info fields are edited in place, like set_info


# ---------------------------------------------------------------- rebalance decisions

def facts(**kw):
    base = {"devices": 9, "ever_rebalanced": True, "devs_changed": False, "pending_removal": [],
            "draining": [], "balance": 0.2, "overload": 0.0, "min_part_hours": 1, "min_part_seconds_left": 0}
    base.update(kw)
    return base


@pytest.mark.parametrize("given, reasons", [
    (facts(), []),
    (facts(devices=0, ever_rebalanced=False), []),
    (facts(ever_rebalanced=False, devs_changed=True), ["the ring has never been balanced"]),
    (facts(devs_changed=True), ["device changes are not balanced into the ring yet"]),
    (facts(pending_removal=[4, 5]), ["devices 4, 5 are marked for removal"]),
    (facts(draining=[3]), ["devices 3 have weight 0 but still hold partitions"]),
    (facts(balance=49.9), ["balance is 49.90: swift advises rebalancing again after min_part_hours"]),
    (facts(balance=49.9, overload=0.6), []),
    (facts(balance=4.9), []),
], ids=["converged", "empty", "new", "changed", "removal", "draining", "balance", "overload-allows",
        "balance-ok"])
def test_rebalance_reasons(given, reasons):
    assert sr.rebalance_reasons(given) == reasons
    assert sr.only_balance_reason(given) is (reasons[:1] != [] and reasons[0].startswith("balance"))


JUDGE = [
    # parts, removed, devs_changed, last_balance, balance, last_disp, disp, seconds_left, force -> verdict
    (768, 0, True, 0.0, 0.2, 0.0, 0.0, 0, False, "save"),
    (0, 0, True, 0.2, 0.2, 0.0, 0.0, 3000, False, "blocked"),
    (0, 0, False, 0.2, 0.2, 0.0, 0.0, 0, False, "nothing"),
    (0, 0, True, 0.2, 0.2, 0.0, 0.0, 0, False, "save"),
    (0, 3, True, 0.2, 0.2, 0.0, 0.0, 3000, False, "save"),
    (5, 0, False, 10.0, 9.5, 0.0, 0.0, 0, False, "unimproved"),
    (5, 0, False, 10.0, 8.0, 0.0, 0.0, 0, False, "save"),
    (5, 0, False, 10.0, 9.5, 5.0, 0.0, 0, False, "save"),
    (5, 0, False, 999.99, 999.99, 0.0, 0.0, 0, False, "save"),
    (0, 0, False, 0.2, 0.2, 0.0, 0.0, 3000, True, "save"),
]


@pytest.mark.parametrize("parts, removed, changed, lb, b, ld, d, left, force, verdict", JUDGE, ids=[
    "moved", "blocked", "nothing-to-do", "changed-but-nothing-moves", "removal-beats-min-part-hours",
    "cowardly", "balance-improved", "dispersion-improved", "max-balance", "force"])
def test_judge_rebalance_follows_the_cli(parts, removed, changed, lb, b, ld, d, left, force, verdict):
    assert sr.judge_rebalance(parts, removed, changed, lb, b, ld, d, left, force=force) == verdict


@pytest.mark.parametrize("seconds, text", [(0, "0:00:00"), (3599, "0:59:59"), (3600 * 25 + 61, "1 day, 1:01:01")])
def test_describe_wait(seconds, text):
    assert sr.describe_wait(seconds) == text


@pytest.mark.parametrize("balance, overload, needs", [(5.0, 0.0, False), (5.1, 0.0, True), (10.0, 0.1, False)])
def test_balance_needs_work(balance, overload, needs):
    assert sr.balance_needs_work(balance, overload) is needs


# ---------------------------------------------------------------- presentation and files

def test_device_table_is_sorted_and_marks_pending_removal():
    devs = [have(1, device="loop1", meta="m"), None, have(0, weight=12.5)]
    table = sr.device_table({"part_power": 18, "replicas": 3.0, "min_part_hours": 1}, devs, pending_removal=[1])
    assert table == ("part_power 18, replicas 3.0, min_part_hours 1\n"
                     "id 0   r1z1-192.168.182.144:6000R10.0.100.139:6003/loop0 12.5\n"
                     "id 1   r1z1-192.168.182.144:6000R10.0.100.139:6003/loop1_m 100 (removed at next rebalance)\n")
    assert sr.device_table(None, []) == ""


@pytest.mark.parametrize("kwargs, expected", [
    ({"builder": "/etc/swift/object.builder"}, ("/etc/swift/object.builder", "/etc/swift/object.ring.gz", "/etc/swift/backups")),
    ({"ring": "account", "directory": "/srv"}, ("/srv/account.builder", "/srv/account.ring.gz", "/srv/backups")),
    ({"builder": "odd"}, ("odd", "odd.ring.gz", "./backups")),
], ids=["builder", "ring-and-dir", "cli-naming-without-suffix"])
def test_ring_paths(kwargs, expected):
    assert sr.ring_paths(**kwargs) == expected


def test_file_checksums(tmp_path):
    path = tmp_path / "object.ring.gz"
    assert sr.file_checksums(str(path)) is None
    path.write_bytes(b"ring")
    assert sr.file_checksums(str(path)) == {"md5": hashlib.md5(b"ring").hexdigest(),
                                            "sha256": hashlib.sha256(b"ring").hexdigest()}


def test_backup_name_is_swift_ring_builders():
    assert sr.backup_name("/etc/swift/backups", "/etc/swift/object.builder", 1700000000.7) == \
        "/etc/swift/backups/1700000000.object.builder"


# ---------------------------------------------------------------- with swift's real RingBuilder

REAL = textwrap.dedent("""
    import json, sys
    from swift.common.ring import RingBuilder
    from ansible_collections.cloudlab.openstack.plugins.module_utils import swift_ring as sr

    def guide(port=6000):
        return [dict(zone=z, ip='192.168.182.%d' % (143 + z), port=port, replication_ip='10.0.100.%d' % (138 + z),
                     replication_port=port + 3, device='loop%d' % d, weight=100) for z in (1, 2, 3) for d in (0, 1, 2)]

    def step(b, want, force=False):
        plan = sr.plan_devices(b.devs, sr.normalize_devices(want), force=force,
                               pending_removal=sr.rebalance_facts(b)['pending_removal'])
        sr.apply_plan(b, plan)
        return plan

    out = {'facts': []}

    def same_facts(b):
        # our reading of the builder dict agrees with RingBuilder's own figures
        f = sr.facts_from_data(b.to_dict())
        out['facts'].append([round(f['balance'], 6), round(b.get_balance(), 6) if b.ever_rebalanced else 0.0,
                             f['min_part_seconds_left'], b.min_part_seconds_left,
                             f['ever_rebalanced'], b.ever_rebalanced])

    b = RingBuilder(6, 3.0, 1)
    step(b, guide())
    out['new'] = sr.rebalance_reasons(sr.rebalance_facts(b))
    parts, balance, removed = b.rebalance(seed=1)
    out['first'] = [parts, round(balance, 2)]
    same_facts(b)
    out['converged'] = sr.rebalance_reasons(sr.rebalance_facts(b))
    out['again'] = {k: len(v) for k, v in step(b, guide()).items()}
    # A fourth node right after the first balance: due, and min_part_hours blocks every move.
    extra = dict(zone=4, ip='192.168.182.160', port=6000, device='loop0', weight=100)
    step(b, guide() + [extra])
    facts = sr.rebalance_facts(b)
    parts, balance, removed = b.rebalance(seed=1)
    out['blocked'] = sr.judge_rebalance(parts, removed, facts['devs_changed'], 0.0, balance, 0.0, b.dispersion,
                                        facts['min_part_seconds_left'])
    out['left'] = facts['min_part_seconds_left']
    b.pretend_min_part_hours_passed()
    parts, balance, removed = b.rebalance(seed=1)
    out['after_hour'] = parts > 0
    # Leave node 4 out: drained first, not removed.
    out['drain'] = {k: len(v) for k, v in step(b, guide()).items()}
    out['drained_weight'] = [d['weight'] for d in b.devs if d and d['zone'] == 4]
    same_facts(b)  # weight 0 with partitions: swift's MAX_BALANCE
    b.pretend_min_part_hours_passed()
    b.rebalance(seed=1)
    out['remove'] = {k: len(v) for k, v in step(b, guide()).items()}
    out['removal_reasons'] = sr.rebalance_reasons(sr.rebalance_facts(b))
    same_facts(b)
    out['removed'] = b.rebalance(seed=1)[2]
    same_facts(b)
    out['devices'] = len([d for d in b.devs if d])
    print(json.dumps(out))
""")


def test_with_the_real_ring_builder():
    proc = subprocess.run(["/usr/bin/python3", "-c", REAL], capture_output=True, text=True, check=False,
                          env={"PYTHONPATH": str(TOP / ".collections"), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["new"] == ["the ring has never been balanced"]
    assert out["first"][0] == 3 * 64  # every partition replica placed
    assert out["converged"] == []
    assert out["again"] == {"add": 0, "update": 0, "drain": 0, "remove": 0, "draining": 0}
    assert out["blocked"] == "blocked" and 0 < out["left"] <= 3600
    assert out["after_hour"] is True
    assert out["drain"]["drain"] == 1 and out["drained_weight"] == [0.0]
    assert out["remove"]["remove"] == 1
    assert out["removal_reasons"][-1].startswith("devices 9 are marked for removal")
    assert out["removed"] == 1 and out["devices"] == 9
    assert len(out["facts"]) == 4 and [f[0] for f in out["facts"]][1] == sr.MAX_BALANCE
    for ours_balance, swift_balance, ours_left, swift_left, ours_ever, swift_ever in out["facts"]:
        assert ours_balance == swift_balance and ours_ever == swift_ever
        assert abs(ours_left - swift_left) <= 1  # two clock reads
