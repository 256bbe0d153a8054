"""roles/smoke/files/build-smoke-guest.sh: the smoke test's guest, built and booted on this machine.

The builder runs into a temporary directory (it downloads linux-image-6.1.0-*-amd64 and
busybox-static from the configured Debian mirror), then the result boots under QEMU TCG with
128 MB, as nova's `virt_type = qemu` boots it, on QEMU's user network (DHCP hands out
192.168.1.5/24). The guest's /init must print, on the serial console:

    SMOKE ip=192.168.1.5/24
    SMOKE instance-id=<what the metadata server says>
    SMOKE public-key=<the first 40 characters of the served key>
    SMOKE ping 192.168.1.2 ok rtt-ms=<min/avg/max>     (user data `ping 192.168.1.2`: QEMU's gateway)

The metadata server is Python's http.server on 169.254.169.254:80. QEMU's guestfwd cannot take an
address outside the guest network (it refuses `tcp:169.254.169.254:80`), so the guest reaches it
as it reaches a neutron router: through its default route, which QEMU's user network turns into a
connect() on this side. That connect must not reach this machine's own network (a cloud host can
have a real metadata service there), so QEMU and the server run in a network namespace of their
own (`unshare --net`) with 169.254.169.254 on its loopback.

Every wait is bounded: the console file is polled against a deadline; QEMU and the server run
under `timeout`, and their process group is killed at the end whatever happened.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
BUILDER = TOP / "roles" / "smoke" / "files" / "build-smoke-guest.sh"
QEMU = shutil.which("qemu-system-x86_64")
INSTANCE_ID = "i-0000c0de"
PEER = "192.168.1.2"  # QEMU's user-network gateway: answers ping
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHNtb2tlLXRlc3Qta2V5LWZvci1jbG91ZGxhYg smoke@cloudlab\n"
BOOT_DEADLINE = 240  # seconds from QEMU's start to the last SMOKE line; measured ~7-10 s under TCG
LIFETIME = BOOT_DEADLINE + 60  # `timeout` for QEMU and the server, should this test itself die

pytestmark = pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed (Debian package qemu-system-x86)")

# Runs inside `unshare --net`: loopback up with the metadata address, the server in the
# background, QEMU in the foreground; `--foreground` keeps both in the test's process group.
NETNS_BOOT = r"""
set -eu
images=$1 meta=$2 console=$3 python=$4 lifetime=$5
ip link set lo up
ip addr add 169.254.169.254/32 dev lo
timeout --foreground "$lifetime" "$python" -m http.server --bind 169.254.169.254 --directory "$meta" 80 \
  >"$console.http" 2>&1 &
exec timeout --foreground "$lifetime" qemu-system-x86_64 -machine accel=tcg -m 128 -nographic -no-reboot \
  -kernel "$images/vmlinuz" -initrd "$images/initrd.img" -append console=ttyS0 \
  -netdev user,id=n0,net=192.168.1.0/24,dhcpstart=192.168.1.5 \
  -device virtio-net-pci,netdev=n0 </dev/null >"$console" 2>&1
"""


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    """The builder's output directory and what it printed."""
    out = tmp_path_factory.mktemp("smoke-guest")
    built = subprocess.run([str(BUILDER), str(out)], capture_output=True, text=True, timeout=900, check=False)
    assert built.returncode == 0, f"build-smoke-guest.sh failed:\n{built.stdout}\n{built.stderr}"
    return out, built.stdout


def test_builder_output(guest):
    out, stdout = guest
    assert sorted(p.name for p in out.iterdir()) == ["disk.raw", "initrd.img", "vmlinuz"], "scratch left behind"
    assert (out / "vmlinuz").stat().st_size < 16 * 2**20
    assert (out / "initrd.img").stat().st_size < 4 * 2**20
    assert (out / "initrd.img").read_bytes()[:2] == b"\x1f\x8b"
    assert (out / "disk.raw").stat().st_size == 2**20
    modules = re.search(r"^modules: (.*)$", stdout, re.M).group(1).split()
    # Each module after what it depends on (6.1's modules.dep): transport, then NIC.
    for before, after in [("virtio_ring", "virtio"), ("virtio", "virtio_pci"), ("failover", "net_failover"),
                          ("net_failover", "virtio_net"), ("virtio", "virtio_net")]:
        assert modules.index(before) < modules.index(after), modules


def wait_for(console, proc, pattern, deadline):
    """The first match of pattern in the console output, polled until deadline (time.monotonic())."""
    while True:
        text = console.read_bytes().decode(errors="replace") if console.exists() else ""
        match = re.search(pattern, text, re.M)
        if match:
            return match
        if "SMOKE error=" in text or "Kernel panic" in text:
            pytest.fail(f"the guest reported a failure:\n{text[-3000:]}")
        if proc.poll() is not None:
            pytest.fail(f"QEMU exited with {proc.returncode} before {pattern!r}:\n{text[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {pattern!r} on the console within {BOOT_DEADLINE} s:\n{text[-3000:]}")
        time.sleep(0.2)


def test_guest_boots_and_reads_metadata(guest, tmp_path):
    images, _ = guest
    meta = tmp_path / "meta" / "latest" / "meta-data"
    (meta / "public-keys" / "0").mkdir(parents=True)
    (meta / "instance-id").write_text(INSTANCE_ID)
    (meta / "public-keys" / "0" / "openssh-key").write_text(PUBLIC_KEY)
    (meta.parent / "user-data").write_text(f"#smoke\nping {PEER}\n")
    console = tmp_path / "console.log"
    unshare = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--net"]
    cmd = [*unshare, "sh", "-c", NETNS_BOOT, "netns-boot", str(images), str(tmp_path / "meta"), str(console),
           sys.executable, str(LIFETIME)]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)  # pylint: disable=consider-using-with
    try:
        deadline = started + BOOT_DEADLINE
        ip = wait_for(console, proc, r"^SMOKE ip=(\S+)", deadline)
        boot_to_ip = time.monotonic() - started
        iid = wait_for(console, proc, r"^SMOKE instance-id=(\S+)", deadline)
        key = wait_for(console, proc, r"^SMOKE public-key=(.*?)\r?$", deadline)
        rtt = wait_for(console, proc, rf"^SMOKE ping {re.escape(PEER)} ok rtt-ms=([0-9.]+)/([0-9.]+)/([0-9.]+)", deadline)
        assert ip.group(1) == "192.168.1.5/24"
        assert iid.group(1) == INSTANCE_ID
        assert key.group(1) == PUBLIC_KEY[:40]
        assert float(rtt.group(1)) <= float(rtt.group(2)) <= float(rtt.group(3))
        assert proc.poll() is None, "QEMU stopped: PID 1 of the guest must never exit"
        print(f"smoke guest: boot to ip {boot_to_ip:.1f} s under TCG (128 MB)")
    finally:
        for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
