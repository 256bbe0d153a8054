#!/usr/bin/env bash
# Removes every object of the smoke test's server check from the project of RCFILE, found by its
# name prefix (floating IPs by their description), so that a run killed half-way is cleaned up by
# the next one as well as by its own `always`:
#
#   smoke-cleanup.sh RCFILE PREFIX [RULE_ID...]
#
# RULE_IDs are security group rules the run itself created (the ones that already existed stay).
# Prints one line per removed object; nothing when there was nothing to remove.
set -uo pipefail
rc_file=${1:?usage: smoke-cleanup.sh RCFILE PREFIX [RULE_ID...]}
prefix=${2:?usage: smoke-cleanup.sh RCFILE PREFIX [RULE_ID...]}
shift 2
# shellcheck disable=SC1090 # the guide's rc file, given by the caller
. "$rc_file"
status=0

# The ids of KIND objects named PREFIX-* (or exactly PREFIX), from `openstack KIND list`.
ids_named() {
  openstack "$@" -f value -c ID -c Name | awk -v p="$prefix" '$2 == p || index($2, p "-") == 1 { print $1 }'
}

remove() {  # KIND... -- IDS
  local kind=() id
  while [ "$1" != -- ]; do kind+=("$1"); shift; done
  shift
  for id in "$@"; do
    if openstack "${kind[@]}" delete "$id" >/dev/null; then
      echo "removed ${kind[*]} $id"
    else
      status=1
    fi
  done
}

# The guide's heat stack first (tasks/server_stack.yml): heat deletes its server. Only where the
# orchestration client is installed (it is when the cloud has heat).
if openstack stack list >/dev/null 2>&1; then
  mapfile -t stacks < <(openstack stack list -f value -c ID -c 'Stack Name' | awk -v p="$prefix" 'index($2, p "-") == 1 { print $1 }')
  for id in "${stacks[@]}"; do
    if openstack stack delete --yes --wait "$id" >/dev/null; then echo "removed stack $id"; else status=1; fi
  done
fi

# Not `server delete --wait`: its polling reuses one HTTP connection, which nova-api under Debian's
# uWSGI resets between polls ("Connection aborted"); each poll here is a new client.
mapfile -t servers < <(ids_named server list)
remove server -- "${servers[@]}"
for id in "${servers[@]}"; do
  for _ in $(seq 1 60); do
    openstack server show "$id" >/dev/null 2>&1 || continue 2
    sleep 2
  done
  echo "server $id still exists after 120 s" >&2
  status=1
done
mapfile -t fips < <(openstack floating ip list --long -f value -c ID -c Description | awk -v p="$prefix" '$2 == p { print $1 }')
remove floating ip -- "${fips[@]}"
mapfile -t ports < <(ids_named port list)
remove port -- "${ports[@]}"
mapfile -t groups < <(ids_named server group list)
remove server group -- "${groups[@]}"
if openstack keypair show "$prefix" >/dev/null 2>&1; then remove keypair -- "$prefix"; fi
mapfile -t images < <(ids_named image list)
remove image -- "${images[@]}"
remove security group rule -- "$@"
exit "$status"
