#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, cloudlab.openstack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: keystone_identity
short_description: Keystone domains, projects, users, roles and role assignments in one task
description:
  - Manages the identities an install guide creates with C(tenant-create), C(user-create),
    C(role-create) and C(user-role-add), against keystone v3, so that "service user glance with
    role admin in project service" is one task.
  - Objects are found by name within their domain. A domain must exist or be listed under
    O(domains) (heat's stack domain is one); groups must exist (the module does not create groups).
  - With O(update_password=always) the module tells whether a user's password differs by
    requesting a token as that user, once; only when that fails does it set the password. A
    re-run with the same password therefore reports no change, and a wrong password is tried
    at most once per run (keystone's lockout, if configured, counts failures).
version_added: 0.1.0
author:
  - cloudlab.openstack contributors (!UNKNOWN)
extends_documentation_fragment:
  - cloudlab.openstack.keystone
attributes:
  check_mode:
    support: full
    description: Predicts every action; reads keystone (and requests the users' tokens for
      O(update_password=always)), writes nothing.
  diff_mode:
    support: full
    description: Shows the projects, roles, users (passwords as C((changed)) only) and role
      assignments of the task before and after.
options:
  domain:
    description:
      - Domain of the projects, users, groups and project scopes that do not name one.
    type: str
    default: Default
  update_password:
    description:
      - C(on_create) sets a password only when the user is created.
      - C(always) also sets it when a token request with it fails (see description).
      - Default for the items of O(users).
    type: str
    choices: [on_create, always]
    default: on_create
  domains:
    description:
      - Domains, created or updated before anything else of the task, so its projects, users and
        domain-scoped grants may be in them. Deleting a domain (C(state=absent)) disables it first,
        as keystone requires, and deletes everything in it.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Domain name.
        type: str
        required: true
      description:
        description: Description. Left as it is when not given.
        type: str
      enabled:
        description: Whether the domain is enabled. New domains are enabled unless C(false).
        type: bool
      state:
        description: Whether the domain should exist.
        type: str
        choices: [present, absent]
        default: present
  projects:
    description: Projects.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Project name.
        type: str
        required: true
      domain:
        description: Domain of the project. Default O(domain).
        type: str
      description:
        description: Description. Left as it is when not given.
        type: str
      enabled:
        description: Whether the project is enabled. New projects are enabled unless C(false).
        type: bool
      state:
        description: Whether the project should exist.
        type: str
        choices: [present, absent]
        default: present
  roles:
    description: Roles (global roles; domain-specific roles are not managed).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Role name.
        type: str
        required: true
      state:
        description: Whether the role should exist.
        type: str
        choices: [present, absent]
        default: present
  users:
    description: Users, each optionally with its role assignments.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: User name.
        type: str
        required: true
      password:
        description: Password. Never logged, never in the diff.
        type: str
      update_password:
        description: Overrides O(update_password) for this user.
        type: str
        choices: [on_create, always]
      domain:
        description: Domain of the user. Default O(domain).
        type: str
      description:
        description: Description. Left as it is when not given.
        type: str
      email:
        description: E-mail address. Left as it is when not given.
        type: str
      enabled:
        description: Whether the user is enabled. New users are enabled unless C(false).
        type: bool
      default_project:
        description: Name of the user's default project, in the user's domain.
        type: str
      roles:
        description:
          - Role assignments of this user; the keys of O(role_assignments) without C(user) and
            C(group). Assignments not listed are left alone.
        type: list
        elements: dict
        suboptions:
          role:
            description: Role name.
            type: str
            required: true
          project:
            description: Project the role is granted on.
            type: str
          project_domain:
            description: Domain of O(users[].roles[].project). Default O(domain).
            type: str
          domain:
            description: Domain the role is granted on (instead of a project).
            type: str
          state:
            description: Whether the assignment should exist.
            type: str
            choices: [present, absent]
            default: present
      state:
        description: Whether the user should exist. C(absent) deletes the user.
        type: str
        choices: [present, absent]
        default: present
  role_assignments:
    description: Role assignments of users or groups on projects or domains.
    type: list
    elements: dict
    default: []
    suboptions:
      role:
        description: Role name.
        type: str
        required: true
      user:
        description: User name (or give O(role_assignments[].group)).
        type: str
      user_domain:
        description: Domain of the user. Default O(domain).
        type: str
      group:
        description: Group name; the group must exist.
        type: str
      group_domain:
        description: Domain of the group. Default O(domain).
        type: str
      project:
        description: Project the role is granted on (or give O(role_assignments[].domain)).
        type: str
      project_domain:
        description: Domain of the project. Default O(domain).
        type: str
      domain:
        description: Domain the role is granted on.
        type: str
      state:
        description: Whether the assignment should exist.
        type: str
        choices: [present, absent]
        default: present
'''

EXAMPLES = r'''
- name: Service user glance with role admin in project service
  cloudlab.openstack.keystone_identity:
    auth: "{{ keystone_admin_auth }}"
    projects:
      - name: service
        description: Service Project
    users:
      - name: glance
        password: "{{ glance_keystone_password }}"
        update_password: always
        roles:
          - role: admin
            project: service

- name: The guide's admin and demo identities
  cloudlab.openstack.keystone_identity:
    cloud: lab
    projects:
      - {name: demo, description: Demo Project}
    roles:
      - name: heat_stack_user
      - name: member
    users:
      - name: demo
        password: "{{ demo_password }}"
        email: demo@example.org
        default_project: demo
        roles:
          - {role: member, project: demo}

- name: Heat's stack domain and its admin (admin on the domain, not on a project)
  cloudlab.openstack.keystone_identity:
    auth: "{{ keystone_admin_auth }}"
    domains:
      - {name: heat, description: Stack projects and users}
    users:
      - name: heat_domain_admin
        domain: heat
        password: "{{ heat_domain_admin_password }}"
        update_password: always
        roles:
          - {role: admin, domain: heat}

- name: Revoke a role from a group on a domain
  cloudlab.openstack.keystone_identity:
    cloud: lab
    role_assignments:
      - {role: reader, group: auditors, domain: Default, state: absent}
'''

RETURN = r'''
actions:
  description:
    - What was done (or would be done in check mode), in order. Each item has C(action)
      (create_domain, update_domain, create_role, create_project, update_project, create_user,
      update_user, set_password, grant, revoke, delete_user, delete_role, delete_project,
      delete_domain) and the objects it acts on as
      C(name@domain) labels; updates carry C(changes), a dict of field name to C([old, new]).
  returned: always
  type: list
  elements: dict
  sample:
    - {action: create_user, user: glance@Default, fields: {name: glance, enabled: true},
       password: true}
    - {action: grant, role: admin, user: glance@Default, project: service@Default}
ids:
  description: Ids of the task's domains, projects, users and roles (null for objects created in
    check mode).
  returned: always
  type: dict
  sample: {domains: {heat: 3b0c...}, projects: {service@Default: 5e1f...},
           users: {glance@Default: 0c3a...}, roles: {admin: 9fe2...}}
api_calls:
  description: HTTP requests made to keystone, the token requests included.
  returned: always
  type: int
  sample: 7
'''

from urllib.parse import quote

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cloudlab.openstack.plugins.module_utils.keystone import (
    KeystoneClient, KeystoneError, apply_identity_actions, assignment_queries, identity_view,
    keystone_argument_spec, normalize_identity, plan_identity, public_actions, ref_label, referenced)

STATE = dict(type='str', default='present', choices=['present', 'absent'])


def argument_spec():
    user_role = dict(role=dict(type='str', required=True), project=dict(type='str'),
                     project_domain=dict(type='str'), domain=dict(type='str'), state=STATE)
    return keystone_argument_spec(
        domain=dict(type='str', default='Default'),
        update_password=dict(type='str', default='on_create', choices=['on_create', 'always']),
        domains=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True), description=dict(type='str'),
            enabled=dict(type='bool'), state=STATE)),
        projects=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True), domain=dict(type='str'),
            description=dict(type='str'), enabled=dict(type='bool'), state=STATE)),
        roles=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True), state=STATE)),
        users=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True), password=dict(type='str', no_log=True),
            update_password=dict(type='str', choices=['on_create', 'always']),
            domain=dict(type='str'), description=dict(type='str'), email=dict(type='str'),
            enabled=dict(type='bool'), default_project=dict(type='str'),
            roles=dict(type='list', elements='dict', options=user_role), state=STATE)),
        role_assignments=dict(type='list', elements='dict', default=[], options=dict(
            role=dict(type='str', required=True), user=dict(type='str'),
            user_domain=dict(type='str'), group=dict(type='str'), group_domain=dict(type='str'),
            project=dict(type='str'), project_domain=dict(type='str'), domain=dict(type='str'),
            state=STATE)),
    )


class Identity(object):
    """Reads what the task names from keystone, then runs the plan."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.domain_ids = {}     # canonical domain name -> id (None: created by this task)
        self.have_domains = {}   # the task's own domains as keystone has them: name -> object
        self.ids = dict(projects={}, users={}, groups={}, roles={})

    def read_domains(self, params):
        """The domains listed under `domains`, one request each."""
        for d in params.get('domains') or []:
            found = self.client.get_list('/domains', 'domains', name=d['name'])
            if found:
                self.have_domains[found[0]['name']] = found[0]

    def resolve_domains(self, names, params):
        """Domain name (or id) as written -> keystone's name; the admin token already tells the
        ids of its own user's and project's domains, which saves a request for `Default`.
        A missing domain the task creates resolves to its own name, with no id yet."""
        creates = set(d['name'] for d in params.get('domains') or []
                      if (d.get('state') or 'present') == 'present')
        known = dict((name, (name, obj['id'])) for name, obj in self.have_domains.items())
        ref = self.client.token_info
        for name, did in ((ref.user_domain_name, ref.user_domain_id),
                          (ref.project_domain_name, ref.project_domain_id)):
            if name and did:
                known[name] = (name, did)
                known[did] = (name, did)
        canonical = {}
        for name in sorted(names):
            if name not in known:
                found = self.client.get_list('/domains', 'domains', name=name)
                if not found:
                    one = self.client.request('GET', '/domains/%s' % quote(name, safe=''),
                                              missing_ok=True, doing='looking up domain %s' % name)
                    found = [one['domain']] if one else []
                if found:
                    known[name] = (found[0]['name'], found[0]['id'])
                elif name in creates:
                    known[name] = (name, None)
                else:
                    raise KeystoneError("domain %s does not exist; add it under domains" % name)
            canonical[name] = known[name][0]
            self.domain_ids[known[name][0]] = known[name][1]
        return canonical

    def read(self, want):
        """have: see plan_identity. One request per named project, user and group, one for all
        roles, one per actor's assignments, one token request per password to verify."""
        c = self.client
        names = referenced(want)
        have = dict(domains=dict(self.have_domains), projects={}, users={}, groups={}, roles={},
                    assignments=set(), password_ok={})
        for kind, path in (('projects', '/projects'), ('users', '/users'),
                           ('groups', '/groups')):
            for ref in sorted(names[kind]):
                if self.domain_ids[ref[1]] is None:
                    continue  # in a domain this task creates: nothing there yet
                found = c.get_list(path, kind, name=ref[2], domain_id=self.domain_ids[ref[1]])
                if found:
                    have[kind][ref] = found[0]
                    self.ids[kind][ref] = found[0]['id']
        if names['roles']:
            for role in c.get_list('/roles', 'roles'):
                if not role.get('domain_id'):
                    have['roles'][role['name']] = role
                    self.ids['roles'][role['name']] = role['id']
        self._read_assignments(want, have)
        self._check_passwords(want, have)
        return have

    def _read_assignments(self, want, have):
        ids = {}
        for kind in ('projects', 'users', 'groups'):
            for ref, obj in have[kind].items():
                ids[ref] = obj['id']
        for name, did in self.domain_ids.items():
            if did is not None:
                ids[('domain', None, name)] = did
        by_id = dict((i, ref) for ref, i in ids.items())
        roles = dict((r['id'], name) for name, r in have['roles'].items())
        for query in assignment_queries(want['assignments'], ids):
            for item in self.client.get_list('/role_assignments', 'role_assignments', **query):
                scope = item.get('scope', {})
                if 'OS-INHERIT:inherited_to' in scope:
                    continue
                actor = by_id.get((item.get('user') or item.get('group') or {}).get('id'))
                target = by_id.get((scope.get('project') or scope.get('domain') or {}).get('id'))
                role = roles.get(item.get('role', {}).get('id'))
                if role and actor and target:
                    have['assignments'].add((role, actor, target))

    def _check_passwords(self, want, have):
        for u in want['users']:
            current = have['users'].get(u['ref'])
            if u['state'] != 'present' or current is None or u.get('password') is None \
                    or u['update_password'] != 'always':
                continue
            if not current.get('enabled', True) or u.get('enabled') is False:
                self.module.warn("user %s is disabled: its password cannot be verified and is "
                                 "left as it is" % ref_label(u['ref']))
                continue
            works = self.client.password_works(current['id'], u['password'])
            have['password_ok'][u['ref']] = works

    def execute(self, want, actions):
        c = self.client
        passwords = dict((u['ref'], u.get('password')) for u in want['users'])
        for a in actions:
            kind = a['action']
            if kind == 'create_domain':
                domain = c.request('POST', '/domains', {'domain': a['fields']},
                                   doing='creating domain %s' % a['domain'])['domain']
                self.domain_ids[a['domain']] = domain['id']
            elif kind == 'update_domain':
                body = dict((k, new) for k, (dummy, new) in a['changes'].items())
                c.request('PATCH', '/domains/%s' % self.domain_ids[a['domain']],
                          {'domain': body}, doing='updating domain %s' % a['domain'])
            elif kind == 'delete_domain':
                path = '/domains/%s' % self.domain_ids.pop(a['domain'])
                c.request('PATCH', path, {'domain': {'enabled': False}},
                          doing='disabling domain %s before deleting it' % a['domain'])
                c.request('DELETE', path, missing_ok=True,
                          doing='deleting domain %s' % a['domain'])
            elif kind == 'create_role':
                role = c.request('POST', '/roles', {'role': {'name': a['role']}},
                                 doing='creating role %s' % a['role'])['role']
                self.ids['roles'][a['role']] = role['id']
            elif kind == 'create_project':
                body = dict(a['fields'], domain_id=self.domain_ids[a['ref'][1]])
                project = c.request('POST', '/projects', {'project': body},
                                    doing='creating project %s' % a['project'])['project']
                self.ids['projects'][a['ref']] = project['id']
            elif kind == 'update_project':
                body = dict((k, new) for k, (dummy, new) in a['changes'].items())
                c.request('PATCH', '/projects/%s' % self.ids['projects'][a['ref']],
                          {'project': body}, doing='updating project %s' % a['project'])
            elif kind == 'create_user':
                body = dict(a['fields'], domain_id=self.domain_ids[a['ref'][1]])
                body.pop('default_project', None)
                user = [u for u in want['users'] if u['ref'] == a['ref']][0]
                if user.get('default_project_ref'):
                    body['default_project_id'] = self.ids['projects'][user['default_project_ref']]
                if passwords.get(a['ref']) is not None:
                    body['password'] = passwords[a['ref']]
                created = c.request('POST', '/users', {'user': body},
                                    doing='creating user %s' % a['user'])['user']
                self.ids['users'][a['ref']] = created['id']
            elif kind in ('update_user', 'set_password'):
                if kind == 'set_password':
                    body = dict(password=passwords[a['ref']])
                else:
                    body = dict((k, new) for k, (dummy, new) in a['changes'].items())
                if 'default_project' in body:
                    body.pop('default_project')
                    user = [u for u in want['users'] if u['ref'] == a['ref']][0]
                    body['default_project_id'] = self.ids['projects'][user['default_project_ref']]
                c.request('PATCH', '/users/%s' % self.ids['users'][a['ref']], {'user': body},
                          doing='updating user %s' % a['user'])
            elif kind in ('grant', 'revoke'):
                actor, scope = a['actor'], a['scope']
                if scope[0] == 'project':
                    target = 'projects/%s' % self.ids['projects'][scope]
                else:
                    target = 'domains/%s' % self.domain_ids[scope[2]]
                path = '/%s/%ss/%s/roles/%s' % (target, actor[0],
                                                self.ids[actor[0] + 's'][actor],
                                                self.ids['roles'][a['role']])
                c.request('PUT' if kind == 'grant' else 'DELETE', path,
                          missing_ok=kind == 'revoke',
                          doing='%s role %s' % ('granting' if kind == 'grant' else 'revoking',
                                                a['role']))
            elif kind == 'delete_user':
                c.request('DELETE', '/users/%s' % self.ids['users'].pop(a['ref']),
                          missing_ok=True, doing='deleting user %s' % a['user'])
            elif kind == 'delete_project':
                c.request('DELETE', '/projects/%s' % self.ids['projects'].pop(a['ref']),
                          missing_ok=True, doing='deleting project %s' % a['project'])
            elif kind == 'delete_role':
                c.request('DELETE', '/roles/%s' % self.ids['roles'].pop(a['role']),
                          missing_ok=True, doing='deleting role %s' % a['role'])

    def public_ids(self, want):
        """Ids of the task's own objects, labelled; null for those not (yet) created."""
        out = dict(domains={}, projects={}, users={}, roles={})
        for d in want['domains']:
            if d['state'] == 'present':
                out['domains'][d['name']] = self.domain_ids.get(d['name'])
        for p in want['projects']:
            if p['state'] == 'present':
                out['projects'][ref_label(p['ref'])] = self.ids['projects'].get(p['ref'])
        for u in want['users']:
            if u['state'] == 'present':
                out['users'][ref_label(u['ref'])] = self.ids['users'].get(u['ref'])
        for r in want['roles']:
            if r['state'] == 'present':
                out['roles'][r['name']] = self.ids['roles'].get(r['name'])
        return out


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        want = normalize_identity(module.params)
    except KeystoneError as exc:
        module.fail_json(msg=str(exc))

    client = KeystoneClient(module)
    identity = Identity(module, client)
    try:
        identity.read_domains(module.params)
        want = normalize_identity(
            module.params, identity.resolve_domains(referenced(want)['domains'], module.params))
        have = identity.read(want)
        actions = plan_identity(want, have)
    except KeystoneError as exc:
        module.fail_json(msg=str(exc), api_calls=client.calls)

    if actions and not module.check_mode:
        identity.execute(want, actions)

    result = dict(changed=bool(actions), actions=public_actions(actions),
                  ids=identity.public_ids(want), api_calls=client.calls)
    if module._diff:
        before = identity_view(want, have)
        result['diff'] = dict(before=before, after=apply_identity_actions(before, actions))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
