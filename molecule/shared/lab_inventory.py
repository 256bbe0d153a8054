#!/usr/bin/env python3
"""Ansible inventory script for molecule scenarios: inventory/lab/hosts.yml (the deployment table,
with all its node-type and service groups) restricted to the scenario's platforms, so that a play
for `mariadb` or `all` reaches only the lab nodes the scenario brought up."""
import json
import os
import sys
from pathlib import Path

import yaml

TOP = Path(__file__).resolve().parents[2]
TABLE = TOP / "inventory" / "lab" / "hosts.yml"
# group_vars finds the key relative to inventory_dir, which is molecule's ephemeral directory here
KEY = TOP / ".lab" / "ssh" / "id_ed25519"


def platforms():
    scenario = yaml.safe_load(Path(os.environ["MOLECULE_FILE"]).read_text())
    return {p["name"] for p in scenario.get("platforms") or []}


def flatten(name, body, keep, out, hostvars):
    """Adds group `name` (and its children) to `out` in ansible's JSON inventory format."""
    body = body or {}
    group = out.setdefault(name, {"hosts": [], "children": []})
    for host, hvars in (body.get("hosts") or {}).items():
        if host in keep:
            if host not in group["hosts"]:
                group["hosts"].append(host)
            hostvars.setdefault(host, {"ansible_ssh_private_key_file": str(KEY)}).update(hvars or {})
    for child, child_body in (body.get("children") or {}).items():
        if child not in group["children"]:
            group["children"].append(child)
        flatten(child, child_body, keep, out, hostvars)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--host":
        print("{}")
        return
    out, hostvars = {}, {}
    flatten("all", yaml.safe_load(TABLE.read_text())["all"], platforms(), out, hostvars)
    out["_meta"] = {"hostvars": hostvars}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
