# Mitogen's `mitogen_linear` strategy, the lab's default (ansible.cfg: strategy, strategy_plugins).
# Mitogen ships it inside the venv's site-packages, whose path changes with the Python version;
# this file is where ansible.cfg can point, and it only re-exports Mitogen's class (docs/speed.md).
# Plain SSH stays one variable away: ANSIBLE_STRATEGY=linear (make deploy STRATEGY=linear).
from __future__ import absolute_import, division, print_function
__metaclass__ = type

try:
    from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule  # noqa: F401
except ImportError as error:
    from ansible.errors import AnsibleError
    raise AnsibleError(
        "ansible.cfg runs plays with Mitogen's mitogen_linear strategy, but this Python cannot import "
        "it (%s): run `make venv` (requirements.txt pins mitogen), or run with plain SSH: "
        "ANSIBLE_STRATEGY=linear" % error)
