#!/usr/bin/env bash
# The size of the collection's model (issue 20): how many roles, YAML lines, tasks, role defaults
# and argument_spec options it takes to say what it deploys. A smaller number for the same cloud
# means fewer places to change one setting.
#   benchmarks/model_size.sh [TREE]    (default: this checkout)
set -euo pipefail
tree=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$tree"
yaml_lines() { find "$@" -name '*.yml' -print0 | xargs -0 cat | wc -l; }
# top-level keys of every role's defaults/main.yml
defaults=$(cat roles/*/defaults/main.yml | grep -cE '^[a-z_][a-z0-9_]*:' || true)
# options of every entry point of every argument_specs.yml: keys indented 6 spaces under `options:`
options=$(cat roles/*/meta/argument_specs.yml | grep -cE '^      [a-z_][a-z0-9_]*:' || true)
# task entries of every role's task files and of the playbooks
tasks=$(cat roles/*/tasks/*.yml | grep -cE '^- name:' || true)
printf 'roles: %s\n' "$(find roles -mindepth 1 -maxdepth 1 -type d | wc -l)"
printf 'YAML lines: roles %s, playbooks %s\n' "$(yaml_lines roles)" "$(yaml_lines playbooks)"
printf 'task entries in roles: %s\n' "$tasks"
printf 'role defaults: %s, argument_spec options: %s\n' "$defaults" "$options"
printf 'helper scripts under roles/*/files: %s\n' "$(find roles -path '*/files/*.py' | wc -l)"
