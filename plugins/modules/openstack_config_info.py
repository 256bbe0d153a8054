#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, cloudlab.openstack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


DOCUMENTATION = r"""
module: openstack_config_info
short_description: Read the settings of an OpenStack (oslo.config) INI file, secrets masked
version_added: 0.1.0
description:
  - The read side of M(cloudlab.openstack.openstack_config) (its C(state=get)), as an C(_info) module so that it
    never changes anything. Reads the file as oslo.config does, with the same parser.
  - Repeated options (MultiStrOpt) come back as lists, in file order; duplicate sections are merged.
author:
  - cloudlab.openstack contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: This action does not modify state.
  diff_mode:
    support: N/A
    details: This action does not modify state.
  platform:
    platforms: posix
options:
  path:
    description:
      - The INI file to read.
    type: path
    required: true
    aliases: [dest]
  select:
    description:
      - "The sections and options to read, as C({section: [option, ...]}) or C({section: {option: anything}})
        (the O(cloudlab.openstack.openstack_config#module:settings) map of a task works as it is); a section
        mapped to null reads all its options. Omit it to read the whole file."
    type: dict
    default: {}
  secret_options:
    description:
      - Patterns of the options whose values come back as C(********), as in
        M(cloudlab.openstack.openstack_config).
    type: list
    elements: str
    default: ['*password*', '*secret*', '*connection', 'transport_url', '*_key']
seealso:
  - module: cloudlab.openstack.openstack_config
"""

EXAMPLES = r"""
- name: Read where nova's cells and vnc point
  cloudlab.openstack.openstack_config_info:
    path: /etc/nova/nova.conf
    select:
      DEFAULT: [my_ip, notification_driver]
      vnc: null
  register: __nova_conf

- name: Show them
  ansible.builtin.debug:
    msg: "{{ __nova_conf['values']['DEFAULT']['my_ip'] }}"
"""

RETURN = r"""
values:
  description:
    - "The values read: a string for an option that appears once, a list for a repeated one, null for an option
      asked for in O(select) that the file does not hold. Secret values read C(********)."
  returned: always
  type: dict
  sample: {DEFAULT: {my_ip: 10.0.100.145, notification_driver: [a, b]}, database: {connection: "********"}}
exists:
  description: Whether the file exists. A missing file reads as empty.
  returned: always
  type: bool
  sample: true
path:
  description: The file.
  returned: always
  type: str
  sample: /etc/nova/nova.conf
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cloudlab.openstack.plugins.module_utils import oslo_ini


def selection(select):
    """{section: [keys]} or {section: {key: ...}} or {section: None}, as {section: {key: None} or None}."""
    out = {}
    for section, keys in select.items():
        if keys is None or isinstance(keys, dict):
            out[section] = keys
        elif isinstance(keys, list):
            out[section] = dict((k, None) for k in keys)
        else:
            out[section] = {keys: None}
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True, aliases=['dest']),
            select=dict(type='dict', default={}),
            secret_options=dict(type='list', elements='str', no_log=False,
                                default=list(oslo_ini.DEFAULT_SECRET_OPTIONS)),
        ),
        supports_check_mode=True,
    )
    path = module.params['path']
    patterns = module.params['secret_options']
    wanted = selection(module.params['select'] or {})
    result = dict(changed=False, path=path, exists=os.path.exists(path))
    if os.path.isdir(path):
        module.fail_json(msg='%s is a directory; path must name an INI file' % path, **result)
    nodes = []
    if result['exists']:
        with open(path, 'rb') as handle:
            data = handle.read()
        try:
            nodes = oslo_ini.parse(oslo_ini.decode(data))
        except oslo_ini.ParseError as exc:
            module.fail_json(msg=oslo_ini.describe_error(path, exc, patterns), **result)
    result['values'] = oslo_ini.select(nodes, wanted, patterns)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
