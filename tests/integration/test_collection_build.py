"""The collection builds into a tarball that ansible-galaxy installs, and every module documents."""
import subprocess
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (TOP / "plugins" / "modules").glob("*.py") if p.stem != "__init__")


def run(*args, cwd=TOP):
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True)


def test_build_and_install(tmp_path):
    run("ansible-galaxy", "collection", "build", "--output-path", str(tmp_path / "dist"))
    tarballs = list((tmp_path / "dist").glob("cloudlab-openstack-*.tar.gz"))
    assert len(tarballs) == 1
    listing = run("tar", "-tzf", str(tarballs[0])).stdout.split()
    assert "galaxy.yml" not in listing and "MANIFEST.json" in listing
    assert not [n for n in listing if n.startswith(("tests/", "molecule/", ".venv/", "benchmarks/"))]
    # Install without dependencies: they come from the `ansible` package, Galaxy is unreachable.
    # --force: the checkout itself is on the collections path and would count as "installed".
    run("ansible-galaxy", "collection", "install", "--no-deps", "--force", "-p", str(tmp_path / "installed"),
        str(tarballs[0]))
    installed = tmp_path / "installed" / "ansible_collections" / "cloudlab" / "openstack"
    assert (installed / "MANIFEST.json").is_file()
    for module in MODULES:
        assert (installed / "plugins" / "modules" / f"{module}.py").is_file()


def test_ansible_doc_for_every_module():
    for module in MODULES:
        out = run("ansible-doc", "-t", "module", f"cloudlab.openstack.{module}").stdout
        assert f"cloudlab.openstack.{module}" in out
