"""cloudlab.openstack.swift_ring against swift's real RingBuilder, through real ansible-playbook runs.

The module runs on localhost with Debian's /usr/bin/python3 (python3-swift), as on a lab node, and
its rings are compared with what the real `swift-ring-builder` CLI (package `swift`, installed by
tools/host-deps) makes from the guide's own command sequence.

Part power 10 keeps most runs around two seconds; one test builds the guide's part power 18.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
PLAYBOOK = TOP / "tests" / "integration" / "targets" / "swift_ring" / "rings.yml"
RINGS = ("account", "container", "object")
# The guide's table: zone, server ip, replication ip; ports per ring.
NODES = ((1, "192.168.182.144", "10.0.100.139"), (2, "192.168.182.145", "10.0.100.140"),
         (3, "192.168.182.146", "10.0.100.141"))
PORTS = {"account": (6002, 6005), "container": (6001, 6004), "object": (6000, 6003)}
NODE4 = {"name": "osswift3", "zone": 4, "ip": "192.168.182.160", "replication_ip": "10.0.100.160"}


def cli(*args, cwd):
    """swift-ring-builder; exit 1 is its 'done, with a warning'."""
    proc = subprocess.run(("swift-ring-builder",) + args, cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return proc.stdout


def cli_build(directory, part_power=10, seed=None, rings=RINGS):
    """The guide's sequence, command for command: create, add z<n>-ip:portRrip:rport/loopN 100, rebalance."""
    directory.mkdir(parents=True, exist_ok=True)
    for ring in rings:
        cli(f"{ring}.builder", "create", str(part_power), "3", "1", cwd=directory)
    for zone, ip, rip in NODES:
        for disk in ("loop0", "loop1", "loop2"):
            for ring in rings:
                port, rport = PORTS[ring]
                cli(f"{ring}.builder", "add", f"z{zone}-{ip}:{port}R{rip}:{rport}/{disk}", "100", cwd=directory)
    for ring in rings:
        cli(f"{ring}.builder", "rebalance", *(("--seed", str(seed)) if seed is not None else ()), cwd=directory)


def play(directory, check=False, diff=False, **extra):
    """Run rings.yml; returns (rc, {ring: module result}, stdout)."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    extra_vars = dict(swift_ring_dir=str(directory), **extra)
    cmd = ["ansible-playbook", "-i", "localhost,", "-c", "local", str(PLAYBOOK), "-e", json.dumps(extra_vars)]
    cmd += ["--check"] if check else []
    cmd += ["--diff"] if diff else []
    proc = subprocess.run(cmd, cwd=TOP, env=env, capture_output=True, text=True, check=False)
    # profile_tasks (ansible.cfg) prints around the JSON document: decode just the document.
    report, dummy = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("\n{") + 1:])
    task = report["plays"][0]["tasks"][0]["hosts"]["localhost"]
    results = {r["ring"]: r for r in task["results"]}
    for result in results.values():  # module warnings of a loop are reported per task
        result["task_warnings"] = task.get("warnings", [])
    return proc.returncode, results, proc.stdout


def converge(directory, **extra):
    Path(directory).mkdir(parents=True, exist_ok=True)
    rc, results, out = play(directory, **extra)
    assert rc == 0, out[-3000:]
    return results


def md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def tree_state(directory):
    """Every file under directory with its content hash and mtime: 'nothing on disk changed'."""
    return {str(p.relative_to(directory)): (md5(p), p.stat().st_mtime_ns)
            for p in sorted(Path(directory).rglob("*")) if p.is_file()}


def cli_balance(builder):
    """Balance and device rows (without partition counts) as `swift-ring-builder X.builder` shows."""
    out = cli(builder.name, cwd=builder.parent)
    assert "is up-to-date" in out  # the CLI's own check that the .ring.gz matches the builder
    balance = float(re.search(r"([0-9.]+) balance", out).group(1))
    # id region zone ip:port replication-ip:port name weight | partitions balance flags meta
    rows = sorted(" ".join(line.split()[:7]) for line in out.splitlines()
                  if re.match(r"^\s+\d+\s+\d+\s+\d+\s+\d", line))
    return balance, rows


def parts_per_device(builder):
    out = cli(builder.name, cwd=builder.parent)
    return sorted(int(line.split()[7]) for line in out.splitlines() if re.match(r"^\s+\d+\s+\d+\s+\d+\s+\d", line))


def pretend_an_hour_passed(directory):
    for ring in RINGS:
        cli(f"{ring}.builder", "pretend_min_part_hours_passed", cwd=directory)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The guide's three rings built by the module (unseeded), shared read-only: tests copy it."""
    assert shutil.which("swift-ring-builder"), "swift-ring-builder missing: run tools/host-deps"
    directory = tmp_path_factory.mktemp("built")
    results = converge(directory)
    for ring in RINGS:
        assert results[ring]["changed"] and results[ring]["created"]
    return directory, results


@pytest.fixture(scope="module")
def cli_rings(tmp_path_factory):
    """The guide's three rings built by swift-ring-builder itself, seeded."""
    directory = tmp_path_factory.mktemp("cli")
    cli_build(directory, seed=7)
    return directory


@pytest.fixture
def rings(built, tmp_path):
    directory = tmp_path / "rings"
    shutil.copytree(built[0], directory)
    return directory


def test_first_run_creates_and_balances(built):
    directory, results = built
    for ring in RINGS:
        result = results[ring]
        assert result["rebalance"]["done"] and result["rebalance"]["reasons"] == ["the ring has never been balanced"]
        assert len(result["plan"]["add"]) == 9 and len(result["devices"]) == 9
        assert result["ring_md5"] == md5(directory / f"{ring}.ring.gz")
        assert result["ring_sha256"] == hashlib.sha256((directory / f"{ring}.ring.gz").read_bytes()).hexdigest()
        # swift-ring-builder's own naming of backups: backups/<unix time>.<file>
        names = sorted(Path(p).name.split(".", 1)[1] for p in result["backup_files"])
        assert names == [f"{ring}.builder", f"{ring}.ring.gz"]
        assert all(Path(p).is_file() for p in result["backup_files"])


def test_seeded_rings_are_byte_identical_to_the_cli(cli_rings, tmp_path):
    results = converge(tmp_path, swift_ring_seed="7")
    for ring in RINGS:
        assert results[ring]["ring_md5"] == md5(cli_rings / f"{ring}.ring.gz")


def test_unseeded_rings_match_the_cli_within_swift_tolerance(built, cli_rings):
    for ring in RINGS:
        module_balance, module_rows = cli_balance(built[0] / f"{ring}.builder")
        cli_bal, cli_rows = cli_balance(cli_rings / f"{ring}.builder")
        assert module_rows == cli_rows  # same devices: region, zone, addresses, name, weight
        assert abs(module_balance - cli_bal) < 1  # swift's own "changed by less than 1%"
        module_parts = parts_per_device(built[0] / f"{ring}.builder")
        cli_parts = parts_per_device(cli_rings / f"{ring}.builder")
        assert sum(module_parts) == sum(cli_parts) == 3 * 2 ** 10
        assert all(abs(a - b) <= 1 for a, b in zip(module_parts, cli_parts))


def test_rerun_and_check_mode_change_nothing(rings):
    before = tree_state(rings)
    for check in (False, True):
        rc, results, out = play(rings, check=check, diff=True)
        assert rc == 0, out[-3000:]
        for ring in RINGS:
            assert not results[ring]["changed"], results[ring]["msg"]
            assert not results[ring]["rebalance"]["attempted"]
            assert results[ring]["ring_md5"] == before[f"{ring}.ring.gz"][0]
    assert tree_state(rings) == before


def test_check_mode_predicts_the_plan_without_touching_disk(rings):
    before = tree_state(rings)
    rc, predicted, out = play(rings, check=True, diff=True, swift_ring_extra_nodes=[NODE4])
    assert rc == 0, out[-3000:]
    assert tree_state(rings) == before
    rc, done, out = play(rings, diff=True, swift_ring_extra_nodes=[NODE4])
    assert rc == 0, out[-3000:]
    for ring in RINGS:
        assert predicted[ring]["changed"] and done[ring]["changed"]
        for key in ("plan", "diff", "builder_changed", "ring_changed"):
            assert predicted[ring][key] == done[ring][key], key
        for key in ("due", "attempted", "done", "blocked", "reasons"):
            assert predicted[ring]["rebalance"][key] == done[ring]["rebalance"][key], key
        assert "r1z4-192.168.182.160" in done[ring]["diff"]["after"]
        assert "r1z4-192.168.182.160" not in done[ring]["diff"]["before"]


def test_add_node_drain_and_remove_respect_min_part_hours(rings):
    md5_built = {ring: md5(rings / f"{ring}.ring.gz") for ring in RINGS}
    # The rings were just balanced: every partition moved less than min_part_hours (1) ago.
    results = converge(rings, swift_ring_extra_nodes=[NODE4])
    for ring in RINGS:
        result = results[ring]
        assert result["changed"] and result["builder_changed"] and not result["ring_changed"]
        assert len(result["plan"]["add"]) == 3
        report = result["rebalance"]
        assert report["due"] and report["attempted"] and report["blocked"] and not report["done"]
        assert 0 < report["wait_seconds"] <= 3600
        assert "min_part_hours=1" in report["message"] and report["wait"] in report["message"]
        assert report["message"] in result["task_warnings"]
        assert md5(rings / f"{ring}.ring.gz") == md5_built[ring]
    # Still blocked: reported again, nothing written.
    results = converge(rings, swift_ring_extra_nodes=[NODE4])
    for ring in RINGS:
        assert not results[ring]["changed"] and results[ring]["rebalance"]["blocked"]

    pretend_an_hour_passed(rings)
    results = converge(rings, swift_ring_extra_nodes=[NODE4])
    for ring in RINGS:
        result = results[ring]
        assert result["changed"] and result["ring_changed"] and result["rebalance"]["done"]
        assert result["rebalance"]["parts_moved"] > 0
        assert result["ring_md5"] != md5_built[ring] and result["ring_md5"] == md5(rings / f"{ring}.ring.gz")
        assert all(d["parts"] > 0 for d in result["devices"])
    # Exactly one rebalance: the next run has nothing to do.
    results = converge(rings, swift_ring_extra_nodes=[NODE4])
    for ring in RINGS:
        assert not results[ring]["changed"] and not results[ring]["rebalance"]["done"]

    # Leaving the node out drains it: weight 0 now, but its partitions only just moved there.
    results = converge(rings)
    for ring in RINGS:
        result = results[ring]
        assert [e["key"].split(":")[0] for e in result["plan"]["drain"]] == ["192.168.182.160"] * 3
        assert result["rebalance"]["blocked"] and not result["plan"]["remove"]
        assert [d["weight"] for d in result["devices"] if d["zone"] == 4] == [0.0] * 3
    pretend_an_hour_passed(rings)
    results = converge(rings)
    for ring in RINGS:
        result = results[ring]
        assert result["rebalance"]["done"] and not result["plan"]["remove"]
        assert [d["parts"] for d in result["devices"] if d["zone"] == 4] == [0, 0, 0]
    # Drained: removed now (a removal is never held back by min_part_hours).
    results = converge(rings)
    for ring in RINGS:
        result = results[ring]
        assert len(result["plan"]["remove"]) == 3 and result["rebalance"]["done"]
        assert result["rebalance"]["removed_devices"] == 3 and len(result["devices"]) == 9
    results = converge(rings)
    assert not any(r["changed"] for r in results.values())


def test_force_removes_at_once(rings):
    results = converge(rings, swift_ring_drop=["osswift2"], swift_ring_force=True)
    for ring in RINGS:
        result = results[ring]
        assert len(result["plan"]["remove"]) == 3 and not result["plan"]["drain"]
        assert result["rebalance"]["done"] and result["rebalance"]["removed_devices"] == 3
        assert sorted({d["zone"] for d in result["devices"]}) == [1, 2]
    assert not any(r["changed"] for r in converge(rings, swift_ring_drop=["osswift2"], swift_ring_force=True).values())


def test_meta_and_replication_changes_rewrite_the_ring_without_rebalance(rings):
    node = {"name": "osswift0", "zone": 1, "ip": "192.168.182.144", "replication_ip": "10.0.100.200", "meta": "rack-a"}
    nodes = [node, {"name": "osswift1", "zone": 2, "ip": "192.168.182.145", "replication_ip": "10.0.100.140"},
             {"name": "osswift2", "zone": 3, "ip": "192.168.182.146", "replication_ip": "10.0.100.141"}]
    old = {ring: md5(rings / f"{ring}.ring.gz") for ring in RINGS}
    results = converge(rings, swift_ring_nodes=nodes)
    for ring in RINGS:
        result = results[ring]
        assert result["changed"] and result["ring_changed"] and not result["rebalance"]["attempted"]
        assert sorted(result["plan"]["update"][0]["changes"]) == ["meta", "replication_ip"]
        assert result["ring_md5"] != old[ring]
        out = cli(f"{ring}.builder", cwd=rings)
        assert "10.0.100.200" in out and "rack-a" in out
    assert not any(r["changed"] for r in converge(rings, swift_ring_nodes=nodes).values())


def test_replica_change_only_when_asked(rings):
    rc, results, out = play(rings, swift_ring_replicas=2)
    assert rc != 0
    assert "change_replicas: true" in results["object"]["msg"]
    # Fewer replicas moves nothing within min_part_hours of the last rebalance (the CLI's
    # "No partitions could be reassigned"); let the hour pass.
    pretend_an_hour_passed(rings)
    results = converge(rings, swift_ring_replicas=2, swift_ring_change_replicas=True)
    for ring in RINGS:
        assert results[ring]["settings"]["replicas"] == 2.0 and results[ring]["rebalance"]["done"]
        assert sum(d["parts"] for d in results[ring]["devices"]) == 2 * 2 ** 10
    again = converge(rings, swift_ring_replicas=2)
    assert not any(r["changed"] for r in again.values())


@pytest.mark.parametrize("extra, message", [
    ({"swift_ring_part_power": 12}, "has part_power 10, not 12: this module never changes part power"),
    ({"swift_ring_extra_nodes": [{"name": "dup", "zone": 4, "ip": "192.168.182.144",
                                  "replication_ip": "10.0.100.139"}]},
     "a device is identified by ip, port and device"),
], ids=["part-power", "duplicate-device"])
def test_refusals_leave_the_rings_alone(rings, extra, message):
    before = tree_state(rings)
    rc, results, out = play(rings, **extra)
    assert rc != 0
    assert message in results["object"]["msg"]
    assert tree_state(rings) == before


def test_create_needs_the_ring_settings(tmp_path):
    rc, results, out = play(tmp_path, swift_ring_part_power=None, swift_ring_names=["object"])
    assert rc != 0
    assert "set part_power to create it" in results["object"]["msg"]
    assert not list(tmp_path.iterdir())


def test_too_few_devices_is_refused(tmp_path):
    rc, results, out = play(tmp_path, swift_ring_names=["object"], swift_ring_disks=["loop0"],
                            swift_ring_drop=["osswift2"])
    assert rc != 0
    assert "Replica count of 3.0 requires more than 2 devices" in results["object"]["msg"]
    assert "rebalance: never" in results["object"]["msg"]
    assert not list(tmp_path.iterdir())


def test_state_absent_removes_with_backups(rings):
    results = converge(rings, swift_ring_state="absent")
    for ring in RINGS:
        assert results[ring]["changed"]
        assert not (rings / f"{ring}.builder").exists() and not (rings / f"{ring}.ring.gz").exists()
        assert all(Path(p).is_file() for p in results[ring]["backup_files"])
    assert not any(r["changed"] for r in converge(rings, swift_ring_state="absent").values())


def test_part_power_18_object_ring_is_identical_to_the_cli(tmp_path):
    """The guide's part power, once: module and CLI, same seed, same bytes."""
    results = converge(tmp_path / "module", swift_ring_part_power=18, swift_ring_seed="18",
                       swift_ring_names=["object"])
    cli_build(tmp_path / "cli", part_power=18, seed=18, rings=("object",))
    assert results["object"]["ring_md5"] == md5(tmp_path / "cli" / "object.ring.gz")
    assert results["object"]["rebalance"]["parts_moved"] == 3 * 2 ** 18
