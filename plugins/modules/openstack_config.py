#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, cloudlab.openstack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


DOCUMENTATION = r"""
module: openstack_config
short_description: Apply a map of settings to an OpenStack (oslo.config) INI file in one atomic write
version_added: 0.1.0
description:
  - "The install guides' C(openstack-config --set FILE SECTION KEY VALUE), batched: one task applies a whole
    C({section: {option: value}}) map to a file such as C(nova.conf), C(neutron.conf) or C(ml2_conf.ini) and
    writes the file once, atomically."
  - "Reads the file as oslo.config does: duplicate sections are merged, C(key=value) and C(key: value) with or
    without spaces, values that contain C(=) or C(#) (oslo.config has no inline comments), indented continuation
    lines, UTF-8."
  - Keeps comments, blank lines, unrelated options and their order. A missing option replaces the distro sample
    line C(#option = default) of its section in place when there is one, else it goes at the end of the section.
    Missing sections are appended to the file.
  - A file that cannot be parsed is never written; the task fails naming the line.
  - A symlink is followed - the file it points to is edited and the link stays (Debian's C(/etc/neutron/plugin.ini)
    points to C(ml2_conf.ini)).
  - Values of secret options (see O(secret_options)) are masked in the diff and in the returned data, while the rest
    of the diff stays visible; the secret values given in O(settings) are also hidden from the whole task result.
author:
  - cloudlab.openstack contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
options:
  path:
    description:
      - The INI file to edit, for example C(/etc/nova/nova.conf).
    type: path
    required: true
    aliases: [dest]
  settings:
    description:
      - "The settings, as C({section: {option: value}}). C(DEFAULT) is a section like any other."
      - With O(state=present) a value is a scalar (written as given; booleans as C(True)/C(False), as oslo.config
        expects), a list (a MultiStrOpt - one C(option = item) line per item, in the given order; an empty list
        removes the option), or null (the option is removed).
      - With O(state=absent) a null value removes every line of the option, a scalar or list removes only the lines
        that hold one of those values, and a section mapped to null is removed whole, with its comments.
    type: dict
    default: {}
  state:
    description:
      - V(present) makes the options hold exactly the given values.
      - V(absent) removes options, values or whole sections.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With O(state=present), remove the options of each section named in O(settings) that O(settings) does not
        list. Sections not named in O(settings) are never touched.
    type: bool
    default: false
  create:
    description:
      - Create the file when it does not exist. When V(false) a missing file is an error for O(state=present).
    type: bool
    default: true
  backup:
    description:
      - Keep a timestamped copy of the file before changing it.
    type: bool
    default: false
  replace_samples:
    description:
      - Put a missing option where its commented-out sample line (C(#option = default), as oslo-config-generator
        writes them) is, replacing that line, rather than at the end of the section.
    type: bool
    default: true
  secret_options:
    description:
      - Names of options whose values are secret, as shell-style patterns matched case-insensitively against the
        option name, or against C(section.option) when the pattern contains a dot (C(database.connection)).
      - Their values are shown as C(********) in the diff (C(******** (changed\)) on a line that changed), and the
        secret values given in O(settings) are hidden from the whole task result.
      - Setting this replaces the default list; repeat the defaults to extend it.
      - The default covers C(connection) and C(slave_connection) (database URLs with their passwords) with
        C(*connection).
    type: list
    elements: str
    default: ['*password*', '*secret*', '*connection', 'transport_url', '*_key']
notes:
  - Section and option names are compared exactly as written.
  - Values are compared and returned as written after the C(=), with the surrounding spaces stripped; oslo.config
    itself also drops one pair of matching quotes when it reads them.
  - Ansible logs module arguments to the managed host's system log before the module runs. Keep secrets out of it
    with C(no_target_syslog = True) in C(ansible.cfg).
seealso:
  - module: cloudlab.openstack.openstack_config_info
    description: Reads the values of such a file, secrets masked.
  - module: community.general.ini_file
"""

EXAMPLES = r"""
- name: Configure nova on the controller in one write
  cloudlab.openstack.openstack_config:
    path: /etc/nova/nova.conf
    owner: root
    group: nova
    mode: "0640"
    settings:
      DEFAULT:
        my_ip: 10.0.100.145
        transport_url: "rabbit://openstack:{{ rabbit_password }}@10.0.100.149"
        notification_driver:  # a MultiStrOpt: two lines, in this order
          - nova.openstack.common.notifier.rpc_notifier
          - ceilometer.compute.nova_notifier
        rpc_backend: null  # removed
      api:
        auth_strategy: keystone
      database:
        connection: "mysql+pymysql://nova:{{ nova_db_password }}@10.0.100.149/nova"
      libvirt:
        virt_type: qemu
  notify: Restart nova-api

- name: Remove one value of a repeated option and a whole section
  cloudlab.openstack.openstack_config:
    path: /etc/nova/nova.conf
    state: absent
    settings:
      DEFAULT:
        notification_driver: nova.openstack.common.notifier.rpc_notifier
      vnc: null

- name: Make [keystone_authtoken] hold exactly these options
  cloudlab.openstack.openstack_config:
    path: /etc/neutron/neutron.conf
    exclusive: true
    settings:
      keystone_authtoken:
        www_authenticate_uri: http://10.0.100.149:5000
        auth_url: http://10.0.100.149:5000
        auth_type: password
        username: neutron
        password: "{{ neutron_password }}"
"""

RETURN = r"""
changed_options:
  description: The options that changed (or would change in check mode), as C(section.option), in O(settings) order.
  returned: always
  type: list
  elements: str
  sample: [DEFAULT.my_ip, database.connection]
exists:
  description: Whether the file existed when the task started.
  returned: always
  type: bool
  sample: true
backup_file:
  description: The copy of the file made before changing it.
  returned: when O(backup=true) and the file changed
  type: str
  sample: /etc/nova/nova.conf.12345.2026-11-25@00:10:00~
path:
  description: The file.
  returned: always
  type: str
  sample: /etc/nova/nova.conf
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.cloudlab.openstack.plugins.module_utils import oslo_ini


def check_settings(settings, state):
    """A message saying what is wrong with the shape of the settings, or None."""
    for section, opts in settings.items():
        problem = oslo_ini.check_name(section)
        if problem:
            return 'settings: %s' % problem
        if opts is None:
            if state == 'present':
                return ("settings.%s is null: map it to options, or use state=absent to remove the section"
                        % section)
            continue
        if not isinstance(opts, dict):
            return 'settings.%s must be a map of options, got %r' % (section, opts)
        for key, value in opts.items():
            problem = oslo_ini.check_name(section, key)
            if problem:
                return 'settings: %s' % problem
            try:
                oslo_ini.normalize(value)
            except TypeError as exc:
                return 'settings.%s.%s: %s' % (section, key, exc)
    return None


def secret_values(settings, patterns):
    """The secret values given in the settings, to hide them from the whole result."""
    found = set()
    for section, opts in settings.items():
        for key, value in (opts or {}).items():
            if value is not None and oslo_ini.is_secret(section, key, patterns):
                found.update(v for v in oslo_ini.normalize(value) if v)
    return found


def read_nodes(module, path, patterns, result):
    """The parsed file, or None when it does not exist; fails, naming the line, on a bad file."""
    if not os.path.exists(path):
        return None
    if os.path.isdir(path):
        module.fail_json(msg='%s is a directory; path must name an INI file' % path, **result)
    with open(path, 'rb') as handle:
        data = handle.read()
    try:
        return oslo_ini.parse(oslo_ini.decode(data))
    except oslo_ini.ParseError as exc:
        module.fail_json(msg=oslo_ini.describe_error(path, exc, patterns), **result)


def write_file(module, path, text):
    """Write through a temporary file and an atomic rename: readers never see a half file."""
    fd, tmp = tempfile.mkstemp(dir=module.tmpdir)
    with os.fdopen(fd, 'wb') as handle:
        handle.write(to_bytes(text, errors='surrogate_or_strict'))
    module.atomic_move(tmp, os.path.abspath(path))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True, aliases=['dest']),
            settings=dict(type='dict', default={}),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            exclusive=dict(type='bool', default=False),
            create=dict(type='bool', default=True),
            backup=dict(type='bool', default=False),
            replace_samples=dict(type='bool', default=True),
            secret_options=dict(type='list', elements='str', no_log=False,
                                default=list(oslo_ini.DEFAULT_SECRET_OPTIONS)),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    path = module.params['path']
    # Edit the file a symlink points to, never replace the link (/etc/neutron/plugin.ini -> ml2_conf.ini).
    target = os.path.realpath(path)
    settings = module.params['settings'] or {}
    state = module.params['state']
    patterns = module.params['secret_options']
    result = dict(changed=False, changed_options=[], path=path)

    problem = check_settings(settings, state)
    if problem:
        module.fail_json(msg=problem, **result)
    # Hide the secret values given in settings everywhere in the result (the invocation included).
    module.no_log_values.update(secret_values(settings, patterns))

    nodes = read_nodes(module, target, patterns, result)
    result['exists'] = nodes is not None
    if nodes is None:
        if state == 'absent':
            module.exit_json(**result)
        if not module.params['create']:
            module.fail_json(msg='%s does not exist; create it first or set create=true' % path, **result)

    if state == 'absent':
        plan = oslo_ini.plan_absent(nodes or [], settings)
    else:
        plan = oslo_ini.plan_present(nodes or [], settings, exclusive=module.params['exclusive'],
                                     replace_samples=module.params['replace_samples'])
    old = oslo_ini.render(nodes) if nodes is not None else None
    new = oslo_ini.apply(nodes or [], plan)
    changed = old is None or new != old
    result['changed_options'] = plan.changed

    if module._diff:
        result['diff'] = dict(
            before_header=path, after_header=path,
            before=oslo_ini.mask_text(nodes, patterns) if nodes is not None else '',
            after=oslo_ini.mask_text(oslo_ini.parse(new), patterns, changed=set(plan.changed)))

    if changed and not module.check_mode:
        if module.params['backup'] and old is not None:
            result['backup_file'] = module.backup_local(target)
        try:
            write_file(module, target, new)
        except (IOError, OSError) as exc:
            module.fail_json(msg='cannot write %s: %s' % (target, to_native(exc)), **result)

    if os.path.exists(target):
        # Mode, owner, group; in check mode this only reports what it would change.
        file_args = module.load_file_common_arguments(module.params, path=target)
        changed = module.set_fs_attributes_if_different(file_args, changed)
    result['changed'] = changed
    module.exit_json(**result)


if __name__ == '__main__':
    main()
