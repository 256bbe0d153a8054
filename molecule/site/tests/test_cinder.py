"""Proves playbooks/cinder.yml (issue 11, block storage) on the whole table: cinder-api and the
scheduler on oscontroller, cinder-volume on osceph0 on the volume group the block storage node type
made (cloudlab.openstack.block_storage_node, playbooks/nodes.yml).

The guide's checks as far as this kernel allows: the lab has no device-mapper, so LVM cannot
activate a logical volume and no volume can be created here (docs/roles/cinder.md). Everything up
to that point is checked: the volume group on the guide's loop file, LVM's filter, tgt including
cinder's targets, cinder.conf's backend, the volumev3 service in the catalog, cinder-api answering
from another node, and `openstack volume service list` with the scheduler and the LVM backend up.
"""
from lab_testinfra import RUNNER, admin_json, ini, node, var, wait_for

CONTROLLER = RUNNER.get_hosts("cinder_controller")[0]
VOLUME = RUNNER.get_hosts("cinder_volume")[0]
VOLUME_GROUP = "cinder-volumes"
LOOP_FILE = "/opt/volumes/cinderVolumes"


# ---- the volume node: LVM on the guide's loop file, tgt ---------------------------------------------

def test_volume_group_on_the_loop_file():
    vg = node(VOLUME)
    attached = vg.check_output(f"losetup --associated {LOOP_FILE} --noheadings --output NAME").split()
    assert len(attached) == 1, attached
    pvs = vg.check_output(f"pvs --noheadings -o pv_name,vg_name --select vg_name={VOLUME_GROUP}").split()
    assert pvs == [attached[0], VOLUME_GROUP]
    size = int(vg.check_output(f"vgs --noheadings --units b --nosuffix -o vg_size {VOLUME_GROUP}").strip())
    assert size > 1024 ** 3  # the lab's 2G file, less LVM's metadata
    assert vg.service("cinder-volumes-loop").is_enabled


def test_lvm_scans_only_loop_devices():
    rules = node(VOLUME).check_output("lvmconfig devices/global_filter")
    assert '"a|^/dev/loop[0-9]+$|"' in rules and '"r|.*|"' in rules, rules


def test_tgt_includes_cinders_targets():
    vg = node(VOLUME)
    assert vg.service("tgt").is_running
    assert "include /etc/cinder/volumes/*" in vg.file("/etc/tgt/conf.d/cinder_tgt.conf").content_string
    targets = vg.file("/etc/cinder/volumes")
    assert targets.is_directory and targets.user == "cinder"


def test_cinder_conf_as_the_guide():
    conf = ini(VOLUME, "/etc/cinder/cinder.conf")
    assert conf["DEFAULT"]["my_ip"] == var(VOLUME, "internal_ip")
    assert conf["DEFAULT"]["enabled_backends"] == "lvm"
    glance = RUNNER.get_hosts("glance")[0]
    assert conf["DEFAULT"]["glance_api_servers"] == f"http://{var(glance, 'internal_ip')}:9292"
    lvm = conf["lvm"]
    assert lvm["volume_group"] == VOLUME_GROUP and lvm["target_helper"] == "tgtadm"
    assert lvm["volumes_dir"] == "/etc/cinder/volumes" and lvm["lvm_type"] == "default"
    assert "iscsi_helper" not in lvm  # Debian's deprecated name is gone
    assert oct(node(VOLUME).file("/etc/cinder/cinder.conf").mode) == "0o640"
    # the controller runs no backend
    assert "enabled_backends" not in ini(CONTROLLER, "/etc/cinder/cinder.conf")["DEFAULT"]


# ---- the controller and the catalog -----------------------------------------------------------------

def test_volumev3_endpoints_in_the_catalog():
    services = {s["Name"]: s["Type"] for s in admin_json("openstack service list")}
    assert services.get("cinderv3") == "volumev3"
    endpoints = {e["Interface"]: e["URL"] for e in admin_json("openstack endpoint list --service volumev3")}
    public, internal = var(CONTROLLER, "public_ip"), var(CONTROLLER, "internal_ip")
    assert endpoints == {"public": f"http://{public}:8776/v3/%(project_id)s",
                         "internal": f"http://{internal}:8776/v3/%(project_id)s",
                         "admin": f"http://{internal}:8776/v3/%(project_id)s"}


def test_cinder_api_answers_from_another_node():
    url = f"http://{var(CONTROLLER, 'internal_ip')}:8776/"
    out = node(VOLUME).check_output(f"python3 -c \"import urllib.request as u, urllib.error as e\n"
                                    f"try: u.urlopen('{url}')\nexcept e.HTTPError as x: print(x.code)\"")
    assert out.strip() == "300"  # the version document: Multiple Choices


def test_volume_services_up():
    """The guide's `cinder service-list`: scheduler on the controller, the LVM backend on the volume
    node, both up (services report every 10 s; cinder-volume needs its first report)."""
    want = {("cinder-scheduler", CONTROLLER), ("cinder-volume", f"{VOLUME}@lvm")}

    def check():
        got = {(s["Binary"], s["Host"]): (s["Status"], s["State"])
               for s in admin_json("openstack volume service list")}
        return all(got.get(k) == ("enabled", "up") for k in want), got
    ok, got = wait_for(check)
    assert ok, got
