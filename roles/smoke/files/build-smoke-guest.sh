#!/bin/sh
# Builds the smoke-test guest of cloudlab.openstack.smoke into WORKDIR, from Debian's package
# mirrors only (no other download), on a Debian 12 machine with apt, as root:
#
#   build-smoke-guest.sh WORKDIR
#
# Writes three files into WORKDIR (initrd.img last, so `creates: WORKDIR/initrd.img` is truthful):
#   vmlinuz     the kernel of Debian's linux-image-amd64 (the linux-image-6.1.0-N-amd64 it depends
#               on), fetched with `apt-get download` and unpacked with `dpkg-deb -x`: no install.
#   disk.raw    1 MiB of zeros: the image nova boots, as its root disk (vda, never read by the
#               guest). Nova needs an image to boot; direct kernel boot comes from its properties.
#   initrd.img  a gzip'd newc cpio: busybox-static, the virtio NIC modules and /init.
# and prints a summary (kernel, modules, sizes) on stdout.
#
# The guest's /init mounts proc/sys/dev, insmods the modules in dependency order, brings up eth0
# with udhcpc, then prints to ttyS0 and to every other active console (console=tty0 ...):
#   SMOKE ip=192.168.1.5/24
#   SMOKE net gateway=... mtu=... dns=... uptime=...
#   SMOKE instance-id=i-00000001                   (GET 169.254.169.254/latest/meta-data/...)
#   SMOKE public-key=<first 40 characters of public-keys/0/openssh-key>
#   SMOKE ping 192.168.1.7 ok rtt-ms=0.9/1.2/1.8    (per user-data line `ping ADDRESS`: min/avg/max)
#   SMOKE alive uptime=... ip=...                   (every 60 s, for ever: PID 1 never exits)
# and a line `SMOKE error=...` instead when a step gives up (each wait is bounded). The kernel
# answers ping once the address is up.
#
# Modules: the console needs none (8250 serial and the VT console are built into Debian's kernel).
# The NIC needs virtio_pci (the transport) and virtio_net; what they depend on (virtio, virtio_ring,
# virtio_pci_modern_dev, virtio_pci_legacy_dev, net_failover, failover in 6.1) is read from the
# modules.dep that busybox's depmod writes for the unpacked kernel (the package ships none: its
# postinst runs depmod), so a later kernel's different split is followed, not guessed.
# SMOKE_GUEST_MODULES overrides the list of wanted modules (e.g. to add virtio_blk).
#
# Glance: vmlinuz as disk/container format aki/aki, initrd.img as ari/ari, disk.raw as raw/bare with
# the properties kernel_id and ramdisk_id (their image ids) and os_command_line
# `console=tty0 console=ttyS0 no_timer_check` (nova's own line ends in console=hvc0, which
# /dev/console then misses; the SMOKE lines reach ttyS0 either way). A flavor of >= 96 MiB RAM.
# Scratch: ~70 MB of .debs and ~400 MB of unpacked kernel in WORKDIR/.build, removed at exit.
set -eu

work=${1:?usage: build-smoke-guest.sh WORKDIR}
modules=${SMOKE_GUEST_MODULES:-virtio_pci virtio_net}

[ -d "$work" ] || { echo "build-smoke-guest: $work is not a directory" >&2; exit 1; }
work=$(cd "$work" && pwd)
build="$work/.build"
rm -rf "$build"
mkdir -p "$build/debs" "$build/kernel" "$build/busybox" "$build/root" "$build/out"
trap 'rm -rf "$build"' EXIT
trap 'exit 1' HUP INT TERM
export DEBIAN_FRONTEND=noninteractive

retry() {
  n=1
  until "$@"; do
    [ "$n" -ge 4 ] && return 1
    echo "build-smoke-guest: '$*' failed, attempt $n; retrying in $((n * 5)) s" >&2
    sleep $((n * 5))
    n=$((n + 1))
  done
}

# The real kernel package behind the linux-image-amd64 metapackage, e.g. linux-image-6.1.0-56-amd64.
kernel_package() {
  apt-cache show --no-all-versions linux-image-amd64 2>/dev/null \
    | sed -n 's/^Depends: *//p' | sed 's/ *[,|] */\n/g' \
    | sed -n 's/^\(linux-image-[0-9][^ ]*\).*/\1/p' | head -n 1
}

# The download runs as root into our own directory, which apt's _apt user cannot write to.
download() {
  kpkg=$(kernel_package)
  [ -n "$kpkg" ] || return 1
  (cd "$build/debs" && apt-get download -q -o APT::Sandbox::User=root "$kpkg" busybox-static)
}

# Stale or missing package lists (a node never updated, a superseded security kernel): update once.
if ! download; then
  retry apt-get update -q
  retry download
fi

for deb in "$build"/debs/linux-image-*.deb; do dpkg-deb -x "$deb" "$build/kernel"; done
for deb in "$build"/debs/busybox-static_*.deb; do dpkg-deb -x "$deb" "$build/busybox"; done
bb="$build/busybox/bin/busybox"

# Modules live in /lib/modules in bookworm's packages, in /usr/lib/modules in later ones.
base="$build/kernel"
[ -d "$base/lib/modules" ] || base="$build/kernel/usr"
set -- "$base"/lib/modules/*
if [ "$#" -ne 1 ] || [ ! -d "$1" ]; then
  echo "build-smoke-guest: expected one kernel in $base/lib/modules, found: $*" >&2
  exit 1
fi
kver=${1##*/}
moddir="$1"
cp "$build/kernel/boot/vmlinuz-$kver" "$build/out/vmlinuz"
"$bb" depmod -b "$base" "$kver"

# The wanted modules and everything they need, each after what it depends on (depth first over
# modules.dep); modules built into the kernel (modules.builtin) are skipped.
order=$(awk -v want="$modules" '
  function modname(p) { sub(/.*\//, "", p); sub(/\.ko(\.[a-z]+)?:?$/, "", p); gsub(/-/, "_", p); return p }
  function visit(m,   d, k, i) {
    if (m in seen || m in builtin) return
    if (!(m in path)) { missing = missing " " m; return }
    seen[m] = 1
    k = split(deps[m], d, " ")
    for (i = 1; i <= k; i++) visit(d[i])
    print m, path[m]
  }
  FILENAME ~ /modules\.builtin$/ { builtin[modname($1)] = 1; next }
  {
    m = modname($1); p = $1; sub(/:$/, "", p); path[m] = p; deps[m] = ""
    for (i = 2; i <= NF; i++) deps[m] = deps[m] " " modname($i)
  }
  END {
    gsub(/-/, "_", want)
    k = split(want, w, " ")
    for (i = 1; i <= k; i++) visit(w[i])
    if (missing != "") { print "build-smoke-guest: no such module:" missing > "/dev/stderr"; exit 1 }
  }
' "$moddir/modules.builtin" "$moddir/modules.dep")

root="$build/root"
mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/etc" "$root/dev" \
  "$root/proc" "$root/sys" "$root/run" "$root/tmp" "$root/lib/modules"
cp "$bb" "$root/bin/busybox"
for applet in $("$bb" --list-full); do
  [ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$root/$applet"
done
: >"$root/etc/smoke-modules"
echo "$order" | while read -r name file; do
  cp "$moddir/$file" "$root/lib/modules/$name.ko"
  echo "$name" >>"$root/etc/smoke-modules"
done

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
# /init of the cloudlab.openstack smoke guest (roles/smoke/files/build-smoke-guest.sh). PID 1: it
# must never exit, so every wait below is bounded and the script ends in an endless heartbeat.
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
# SMOKE lines go to every console the kernel writes to (the console= arguments that exist: nova's
# default line is `console=tty0 console=ttyS0 console=hvc0`, and with no hvc0 /dev/console lands
# on tty0) and to the first serial port in any case: nova's console log is ttyS0's output.
ttys=
for c in ttyS0 $(cat /sys/class/tty/console/active 2>/dev/null); do
  case " $ttys " in *" /dev/$c "*) ;; *) [ -c "/dev/$c" ] && ttys="$ttys /dev/$c" ;; esac
done
say() {
  for t in ${ttys:-/dev/console}; do echo "SMOKE $*" >"$t"; done
}
meta=http://169.254.169.254/latest/meta-data

# GET URL with up to TRIES attempts, 10 s each, 2 s apart; the body on stdout.
fetch() {
  n=0
  while [ "$n" -lt "$2" ]; do
    n=$((n + 1))
    if body=$(timeout 10 wget -q -O - "$1" 2>/dev/null) && [ -n "$body" ]; then
      printf '%s\n' "$body"
      return 0
    fi
    sleep 2
  done
  return 1
}

say "boot uptime=$(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r)"
while read -r m; do
  insmod "/lib/modules/$m.ko" || say "error=insmod $m failed"
done </etc/smoke-modules
ip link set lo up

n=0
while [ ! -e /sys/class/net/eth0 ] && [ "$n" -lt 20 ]; do sleep 0.5; n=$((n + 1)); done
if [ -e /sys/class/net/eth0 ]; then
  # Keeps running in the background to renew the lease; the event script writes /run/smoke-ip.
  udhcpc -i eth0 -s /etc/udhcpc.script -O mtu -O staticroutes -t 20 -T 3 -A 5 -b >/dev/null 2>&1
  n=0
  while [ ! -s /run/smoke-ip ] && [ "$n" -lt 240 ]; do sleep 0.5; n=$((n + 1)); done
else
  say "error=no eth0 (virtio NIC not found)"
fi
if [ -s /run/smoke-ip ]; then
  say "ip=$(cat /run/smoke-ip)"
  say "net $(cat /run/smoke-net) uptime=$(cut -d' ' -f1 /proc/uptime)"
  if iid=$(fetch "$meta/instance-id" 30); then
    say "instance-id=$iid"
    if key=$(fetch "$meta/public-keys/0/openssh-key" 5); then
      say "public-key=$(printf '%s\n' "$key" | head -n 1 | cut -c 1-40)"
    else
      say "error=no public key at $meta/public-keys/0/openssh-key"
    fi
    # User data lines `ping ADDRESS`: another instance to reach (the smoke test's tunnel check).
    # Retried until the first reply (the peer's flows may still be settling), then measured.
    userdata=$(fetch "${meta%/meta-data}/user-data" 1 || true)
    for peer in $(printf '%s\n' "$userdata" | sed -n 's/^ping \([0-9.]*\)$/\1/p'); do
      n=0
      until ping -c 1 -W 2 "$peer" >/dev/null 2>&1 || [ "$n" -ge 60 ]; do n=$((n + 1)); done
      if rtt=$(ping -c 5 -W 2 "$peer" 2>/dev/null | sed -n 's|.*min/avg/max = \([0-9./]*\) ms.*|\1|p') && [ -n "$rtt" ]; then
        say "ping $peer ok rtt-ms=$rtt"
      else
        say "error=ping $peer failed"
      fi
    done
  else
    say "error=metadata unreachable: $meta/instance-id (30 tries)"
  fi
else
  say "error=no DHCP lease on eth0 after 120 s"
fi

while :; do
  sleep 60
  say "alive uptime=$(cut -d' ' -f1 /proc/uptime) ip=$(cat /run/smoke-ip 2>/dev/null)"
done
INIT

cat >"$root/etc/udhcpc.script" <<'SCRIPT'
#!/bin/busybox sh
# udhcpc event script of the smoke guest: address, MTU, routes (option 121 first, as RFC 3442 asks:
# neutron's isolated metadata route arrives that way), resolv.conf; /run/smoke-ip for /init.
# shellcheck disable=SC2154 # interface and ip come from udhcpc's environment
case "$1" in
deconfig)
  ip -4 addr flush dev "$interface"
  ip link set dev "$interface" up
  ;;
bound | renew)
  [ -n "${mtu:-}" ] && ip link set dev "$interface" mtu "$mtu"
  prefix=${mask:-$(ipcalc -p "$ip" "${subnet:-255.255.255.0}" | cut -d= -f2)}
  if ! ip -4 addr show dev "$interface" | grep -q " $ip/$prefix "; then
    ip -4 addr flush dev "$interface"
    ip -4 addr add "$ip/$prefix" ${broadcast:+broadcast "$broadcast"} dev "$interface"
  fi
  gateway=
  if [ -n "${staticroutes:-}" ]; then
    # shellcheck disable=SC2086 # pairs of "network/prefix gateway", split on purpose
    set -- $staticroutes
    while [ "$#" -ge 2 ]; do
      if [ "$2" = 0.0.0.0 ]; then
        ip route replace "$1" dev "$interface"
      else
        ip route replace "$1" via "$2" dev "$interface"
      fi
      [ "$1" = 0.0.0.0/0 ] && gateway=$2
      shift 2
    done
  elif [ -n "${router:-}" ]; then
    gateway=${router%% *}
    ip route replace default via "$gateway" dev "$interface"
  fi
  {
    [ -n "${domain:-}" ] && echo "search $domain"
    for ns in ${dns:-}; do echo "nameserver $ns"; done
  } >/etc/resolv.conf
  echo "gateway=${gateway:-none} mtu=${mtu:-1500} dns=$(printf '%s' "${dns:-none}" | tr ' ' ,)" >/run/smoke-net
  echo "$ip/$prefix" >/run/smoke-ip.new
  mv /run/smoke-ip.new /run/smoke-ip
  ;;
esac
exit 0
SCRIPT
chmod 0755 "$root/init" "$root/etc/udhcpc.script"

(cd "$root" && find . | LC_ALL=C sort | "$bb" cpio -o -H newc -R 0:0) | gzip -9 -n >"$build/out/initrd.img"
truncate -s 1M "$build/out/disk.raw"

mv "$build/out/vmlinuz" "$build/out/disk.raw" "$work/"
mv "$build/out/initrd.img" "$work/initrd.img"
echo "kernel: $kver ($kpkg)"
echo "modules: $(tr '\n' ' ' <"$root/etc/smoke-modules")"
(cd "$work" && ls -l vmlinuz initrd.img disk.raw)
