"""Baked node images (docs/lab.md, "Baked node images"), on a real lab node.

`tools/lab up --baked` makes a new node from its baked image when one with the node's current
key (tools/bake-key) exists; otherwise it makes the node from the node image, runs the
deployment's own install tasks on it (`site.yml --tags packages`), and commits it as its baked
image. Proven here on osceph1 (a reserved ceph node: the base packages and chrony, the cheapest
node to bake): the bake from nothing, the image's label and contents, a new node made from the
image without a second bake, `--baked` leaving an existing node alone, and a plain `up` going
back to the node image.
"""
import json
import subprocess

import pytest

from lab import INVENTORY, TOP, podman

NODE = "osceph1"
IMAGE = f"localhost/cloudlab-baked-{NODE}:bookworm"
LABEL = "cloudlab.lab.bake"
# chrony: the chrony role's install; python3-apt: the base role's packages
PACKAGES = ["chrony", "python3-apt"]


def image_of(node):
    return podman("inspect", "--format", "{{.Image}}", node)[0]


def image_labels(image):
    return json.loads(subprocess.run(["podman", "image", "inspect", image], capture_output=True, text=True,
                                     check=True).stdout)[0]["Labels"] or {}


def bake_key(lab, node):
    node_image = podman("image", "inspect", "--format", "{{.Id}}", "localhost/cloudlab-node:bookworm")[0]
    out = subprocess.run([str(TOP / ".venv" / "bin" / "python"), str(TOP / "tools" / "bake-key"), "-i",
                          str(INVENTORY), "--tags", "packages", "--extra", node_image],
                         cwd=TOP, env=lab.ansible_env(), capture_output=True, text=True, check=True).stdout
    return json.loads(out)[node]


def installed(lab, package):
    return lab.ssh(NODE, f"dpkg-query -W -f '${{Status}}' {package}", check=False).stdout == "install ok installed"


@pytest.fixture(scope="module")
def baked(lab_nodes):
    """osceph1 baked from nothing: its image removed, the node removed, then `up --baked`."""
    lab = lab_nodes.lab
    # the deployment's secrets: the install run's prechecks read them from the inventory
    subprocess.run(["ansible-playbook", "-i", str(INVENTORY), "playbooks/secrets.yml"], cwd=TOP,
                   env=lab.ansible_env(), capture_output=True, text=True, check=True)
    lab.down("--nodes", NODE)
    subprocess.run(["podman", "rmi", "--force", IMAGE], capture_output=True, check=False)
    proc = lab.up("--nodes", NODE, "--baked")
    yield lab, proc
    lab.up("--nodes", NODE)  # back to the node image for the tests after this module
    lab.forget([NODE])


def test_bake_from_nothing(baked):
    lab, proc = baked
    assert f"lab: baking the node images of {NODE}" in proc.stdout, proc.stdout[-3000:]
    assert f"lab: baked {IMAGE}" in proc.stdout
    labels = image_labels(IMAGE)
    assert labels.get(LABEL) == bake_key(lab, NODE), labels
    # the node that was baked runs on: the install run's packages are on it
    for package in PACKAGES:
        assert installed(lab, package), package


def test_new_node_from_the_baked_image(baked):
    lab, _ = baked
    lab.down("--nodes", NODE)
    proc = lab.up("--nodes", NODE, "--baked")
    assert "lab: baking" not in proc.stdout, proc.stdout[-3000:]
    assert image_of(NODE) == podman("image", "inspect", "--format", "{{.Id}}", IMAGE)[0]
    for package in PACKAGES:
        assert installed(lab, package), package
    # apt's downloads were cleaned before the commit: the image holds no .deb
    assert lab.ssh(NODE, "ls /var/cache/apt/archives/ | grep -c '\\.deb$' || true").stdout.strip() == "0"


def test_baked_up_leaves_an_existing_node(baked):
    lab, _ = baked
    before = podman("inspect", "--format", "{{.Id}}", NODE)[0]
    proc = lab.up("--nodes", NODE, "--baked")
    assert "lab: baking" not in proc.stdout
    assert podman("inspect", "--format", "{{.Id}}", NODE)[0] == before


def test_plain_up_goes_back_to_the_node_image(baked):
    lab, _ = baked
    lab.up("--nodes", NODE)
    assert image_of(NODE) == podman("image", "inspect", "--format", "{{.Id}}", "localhost/cloudlab-node:bookworm")[0]
    assert not installed(lab, "chrony")
