#!/usr/bin/env python3
"""Benchmark: the guide's nova.conf settings in one openstack_config task vs one ini_file task per option.

Every `openstack-config --set /etc/nova/nova.conf ...` of the guide (controller, compute, neutron and
ceilometer sections, in the guide's order and with the guide's Icehouse option names) plus its
repeated `notification_driver` key is applied to two copies of the stock nova.conf of Debian's
nova-common, in the same play on localhost:
  A: one cloudlab.openstack.openstack_config task with the whole map;
  B: one community.general.ini_file task per option (the repeated key as one task with `values`).
Prints both wall times (first task start to last task end, from the json callback), the ratio, and
checks that both files end with identical option values (every section, every option).

    .venv/bin/python benchmarks/ini_batch.py [--runs N]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP / "tests" / "fixtures"))
sys.path.insert(0, str(TOP / ".collections"))
import stock_configs  # noqa: E402
from ansible_collections.cloudlab.openstack.plugins.module_utils import oslo_ini  # noqa: E402

# The guide's `openstack-config --set /etc/nova/nova.conf SECTION KEY VALUE` lines, in order
# (extracted from the guide's text: controller, compute, neutron on both, ceilometer on compute;
# the guide's 57 lines less the ones that repeat an earlier line exactly; compute's my_ip
# "192.168.182.152/153" as its first node's). Keys set twice keep the last value, as running the
# commands in order would.
GUIDE_SETS = [
    ("database", "connection", "mysql://nova:e5a43fc52ce0aaa1c7b4@10.0.100.149/nova"),
    ("DEFAULT", "rpc_backend", "qpid"),
    ("DEFAULT", "qpid_hostname", "10.0.100.149"),
    ("DEFAULT", "my_ip", "10.0.100.145"),
    ("DEFAULT", "vncserver_listen", "10.0.100.145"),
    ("DEFAULT", "vncserver_proxyclient_address", "10.0.100.145"),
    ("DEFAULT", "auth_strategy", "keystone"),
    ("keystone_authtoken", "auth_uri", "http://10.0.100.149:5000"),
    ("keystone_authtoken", "auth_host", "10.0.100.149"),
    ("keystone_authtoken", "auth_protocol", "http"),
    ("keystone_authtoken", "auth_port", "35357"),
    ("keystone_authtoken", "admin_user", "nova"),
    ("keystone_authtoken", "admin_tenant_name", "service"),
    ("keystone_authtoken", "admin_password", "fd53a063286a4f22ab7b"),
    ("libvirt", "virt_type", "qemu"),
    ("DEFAULT", "my_ip", "192.168.182.152"),
    ("DEFAULT", "vnc_enabled", "True"),
    ("DEFAULT", "vncserver_listen", "0.0.0.0"),
    ("DEFAULT", "vncserver_proxyclient_address", "192.168.182.152"),
    ("DEFAULT", "novncproxy_base_url", "http://192.168.182.150:6080/vnc_auto.html"),
    ("DEFAULT", "glance_host", "10.0.100.145"),
    ("DEFAULT", "network_api_class", "nova.network.neutronv2.api.API"),
    ("DEFAULT", "neutron_url", "http://10.0.100.145:9696"),
    ("DEFAULT", "neutron_auth_strategy", "keystone"),
    ("DEFAULT", "neutron_admin_tenant_name", "service"),
    ("DEFAULT", "neutron_admin_username", "neutron"),
    ("DEFAULT", "neutron_admin_password", "033d164bcc70e1244be7"),
    ("DEFAULT", "neutron_admin_auth_url", "http://10.0.100.149:35357/v2.0"),
    ("DEFAULT", "linuxnet_interface_driver", "nova.network.linux_net.LinuxOVSInterfaceDriver"),
    ("DEFAULT", "firewall_driver", "nova.virt.firewall.NoopFirewallDriver"),
    ("DEFAULT", "security_group_api", "neutron"),
    ("DEFAULT", "service_neutron_metadata_proxy", "true"),
    ("DEFAULT", "neutron_metadata_proxy_shared_secret", "69e2f4db01fe4100bd32"),
    ("DEFAULT", "instance_usage_audit", "True"),
    ("DEFAULT", "instance_usage_audit_period", "hour"),
    ("DEFAULT", "notify_on_state_change", "vm_and_task_state"),
]
# "多值的参数，直接修改文件": the guide's repeated key, edited by hand.
NOTIFICATION_DRIVERS = ["nova.openstack.common.notifier.rpc_notifier", "ceilometer.compute.nova_notifier"]


def settings():
    result = {}
    for section, key, value in GUIDE_SETS:
        result.setdefault(section, {})[key] = value
    result["DEFAULT"]["notification_driver"] = list(NOTIFICATION_DRIVERS)
    return result


def playbook(path_a, path_b):
    wanted = settings()
    per_option = []
    for section, opts in wanted.items():
        for key, value in opts.items():
            args = {"path": str(path_b), "section": section, "option": key}
            args.update({"values": value} if isinstance(value, list) else {"value": value})
            per_option.append({"name": "B ini_file %s.%s" % (section, key), "community.general.ini_file": args})
    tasks = [{"name": "A openstack_config", "cloudlab.openstack.openstack_config":
              {"path": str(path_a), "settings": wanted}}] + per_option
    play = {"name": "ini_batch", "hosts": "localhost", "gather_facts": False,
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}, "tasks": tasks}
    return [play], len(per_option)


def stamp(text):
    return datetime.strptime(text.replace("Z", "+00:00"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def run_once(work):
    stock = stock_configs.fetch()["nova.conf"]
    path_a, path_b = work / "a" / "nova.conf", work / "b" / "nova.conf"
    for path in (path_a, path_b):
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(stock, path)
    plays, n_tasks = playbook(path_a, path_b)
    book = work / "ini_batch.yml"
    book.write_text(json.dumps(plays, indent=1))
    # The project's ansible.cfg as it is (profile_tasks included), json output to read task times.
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", str(book)], cwd=TOP, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit("ansible-playbook failed:\n" + (proc.stdout + proc.stderr)[-3000:])
    report, _ = json.JSONDecoder().raw_decode(proc.stdout[proc.stdout.index("{"):])
    tasks = report["plays"][0]["tasks"]
    spans = [(t["task"]["name"], stamp(t["task"]["duration"]["start"]), stamp(t["task"]["duration"]["end"]))
             for t in tasks]
    time_a = spans[0][2] - spans[0][1]
    time_b = spans[-1][2] - spans[1][1]
    values_a = oslo_ini.values(oslo_ini.parse(path_a.read_text()))
    values_b = oslo_ini.values(oslo_ini.parse(path_b.read_text()))
    if values_a != values_b:
        diff = {s: (values_a.get(s), values_b.get(s)) for s in set(values_a) | set(values_b)
                if values_a.get(s) != values_b.get(s)}
        sys.exit("the two files differ in their option values: %r" % diff)
    wanted = settings()
    for section, opts in wanted.items():
        for key, value in opts.items():
            assert values_a[section][key] == (value if isinstance(value, list) else [value]), (section, key)
    return time_a, time_b, n_tasks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    n_options = sum(len(o) for o in settings().values())
    print("guide: %d nova.conf settings (its openstack-config --set lines, exact repeats dropped) "
          "= %d distinct options, one of them the repeated notification_driver" % (len(GUIDE_SETS), n_options))
    ratios, times_a, times_b = [], [], []
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory() as tmp:
            time_a, time_b, n_tasks = run_once(Path(tmp))
        times_a.append(time_a)
        times_b.append(time_b)
        ratios.append(time_b / time_a)
        print("run %d: openstack_config 1 task %.2f s | ini_file %d tasks %.2f s | ratio %.1fx | values identical"
              % (run, time_a, n_tasks, time_b, time_b / time_a))
    print("median: openstack_config %.2f s, ini_file %.2f s, ratio %.1fx (goal >= 10x)"
          % (statistics.median(times_a), statistics.median(times_b), statistics.median(ratios)))


if __name__ == "__main__":
    main()
