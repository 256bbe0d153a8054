#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, cloudlab.openstack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


DOCUMENTATION = r"""
module: db_schema
short_description: Tell whether an OpenStack service's database schema is behind the code installed on this node
version_added: 0.1.0
description:
  - Answers "does this service need its C(db sync)?" without changing anything. For each database of O(service) it
    reads the newest schema revision the installed code ships (the head) and the revision the database is at, and
    returns both with a verdict. A role runs its sync task only C(when) the result says RV(behind).
  - Reads the service's configuration file the way the service's own manage command does (oslo.config, the
    service's options, its configuration directories such as C(/etc/nova/nova.conf.d)), and reaches the database
    through the service's own engine code, so it sees exactly the database the sync would migrate.
  - "How each service is read: C(nova) - its C(api) database (C([api_database] connection)) and its C(main) cell
    database (C([database] connection)), alembic, as C(nova-manage api_db sync) and C(db sync) see them;
    C(placement), C(cinder), C(aodh) - alembic, C(placement_database) or C(database) section; C(heat) - Zed's
    sqlalchemy-migrate: the head is the highest number of the migration scripts heat ships, the current
    version is read from the C(migrate_version) table (C(heat-manage db_version) would put an empty database
    under version control, so the module reads the table itself)."
  - An empty database (no version table) reads as RV(databases.current=null) and is behind. A database at a
    revision the installed code does not ship (a newer release migrated it) is RV(databases.ahead) and not behind,
    since the installed code cannot sync it.
  - On a node where the service's Python package is not installed yet (check mode before the package task ran)
    the module does not fail; it returns RV(installed=false) and every database behind, so the run plans the sync.
  - The database URL holds the password. It is never returned; messages name the URL without it
    (C(mysql+pymysql://nova@10.0.100.149/nova_api)), and the password and URL are hidden from the whole result.
  - Runs the service's code in the Python that runs the module (C(ansible_python_interpreter)); on Debian that is
    C(/usr/bin/python3), the interpreter the service's packages are installed for.
  - The read runs in a child process the module forks, so the service's modules and the options they register on
    oslo.config's global configuration never stay in the module's interpreter. Under the Mitogen strategy, where a
    host's modules share one long-lived interpreter, reads of several services on one node (nova then cinder) work
    without any task variable. What the service prints goes to stderr, never into the module's result.
author:
  - cloudlab.openstack contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: It only reads, so it runs for real in check mode and returns the same answer.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  service:
    description:
      - The service whose databases to read.
      - keystone, glance and neutron are not here on purpose; they have native checks
        (C(keystone-manage db_sync --check), C(glance-manage db check), C(neutron-db-manage current)).
    type: str
    required: true
    choices: [aodh, cinder, heat, nova, placement]
  config_file:
    description:
      - The service's configuration file, read as the service's default configuration file.
      - Defaults to C(/etc/<service>/<service>.conf).
    type: path
requirements:
  - The service's own Python packages (for example Debian's C(python3-nova)) and their database driver (C(python3-pymysql)).
notes:
  - Run it as root (the default C(become) user), since root reads the configuration file, which is usually
    C(root:<service> 0640). No C(become_user) is needed; nothing is written, so no file ends up owned by root.
  - An unreachable database is retried as the service's own engine retries it (C([database] max_retries) and
    C(retry_interval), 10 times 10 seconds by oslo.db's defaults; aodh does not retry) before the task fails.
  - For nova only the cell database of C([database] connection) is read, as nova-manage's C(db sync) names it;
    C(db sync) also migrates cell0 through its mapping.
seealso:
  - name: The role pattern and the per-service table
    description: docs/modules/db_schema.md in the collection.
    link: https://github.com/cloudlab/openstack/tree/main/docs/modules/db_schema.md
"""

EXAMPLES = r"""
- name: Check nova's database schemas
  cloudlab.openstack.db_schema:
    service: nova
  register: __nova_db

- name: Create or upgrade the API database schema
  ansible.builtin.command:
    argv: [runuser, -u, nova, --, /usr/bin/nova-manage, api_db, sync]
  when: __nova_db.databases.api.behind
  changed_when: true

- name: Check heat's database, its configuration somewhere else
  cloudlab.openstack.db_schema:
    service: heat
    config_file: /srv/heat/heat.conf
  register: __heat_db

- name: Stop when a newer release already migrated the database
  ansible.builtin.assert:
    that: not __heat_db.ahead
    fail_msg: heat's database is newer than the heat installed here; upgrade heat on this node first
"""

RETURN = r"""
service:
  description: The service read.
  returned: always
  type: str
  sample: nova
config_file:
  description: The configuration file read.
  returned: always
  type: str
  sample: /etc/nova/nova.conf
installed:
  description:
    - Whether the service's Python package is importable on this node. When false nothing else was read and every
      database is reported behind, with null revisions.
  returned: always
  type: bool
  sample: true
behind:
  description: Whether any database is behind the installed code (its sync would change it).
  returned: always
  type: bool
  sample: false
ahead:
  description: Whether any database is at a revision the installed code does not ship.
  returned: always
  type: bool
  sample: false
databases:
  description:
    - One entry per database of the service - C(api) and C(main) for nova, the service's name for the others.
  returned: always
  type: dict
  contains:
    current:
      description:
        - The revision the database is at; null for an empty database. An alembic revision (a string), or for heat a
          sqlalchemy-migrate version (an integer).
      type: raw
      sample: ccb0fa1a2252
    head:
      description: The newest revision the installed code ships (null when the service is not installed).
      type: raw
      sample: ccb0fa1a2252
    behind:
      description: The database is empty or older than the head.
      type: bool
      sample: false
    ahead:
      description: The database is at a revision the installed code does not ship (newer than it).
      type: bool
      sample: false
  sample:
    api: {current: d67eeaabee36, head: b30f573d3377, behind: true, ahead: false}
    main: {current: ccb0fa1a2252, head: ccb0fa1a2252, behind: false, ahead: false}
"""

import os
import pwd

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cloudlab.openstack.plugins.module_utils import db_schema


def config_file_problem(path):
    """Why the configuration file cannot be read, or None."""
    if not os.path.exists(path):
        return '%s does not exist: configure the service first, or name its file with config_file' % path
    if os.path.isdir(path):
        return '%s is a directory: config_file must name the configuration file' % path
    if not os.access(path, os.R_OK):
        return ('%s is not readable by %s: run the task as root (become: true, no become_user)'
                % (path, pwd.getpwuid(os.geteuid()).pw_name))
    return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            service=dict(type='str', required=True, choices=list(db_schema.SERVICES)),
            config_file=dict(type='path'),
        ),
        supports_check_mode=True,
    )
    service = module.params['service']
    config_file = module.params['config_file'] or db_schema.default_config_file(service)
    result = dict(changed=False, config_file=config_file)

    if not db_schema.is_installed(service):
        result.update(db_schema.not_installed(service))
        module.exit_json(**result)

    problem = config_file_problem(config_file)
    if problem:
        module.fail_json(msg=problem, service=service, installed=True, **result)

    # The read imports the service's code, which registers its options on oslo.config's global CONF:
    # it runs in a forked child (module_utils/forked.py), so this interpreter, which runs the host's
    # next modules under Mitogen, stays clean. The child's stdout (oslo.log writes there when no log
    # file is set) goes to stderr, never into the module's JSON; the URLs' secrets come back to
    # no_log_values before any message.
    try:
        databases = db_schema.read_databases_in_child(service, config_file, hide=module.no_log_values.update)
    except db_schema.DbSchemaError as exc:
        module.fail_json(msg=str(exc), service=service, installed=True, **result)
    result.update(db_schema.summarize(service, databases))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
