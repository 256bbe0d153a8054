"""cloudlab.openstack.openstack_config through real ansible-playbook runs on a real stock nova.conf.

The file is the nova.conf that Debian's nova-common ships (tests/fixtures/stock_configs.py fetches
it); each test works on its own copy. The sequence the house rules ask for: changed, unchanged on a
re-run, update, remove, check mode that predicts exactly, no secret in `-v --diff` output, and the
failure message for a file that cannot be parsed.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
PLAYBOOK = TOP / "tests" / "integration" / "targets" / "openstack_config" / "apply.yml"
sys.path.insert(0, str(TOP / "tests" / "fixtures"))
import stock_configs  # noqa: E402  (tests/fixtures is not a package)

DB_PASSWORD = "e5a43fc52ce0aaa1c7b4"       # the guide's nova DB password: secrets of a test, not a cloud
NOVA_PASSWORD = "fd53a063286a4f22ab7b"
METADATA_SECRET = "69e2f4db01fe4100bd32"
RABBIT_PASSWORD = "Rabb1t-0nly-H3re"
SECRETS = (DB_PASSWORD, NOVA_PASSWORD, METADATA_SECRET, RABBIT_PASSWORD)

# The controller's nova.conf from the guide, in today's option names, with the guide's repeated key.
GUIDE = {
    "DEFAULT": {
        "my_ip": "10.0.100.145",
        "transport_url": "rabbit://openstack:%s@10.0.100.149" % RABBIT_PASSWORD,
        "instance_usage_audit": True,
        "instance_usage_audit_period": "hour",
        "notify_on_state_change": "vm_and_task_state",
        "notification_driver": ["nova.openstack.common.notifier.rpc_notifier",
                                "ceilometer.compute.nova_notifier"],
    },
    "api": {"auth_strategy": "keystone"},
    "database": {"connection": "mysql+pymysql://nova:%s@10.0.100.149/nova" % DB_PASSWORD},
    "keystone_authtoken": {
        "www_authenticate_uri": "http://10.0.100.149:5000",
        "auth_url": "http://10.0.100.149:5000",
        "username": "nova",
        "password": NOVA_PASSWORD,
    },
    "neutron": {"metadata_proxy_shared_secret": METADATA_SECRET,
                "service_metadata_proxy": True},
    "vnc": {"enabled": True, "server_listen": "10.0.100.145"},
    "cloudlab_test": {"created": "yes"},  # a section the stock file does not have
}


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / "nova.conf"
    shutil.copy(stock_configs.fetch()["nova.conf"], path)
    return path


def play(path, check=False, diff=False, verbose=None, json_output=True, **options):
    """Run apply.yml with oc_<option> extra vars; returns (rc, task results, whole output)."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json" if json_output else "ansible.builtin.default",
               ANSIBLE_NOCOLOR="1")
    extra = dict(("oc_%s" % k, v) for k, v in options.items())
    extra["oc_path"] = str(path)
    cmd = ["ansible-playbook", "-i", "localhost,", "-c", "local", str(PLAYBOOK), "-e", json.dumps(extra)]
    cmd += ["--check"] if check else []
    cmd += ["--diff"] if diff else []
    cmd += [verbose] if verbose else []
    proc = subprocess.run(cmd, cwd=TOP, env=env, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    if not json_output:
        return proc.returncode, None, output
    # The JSON report, without what other callbacks (profile_tasks) print after it.
    report, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("\n{") + 1:])
    tasks = [t["hosts"].get("localhost", {}) for t in report["plays"][0]["tasks"]]
    return proc.returncode, tasks, output


def apply(path, **options):
    rc, tasks, output = play(path, **options)
    assert rc == 0, output[-3000:]
    return tasks[0], (tasks[1] if len(tasks) > 1 else None)


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest(), Path(path).stat().st_mtime_ns


def test_changed_unchanged_update_remove(conf):
    stock = conf.read_text()
    result, info = apply(conf, settings=GUIDE, mode="0640")
    assert result["changed"] is True
    # The stock file already says username = nova: not a change.
    assert result["changed_options"] == ["%s.%s" % (s, k) for s, opts in GUIDE.items() for k in opts
                                         if (s, k) != ("keystone_authtoken", "username")]
    assert oct(conf.stat().st_mode & 0o777) == "0o640"
    text = conf.read_text()
    # The repeated key as two lines, in order; booleans as oslo.config writes them.
    assert ("notification_driver = nova.openstack.common.notifier.rpc_notifier\n"
            "notification_driver = ceilometer.compute.nova_notifier\n") in text
    assert "\ninstance_usage_audit = True\n" in text and "[cloudlab_test]\ncreated = yes\n" in text
    assert "connection = mysql+pymysql://nova:%s@10.0.100.149/nova\n" % DB_PASSWORD in text
    # The stock comments are all still there: the file only grew by the settings' lines.
    assert len(text.splitlines()) - len(stock.splitlines()) < 20
    values = info["values"]
    assert values["DEFAULT"]["notification_driver"] == GUIDE["DEFAULT"]["notification_driver"]
    assert values["DEFAULT"]["my_ip"] == "10.0.100.145"
    assert values["database"]["connection"] == "********"
    assert values["DEFAULT"]["state_path"] == "/var/lib/nova"  # unrelated stock option kept

    before = digest(conf)
    result, _ = apply(conf, settings=GUIDE, mode="0640")
    assert result["changed"] is False and result["changed_options"] == []
    assert digest(conf) == before  # not even rewritten

    update = {"DEFAULT": {"my_ip": "10.0.100.146", "notification_driver": ["ceilometer.compute.nova_notifier"]}}
    result, info = apply(conf, settings=update)
    assert result["changed_options"] == ["DEFAULT.my_ip", "DEFAULT.notification_driver"]
    assert info["values"]["DEFAULT"]["my_ip"] == "10.0.100.146"
    assert info["values"]["DEFAULT"]["notification_driver"] == "ceilometer.compute.nova_notifier"

    result, info = apply(conf, state="absent", settings={"DEFAULT": {"notification_driver": None},
                                                         "cloudlab_test": None})
    assert result["changed_options"] == ["DEFAULT.notification_driver", "cloudlab_test.created"]
    assert "notification_driver" not in info["values"]["DEFAULT"] and "cloudlab_test" not in info["values"]
    assert "[cloudlab_test]" not in conf.read_text()
    result, _ = apply(conf, state="absent", settings={"DEFAULT": {"notification_driver": None}})
    assert result["changed"] is False


def test_check_mode_predicts_exactly(conf):
    apply(conf, settings=GUIDE)
    change = {"DEFAULT": {"my_ip": "10.0.100.147", "debug": True},
              "database": {"connection": "mysql+pymysql://nova:new-%s@10.0.100.149/nova" % DB_PASSWORD},
              "libvirt": {"virt_type": "qemu"}}
    before = digest(conf)
    predicted, _ = apply(conf, settings=change, check=True, diff=True)
    assert digest(conf) == before  # check mode wrote nothing
    assert predicted["changed"] is True
    real, _ = apply(conf, settings=change, diff=True)
    assert real["changed"] is True
    assert real["changed_options"] == predicted["changed_options"] == \
        ["DEFAULT.my_ip", "DEFAULT.debug", "database.connection", "libvirt.virt_type"]
    assert real["diff"] == predicted["diff"]
    # And on the converged file check mode reports no change and no failure.
    converged, _ = apply(conf, settings=change, check=True)
    assert converged["changed"] is False


@pytest.mark.parametrize("verbose", ["-v", "-vvv"])
def test_diff_output_holds_no_secret(conf, verbose):
    apply(conf, settings={"database": {"connection": "mysql+pymysql://nova:old-%s@h/nova" % DB_PASSWORD}})
    rc, _, output = play(conf, settings=GUIDE, diff=True, verbose=verbose, json_output=False)
    assert rc == 0, output[-3000:]
    for secret in SECRETS:
        assert secret not in output
        assert secret in conf.read_text()
    # The diff is there, secrets masked, the rest readable.
    assert "+connection = ******** (changed)" in output
    assert "-connection = ********" in output
    assert "+my_ip = 10.0.100.145" in output
    assert "+auth_url = http://10.0.100.149:5000" in output


def test_unparsable_file_fails_with_the_line_and_stays_untouched(conf):
    with conf.open("a") as handle:
        handle.write("[broken\n")
    lineno = len(conf.read_text().splitlines())
    before = digest(conf)
    rc, tasks, output = play(conf, settings=GUIDE)
    assert rc != 0
    assert tasks[0]["failed"] is True
    assert "line %d: section header without a closing ']'" % lineno in tasks[0]["msg"]
    assert "nothing was changed" in tasks[0]["msg"]
    assert digest(conf) == before


def test_missing_file_without_create_fails(tmp_path):
    rc, tasks, _ = play(tmp_path / "absent.conf", settings={"DEFAULT": {"a": 1}}, create=False)
    assert rc != 0 and "does not exist; create it first or set create=true" in tasks[0]["msg"]
    assert not (tmp_path / "absent.conf").exists()


def test_exclusive_and_backup(conf):
    result, info = apply(conf, settings={"keystone_authtoken": {"auth_type": "password", "username": "nova"}},
                         exclusive=True, backup=True)
    assert result["changed"] is True
    # The stock [keystone_authtoken] options not in the map are gone, other sections are not touched.
    assert info["values"]["keystone_authtoken"] == {"auth_type": "password", "username": "nova"}
    assert info["values"]["database"]["connection"] == "********"
    backup = Path(result["backup_file"])
    assert backup.read_bytes() == stock_configs.fetch()["nova.conf"].read_bytes()
