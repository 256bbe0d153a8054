#!/usr/bin/env bash
# Whole-table figures (issues 14 and 21): lab up, the first site.yml run, then on the converged
# cloud the idempotent re-run, the check-mode run and `--tags <service>` for each service (seconds,
# tasks run and changed, the busiest host's tasks for each), the lab's peak memory, and issue 21's
# goals met or missed.
#   benchmarks/deploy.sh [fresh|converged]
# `fresh` takes the lab down first, so the first run starts from new nodes (the images, baked ones
# included, and the host's package cache stay: that is the "warm cache" figure; a cold cache means
# a new machine, or a changed install path, which bakes the images again in the same run).
# Without an argument the first run meets whatever the lab holds (on a converged lab: a re-run).
# `converged` skips lab up, the secrets step and the first run: the figures of a lab deployed before.
# Environment:
#   STRATEGY=linear           every run with that strategy instead of ansible.cfg's mitogen_linear
#                             (plain SSH, for the comparison in docs/speed.md)
#   SERVICES="keystone glance"  the services of the `--tags` runs (default: all nine below)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH="$top/.venv/bin:$PATH" ANSIBLE_CONFIG="$top/ansible.cfg"
mode=${1:-}
case $mode in ''|fresh|converged) ;; *) echo "usage: $0 [fresh|converged]" >&2; exit 2 ;; esac
services=${SERVICES:-keystone glance nova neutron cinder swift heat telemetry horizon}
log=$(mktemp -d /tmp/cloudlab-deploy.XXXXXX)

if [ -n "${STRATEGY:-}" ]; then
  export ANSIBLE_STRATEGY=$STRATEGY
fi

# run NAME CMD...: runs CMD with its output in $log/NAME; sets $secs to the seconds it took
run() { local name=$1 s; shift; s=$(date +%s.%N)
        "$@" >"$log/$name" 2>&1 || { tail -40 "$log/$name" >&2; echo "failed: $* (log: $log/$name)" >&2; exit 1; }
        secs=$(awk -v a="$(date +%s.%N)" -v b="$s" 'BEGIN { printf "%.1f", a - b }'); }
# recap FILE KEY: the sum over the hosts of KEY (ok, changed, failed, ...) in a playbook's recap
recap() { awk -v k="$2" '/^PLAY RECAP/ { r = 1; next } r && / : ok=/ {
            for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) t += kv[2] } }
          END { print t + 0 }' "$1"; }
# tasks FILE: tasks run (ok + failed, summed over the hosts), the figure issue 21 counts
tasks() { echo $(( $(recap "$1" ok) + $(recap "$1" failed) )); }
# tally FILE: "tasks run N, changed N, failed N, unreachable N; busiest HOST N"
tally() { printf 'tasks run %d, changed %d, failed %d, unreachable %d; busiest %s' "$(tasks "$1")" \
            "$(recap "$1" changed)" "$(recap "$1" failed)" "$(recap "$1" unreachable)" "$(busiest "$1")"; }
# busiest FILE: the host that ran the most tasks, and how many (the critical path: one host's
# tasks run one after another)
busiest() { awk '/^PLAY RECAP/ { r = 1; next } r && / : ok=/ { split($3, kv, "=");
            if (kv[2] > n) { n = kv[2]; h = $1 } } END { printf "%s %d", h, n }' "$1"; }
# slowest FILE N: the N slowest tasks of a run (the profile_tasks summary ansible.cfg enables)
slowest() { awk '/^=+ *$/ { s = 1; next } s && / -+ [0-9.]+s$/ { sub(/ -+ /, "  "); print "    " $0 }' "$1" | head -"$2"; }
# peak memory of every lab container since it started (cgroup v2 memory.peak, v1 max_usage)
peak() { local root=/sys/fs/cgroup total=0 v cg id
         [ -d $root/memory ] && root=$root/memory
         for id in $(podman ps -q --no-trunc --filter label=cloudlab.lab); do
           cg=$(find $root -maxdepth 3 -type d -name "*$id*" 2>/dev/null | head -1)
           v=$(cat "$cg/memory.peak" 2>/dev/null || cat "$cg/memory.max_usage_in_bytes" 2>/dev/null || echo 0)
           total=$((total + v))
         done
         echo $((total / 1024 / 1024)); }
# goal NAME SECONDS LIMIT CHANGED: one line of the closing summary (met: within the limit, changed=0)
goals=()
goal() { local verdict=met
         awk -v s="$2" -v l="$3" 'BEGIN { exit !(s > l) }' && verdict=missed
         [ "$4" -eq 0 ] || verdict="missed (changed=$4)"
         goals+=("$(printf '  %-22s %7s s  goal <= %3s s  %s' "$1" "$2" "$3" "$verdict")"); }

# A fresh SSH ControlPath directory: a master left from an earlier run hangs on a rebuilt node.
export ANSIBLE_SSH_CONTROL_PATH_DIR="$log/cp"
site=(ansible-playbook -i inventory/lab site.yml)
printf 'strategy: %s\n' "${ANSIBLE_STRATEGY:-mitogen_linear (ansible.cfg)}"
if [ "$mode" != converged ]; then
  if [ "$mode" = fresh ]; then tools/lab down >/dev/null; fi
  baked=
  nodes=$(ansible -i inventory/lab all --list-hosts | tail -n +2 | wc -l)
  run secrets ansible-playbook -i inventory/lab playbooks/secrets.yml; printf 'secrets step: %s s\n' "$secs"
  deploy=$secs
  # as make deploy: new nodes from their baked images, baked first where the install path changed
  run up tools/lab up --baked
  baked=$(sed -n 's/^lab: baking the node images of //p' "$log/up")
  if [ -n "$baked" ]; then state="baked now: $baked"; else state="every baked image current"; fi
  printf 'lab up (%s nodes; %s): %s s\n' "$nodes" "$state" "$secs"
  deploy=$(awk -v a="$deploy" -v b="$secs" 'BEGIN { printf "%.1f", a + b }')
  run first "${site[@]}"; printf 'first site.yml run: %s s (%s)\n' "$secs" "$(tally "$log/first")"
  deploy=$(awk -v a="$deploy" -v b="$secs" 'BEGIN { printf "%.1f", a + b }')
  printf 'deploy (secrets + lab up + first run, what make deploy does): %s s\n' "$deploy"
fi
run again "${site[@]}"; printf 'idempotent re-run: %s s (%s)\n' "$secs" "$(tally "$log/again")"
goal "idempotent re-run" "$secs" 120 "$(recap "$log/again" changed)"
echo "  its slowest tasks:"
slowest "$log/again" 8
run check "${site[@]}" --check; printf 'check-mode run: %s s (%s)\n' "$secs" "$(tally "$log/check")"
goal "check-mode run" "$secs" 120 "$(recap "$log/check" changed)"
for service in $services; do
  run "tags-$service" "${site[@]}" --tags "$service"
  printf -- '--tags %s: %s s (%s)\n' "$service" "$secs" "$(tally "$log/tags-$service")"
  goal "--tags $service" "$secs" 15 "$(recap "$log/tags-$service" changed)"
done
printf 'peak memory of the lab (sum over nodes, since they started): %s MiB\n' "$(peak)"
echo "issue 21's goals on this machine ($(nproc) cores):"
# The deploy's goal is for fresh nodes with warm caches, the package cache and the baked images
# (12 min); 16 min when the images are baked in the same run (a cold cache).
if [ "$mode" = fresh ]; then
  if [ -n "$baked" ]; then goal "deploy, baking images" "$deploy" 960 0
  else goal "deploy, images current" "$deploy" 720 0; fi
fi
printf '%s\n' "${goals[@]}"
echo "logs: $log"
