#!/usr/bin/env bash
# Whole-table figures (issue 14): lab up, the first site.yml run, the idempotent re-run, the
# check-mode run (tasks run and changed for each), and the lab's peak memory.
#   benchmarks/deploy.sh [fresh]
# `fresh` takes the lab down first, so the first run starts from new nodes (images and the host's
# package cache stay: that is the "warm package cache" figure; a cold cache means a new machine).
# Without it the first run meets whatever the lab holds (on a converged lab: a re-run).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH="$top/.venv/bin:$PATH" ANSIBLE_CONFIG="$top/ansible.cfg"
log=$(mktemp -d /tmp/cloudlab-deploy.XXXXXX)

# seconds NAME CMD...: runs CMD with its output in $log/NAME, prints the seconds it took
seconds() { local name=$1 s; shift; s=$(date +%s.%N)
            "$@" >"$log/$name" 2>&1 || { tail -40 "$log/$name" >&2; echo "failed: $*" >&2; exit 1; }
            awk -v a="$(date +%s.%N)" -v b="$s" 'BEGIN { printf "%.1f", a - b }'; }
# tally FILE: "tasks run N, changed N, failed N" summed over the hosts of a playbook recap
tally() { awk '/^PLAY RECAP/ { r = 1; next } r && / : ok=/ {
            for (i = 1; i <= NF; i++) { split($i, kv, "="); t[kv[1]] += kv[2] } }
          END { printf "tasks run %d, changed %d, failed %d, unreachable %d", t["ok"] + t["failed"], t["changed"], t["failed"], t["unreachable"] }' "$1"; }
# slowest FILE N: the N slowest tasks of a run (the profile_tasks summary ansible.cfg enables)
slowest() { awk '/^=+ *$/ { s = 1; next } s && / -+ [0-9.]+s$/ { sub(/ -+ /, "  "); print "  " $0 }' "$1" | head -"$2"; }
# the most tasks any one host ran (the critical path: one host's tasks run one after another)
busiest() { awk '/^PLAY RECAP/ { r = 1; next } r && / : ok=/ { split($3, kv, "=");
            if (kv[2] > n) { n = kv[2]; h = $1 } } END { printf "%s ran %d tasks", h, n }' "$1"; }
# peak memory of every lab container since it started (cgroup v2 memory.peak, v1 max_usage)
peak() { local root=/sys/fs/cgroup total=0 v cg id
         [ -d $root/memory ] && root=$root/memory
         for id in $(podman ps -q --no-trunc --filter label=cloudlab.lab); do
           cg=$(find $root -maxdepth 3 -type d -name "*$id*" 2>/dev/null | head -1)
           v=$(cat "$cg/memory.peak" 2>/dev/null || cat "$cg/memory.max_usage_in_bytes" 2>/dev/null || echo 0)
           total=$((total + v))
         done
         echo $((total / 1024 / 1024)); }

# A fresh SSH ControlPath directory: a master left from an earlier run hangs on a rebuilt node.
export ANSIBLE_SSH_CONTROL_PATH_DIR="$log/cp"
if [ "${1:-}" = fresh ]; then tools/lab down >/dev/null; fi
nodes=$(ansible -i inventory/lab all --list-hosts | tail -n +2 | wc -l)
printf 'lab up (%s nodes): %s s\n' "$nodes" "$(seconds up tools/lab up)"
printf 'secrets step: %s s\n' "$(seconds secrets ansible-playbook -i inventory/lab playbooks/secrets.yml)"
printf 'first site.yml run: %s s (%s)\n' "$(seconds first ansible-playbook -i inventory/lab site.yml)" "$(tally "$log/first")"
printf 'idempotent re-run: %s s (%s)\n' "$(seconds again ansible-playbook -i inventory/lab site.yml)" "$(tally "$log/again")"
printf '%s; its slowest tasks:\n' "$(busiest "$log/again")"
slowest "$log/again" 8
printf 'check-mode run: %s s (%s)\n' "$(seconds check ansible-playbook -i inventory/lab site.yml --check)" "$(tally "$log/check")"
printf 'peak memory of the lab (sum over nodes): %s MiB\n' "$(peak)"
echo "logs: $log"
