"""The whole site at once: `ansible-playbook --check --diff` of molecule/site/converge.yml (the
root site.yml) on the converged cloud reports changed=0 and failed=0 on every node and prints no
secret of the deployment. One run for every service (it takes minutes); the second real converge
is molecule's idempotence step.
"""
from pathlib import Path

from lab_testinfra import assert_check_mode_changes_nothing, secrets


def test_check_mode_on_the_converged_site_changes_nothing():
    output = assert_check_mode_changes_nothing(Path(__file__).resolve().parents[1], "--diff")
    # names only: a failing assertion must not print the values
    printed = sorted(name for name, value in secrets().items() if str(value) in output)
    assert not printed, f"the check run printed these secrets: {printed}"
