# -*- coding: utf-8 -*-
# Copyright (c) 2026, cloudlab.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which components of a service role a run with --tags deploys (cinder, neutron)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: tagged_components
short_description: The components of a service role that a C(--tags) run asks for
version_added: 0.1.0
description:
  - A role with several components (cinder - C(cinder_controller), C(cinder_volume); neutron -
    C(neutron_server), C(neutron_ovs_agent), C(neutron_agents)) tags the steps they share (packages,
    the common configuration file, the units) with every component's tag. Without this filter
    C(--tags cinder_volume) would install and start a controller's services without their database.
  - Returns every component, unless the run names one of the component tags and neither C(all) nor
    the role's own tag; then only the components whose tag it names. The role then selects the
    components of the host among these.
positional: run_tags, role_tag
options:
  _input:
    description: Each component's tag, C({component - tag}); several components may share a tag.
    type: dict
    required: true
  run_tags:
    description: The run's C(ansible_run_tags) (C([all]) without C(--tags)).
    type: list
    elements: str
    required: true
  role_tag:
    description: The tag of the whole role (its play's tag, C(cinder)), which asks for every component.
    type: str
    required: true
"""

EXAMPLES = r"""
# roles/neutron/vars/main.yml
__neutron_tagged_components: >-
  {{ {'server': 'neutron_server', 'ovs_agent': 'neutron_ovs_agent', 'l3': 'neutron_agents'}
     | cloudlab.openstack.tagged_components(ansible_run_tags, 'neutron') }}
# --tags neutron_agents,neutron_config -> ['l3']; --tags neutron_config or none -> all three
"""

RETURN = r"""
_value:
  description: The names of the components the run deploys, in the order of the input.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError


def tagged_components(component_tags, run_tags, role_tag):
    """[component, ...] a run with `run_tags` deploys (see DOCUMENTATION)."""
    if not isinstance(component_tags, dict):
        raise AnsibleFilterError(
            "tagged_components: the input must be {component: tag}, not %r" % (component_tags,))
    if isinstance(run_tags, str):
        run_tags = [run_tags]
    run_tags = set(run_tags or [])
    named = run_tags.intersection(component_tags.values())
    if not named or "all" in run_tags or role_tag in run_tags:
        return list(component_tags)
    return [component for component, tag in component_tags.items() if tag in named]


class FilterModule(object):
    """cloudlab.openstack.tagged_components"""

    def filters(self):
        return {"tagged_components": tagged_components}
