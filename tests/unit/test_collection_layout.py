"""The collection's own contract: what galaxy, ansible-doc and site.yml rely on being present."""
from pathlib import Path

import pytest
import yaml

TOP = Path(__file__).resolve().parents[2]
MODULES = sorted(p for p in (TOP / "plugins" / "modules").glob("*.py") if p.name != "__init__.py")
ROLES = sorted(p for p in (TOP / "roles").iterdir() if p.is_dir()) if (TOP / "roles").is_dir() else []


def test_galaxy_identity():
    galaxy = yaml.safe_load((TOP / "galaxy.yml").read_text())
    assert (galaxy["namespace"], galaxy["name"]) == ("cloudlab", "openstack")
    for kept_out in ("molecule", "tests", "benchmarks", ".venv"):
        assert kept_out in galaxy["build_ignore"], f"{kept_out} must not ship in the collection tarball"


def test_runtime_requires_ansible():
    runtime = yaml.safe_load((TOP / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"].startswith(">=")


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.stem)
def test_module_documents_itself(module):
    text = module.read_text()
    for block in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
        assert f"\n{block} = " in text, f"{module.name} lacks {block}"
    assert "supports_check_mode=True" in text, f"{module.name} must support check mode"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_has_argument_specs(role):
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    assert "main" in spec["argument_specs"]
    defaults = role / "defaults" / "main.yml"
    if defaults.exists():
        prefix = role.name + "_"
        names = yaml.safe_load(defaults.read_text()) or {}
        unprefixed = [n for n in names if not n.startswith(prefix)]
        assert not unprefixed, f"defaults of {role.name} must start with {prefix}: {unprefixed}"


def test_no_play_but_the_secrets_step_loads_secrets():
    """The inventory hands every host the secrets (group_vars/all/secrets.yml): a play that applied
    the secrets role would spend tasks on every run re-reading them. Only playbooks/secrets.yml
    generates them; the prechecks import the role's check.yml alone."""
    uses = {}
    for playbook in sorted((TOP / "playbooks").glob("*.yml")):
        for play in yaml.safe_load(playbook.read_text()) or []:
            roles = [r if isinstance(r, str) else r.get("role", r.get("name")) for r in play.get("roles", [])]
            imports = [t.get("ansible.builtin.import_role") or t.get("ansible.builtin.include_role") or {}
                       for t in play.get("tasks", []) + play.get("pre_tasks", [])]
            main_imports = [i["name"] for i in imports if i and i.get("tasks_from", "main") in ("main", "main.yml")]
            if "cloudlab.openstack.secrets" in roles + main_imports:
                uses.setdefault(playbook.name, []).append(play.get("name"))
    assert uses == {"secrets.yml": ["Secrets of the deployment"]}


def test_every_test_file_compiles():
    """The molecule scenarios' tests run only in CI's last stage, after an hour of deploying: a
    syntax error there must fail here, in seconds."""
    broken = []
    for path in sorted([*(TOP / "molecule").rglob("*.py"), *(TOP / "tests").rglob("*.py"), *(TOP / "benchmarks").rglob("*.py")]):
        try:
            compile(path.read_text(), str(path), "exec")
        except SyntaxError as error:
            broken.append(f"{path.relative_to(TOP)}:{error.lineno}: {error.msg}")
    assert not broken, broken
