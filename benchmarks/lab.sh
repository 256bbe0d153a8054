#!/usr/bin/env bash
# Lab figures (docs/lab.md): cold `up` (no images), warm `up`, memory of the idle nodes, an Ansible
# ping of all of them, and what the package cache saves.
#   benchmarks/lab.sh [cold] [warm] [memory] [ping] [cache]     (default: all of them)
# `cold` takes the lab down and deletes its images first (the package cache stays warm): it
# disturbs anything using the lab. Set CLOUDLAB_LAB_NODES (a host pattern) to use a subset.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH="$top/.venv/bin:$PATH" ANSIBLE_CONFIG="$top/ansible.cfg"
nodes=${CLOUDLAB_LAB_NODES:-all}
steps=("$@"); [ ${#steps[@]} -gt 0 ] || steps=(cold warm memory ping cache)
log=$(mktemp -d /tmp/cloudlab-bench.XXXXXX)

seconds() { local s; s=$(date +%s.%N); "$@" >"$log/out" 2>&1 || { tail -30 "$log/out"; exit 1; }
            awk -v a="$(date +%s.%N)" -v b="$s" 'BEGIN { print a - b }'; }
fresh_cp() { export ANSIBLE_SSH_CONTROL_PATH_DIR; ANSIBLE_SSH_CONTROL_PATH_DIR=$(mktemp -d "$log/cp.XXXX"); }
count() { ansible -i inventory/lab "$nodes" --list-hosts | tail -n +2 | wc -l; }

for step in "${steps[@]}"; do
  case "$step" in
    cold)
      tools/lab down >/dev/null
      podman rmi --ignore localhost/cloudlab-node:bookworm localhost/cloudlab-base:bookworm >/dev/null
      printf 'cold up (%s nodes, images built, package cache warm): %.1f s\n' "$(count)" "$(seconds tools/lab up --nodes "$nodes")" ;;
    warm)
      tools/lab up --nodes "$nodes" >/dev/null
      printf 'warm up (%s nodes already up): %.1f s\n' "$(count)" "$(seconds tools/lab up --nodes "$nodes")" ;;
    memory)
      # Per container cgroup: resident = anonymous memory + shmem (what the nodes really hold);
      # usage = the cgroup's whole charge, including page cache the kernel reclaims on demand.
      root=/sys/fs/cgroup; [ -d $root/memory ] && root=$root/memory   # v1 or hybrid: the memory controller
      for id in $(podman ps -q --no-trunc --filter label=cloudlab.lab); do
        cg=$(find $root -maxdepth 3 -type d -name "*$id*" 2>/dev/null | head -1)
        [ -n "$cg" ] || continue
        if [ -f "$cg/memory.stat" ] && grep -q '^total_rss ' "$cg/memory.stat"; then   # cgroup v1
          awk -v u="$(cat "$cg/memory.usage_in_bytes")" '$1=="total_rss"||$1=="total_shmem" { r += $2 } END { print r, u }' "$cg/memory.stat"
        else                                                                          # cgroup v2
          awk -v u="$(cat "$cg/memory.current")" '$1=="anon"||$1=="shmem" { r += $2 } END { print r, u }' "$cg/memory.stat"
        fi
      done | awk '{ r += $1; u += $2; n++ }
        END { printf "memory of %d idle nodes: %.0f MiB resident (%.1f MiB per node); %.0f MiB with page cache\n",
              n, r/1048576, r/1048576/n, u/1048576 }' ;;
    ping)
      fresh_cp
      printf 'ansible ping of %s nodes, new SSH connections: %.1f s\n' "$(count)" \
        "$(seconds ansible -i inventory/lab "$nodes" -m ansible.builtin.ping)"
      printf 'ansible ping of %s nodes, SSH masters reused: %.1f s\n' "$(count)" \
        "$(seconds ansible -i inventory/lab "$nodes" -m ansible.builtin.ping)" ;;
    cache)
      # Download the same .debs on every node into a throw-away directory; the first node fills
      # the cache, the others are served from it. apt-cacher-ng's log says how much came from the
      # mirror (I, in) and how much it served (O, out).
      fresh_cp
      pkgs="vim-runtime perl-modules-5.36"
      first=$(ansible -i inventory/lab "$nodes" --list-hosts | sed -n 2p | tr -d ' ')
      getcmd="rm -rf /tmp/bench-debs && mkdir /tmp/bench-debs && cd /tmp/bench-debs && apt-get -qq update && apt-get -qq download $pkgs && echo KB=\$(du -sk . | cut -f1) && rm -rf /tmp/bench-debs"
      # make these packages cold in the cache, so the first node really fetches them from the mirror
      for p in $pkgs; do find /var/cache/apt-cacher-ng -name "${p}_*" -delete; done
      mark=$(wc -l < /var/log/apt-cacher-ng/apt-cacher.log)
      t1=$(seconds ansible -i inventory/lab "$first" -m ansible.builtin.shell -a "$getcmd")
      kb=$(grep -o -m1 "KB=[0-9]*" "$log/out" | cut -d= -f2 || true)
      t2=$(seconds ansible -i inventory/lab "$nodes:!$first" -m ansible.builtin.shell -a "$getcmd")
      tail -n +"$((mark + 1))" /var/log/apt-cacher-ng/apt-cacher.log | awk -F'|' '
        $2=="I" { in_b += $3 } $2=="O" { out_b += $3 }
        END { printf "package cache: %.1f MB fetched from the mirror, %.1f MB served to the nodes\n", in_b/1e6, out_b/1e6 }'
      printf 'package download (%s, %s kB) on the first node: %.1f s; on the %s others at once: %.1f s\n' \
        "$pkgs" "${kb:-?}" "$t1" "$(( $(count) - 1 ))" "$t2" ;;
    *) echo "unknown step $step (cold warm memory ping cache)" >&2; exit 2 ;;
  esac
done
rm -rf "$log"
