# -*- coding: utf-8 -*-
# Copyright (c) 2026, cloudlab.openstack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared code of the keystone modules (keystone_service, keystone_identity).

Three parts:
- the authentication argument spec (documented once in doc_fragments/keystone.py),
- a small client: a keystoneauth1 session that talks to the identity v3 API of the catalog and
  counts every HTTP request it makes (the modules return that count as ``api_calls``),
- pure planning functions: given what the user wants and what keystone holds, the list of
  actions. They import nothing from keystoneauth1 so the unit tests run without it.

Why keystoneauth1 requests rather than openstacksdk's identity proxy: the proxy discovers the API
version before its first call and its ``find_*`` helpers make two requests per lookup, so a
no-change registration costs several times the three requests it needs here (token, services,
endpoints). openstacksdk is still used, lazily, for what it is good at: clouds.yaml and OS_*.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import sys
import traceback
from urllib.parse import urlencode

from ansible.module_utils.basic import missing_required_lib

# keystoneauth1.session imports osprofiler when it is installed (it is on every node that runs
# an OpenStack service) only to add trace headers while a profiler is active, which it never is
# in a module. osprofiler pulls in eventlet, dnspython and pkg_resources: measured on a lab node,
# 0.5 s of CPU for the import instead of 0.15 s, per task. So it is hidden during that import
# (keystoneauth1 treats it as absent) and made importable again right after.
KSA_IMPORT_ERROR = None
_HIDE_OSPROFILER = 'osprofiler' not in sys.modules
if _HIDE_OSPROFILER:
    sys.modules['osprofiler'] = None
try:
    from keystoneauth1 import exceptions as ksa_exc
    from keystoneauth1 import session as ksa_session
    from keystoneauth1.identity import v3 as ksa_v3
    HAS_KEYSTONEAUTH = True
except ImportError:
    HAS_KEYSTONEAUTH = False
    KSA_IMPORT_ERROR = traceback.format_exc()
finally:
    if _HIDE_OSPROFILER:
        del sys.modules['osprofiler']

INTERFACES = ('public', 'internal', 'admin')

# Requests that may be sent twice. Keystone under Debian's uWSGI --http-socket now and then
# resets the connection after it has answered (measured on the lab: the DELETE is in keystone's
# log as 204, the client sees "connection reset by peer"). Sending these again is harmless (a
# DELETE then finds 404, which the callers accept); a POST is never repeated: it could create a
# duplicate.
IDEMPOTENT = ('GET', 'HEAD', 'PUT', 'PATCH', 'DELETE')

# The keys of the v3 password plugin we accept in `auth` (openstack.cloud's `auth` takes any
# plugin's keys; we are keystone v3 password only, so unknown keys are an error, not ignored).
AUTH_OPTIONS = dict(
    auth_url=dict(type='str'),
    username=dict(type='str'),
    user_id=dict(type='str'),
    password=dict(type='str', no_log=True),
    project_name=dict(type='str'),
    project_id=dict(type='str'),
    user_domain_name=dict(type='str'),
    user_domain_id=dict(type='str'),
    project_domain_name=dict(type='str'),
    project_domain_id=dict(type='str'),
    domain_name=dict(type='str'),
    domain_id=dict(type='str'),
    system_scope=dict(type='str'),
)


class KeystoneError(Exception):
    """A failure whose message already says what to fix."""


def keystone_argument_spec(**kwargs):
    """The authentication options every keystone module takes, plus the module's own."""
    spec = dict(
        cloud=dict(type='str'),
        auth=dict(type='dict', options=AUTH_OPTIONS),
        region_name=dict(type='str'),
        interface=dict(type='str', default='public', choices=list(INTERFACES),
                       aliases=['endpoint_type']),
        validate_certs=dict(type='bool', aliases=['verify']),
        ca_cert=dict(type='path', aliases=['cacert']),
        api_timeout=dict(type='int', default=30),
    )
    spec.update(kwargs)
    return spec


# ---------------------------------------------------------------------------------------------
# Pure helpers (unit tested without keystoneauth1)
# ---------------------------------------------------------------------------------------------

def v3_url(url):
    """The identity v3 root for an auth_url or catalog URL, with or without a version suffix."""
    url = (url or '').rstrip('/')
    if re.search(r'/v3$', url):
        return url
    if re.search(r'/v2\.0$', url):
        return url[:-len('/v2.0')] + '/v3'
    return url + '/v3'


def clean_auth(auth):
    """The auth dict without the keys the user did not set."""
    return dict((k, v) for k, v in (auth or {}).items() if v is not None)


def direct_auth_possible(cloud, auth):
    """True when `auth` alone is enough for the v3 password plugin, so openstacksdk's config loader
    (slow to import) is not needed."""
    auth = clean_auth(auth)
    has_user = 'username' in auth or 'user_id' in auth
    return cloud is None and bool(auth.get('auth_url')) and 'password' in auth and has_user


def explain_error(exc, doing, url=None, user=None, interface=None):
    """A message for a failed keystone request that tells the operator what to fix.

    Keyed on the exception's class names and its ``http_status`` (keystoneauth1's HttpError
    carries it), so it stays pure and testable without keystoneauth1."""
    names = set(c.__name__ for c in type(exc).__mro__)
    status = getattr(exc, 'http_status', None)
    where = ' at %s' % url if url else ''
    who = "'%s'" % user if user else 'the configured user'
    if status == 401 or 'Unauthorized' in names:
        return ("keystone%s rejected the credentials of %s (HTTP 401) while %s: check "
                "auth.username, auth.password, auth.user_domain_name and the project scope"
                % (where, who, doing))
    if status == 403 or 'Forbidden' in names:
        return ("keystone refused %s (HTTP 403) while %s: the user needs the admin role on "
                "its project (e.g. the bootstrap admin in project admin)" % (who, doing))
    if 'SSLError' in names:
        return ("TLS verification of keystone%s failed while %s: set ca_cert to the CA bundle, "
                "or validate_certs: false for a lab (%s)" % (where, doing, exc))
    if names & set(['ConnectFailure', 'ConnectTimeout', 'ConnectionError', 'DiscoveryFailure']):
        hint = 'auth.auth_url'
        if interface:
            hint += " or the catalog's %s identity endpoint (option interface)" % interface
        return ("cannot reach keystone%s while %s: is keystone running and %s reachable from "
                "this host? (%s)" % (where, doing, hint, exc))
    if 'EndpointNotFound' in names:
        return ("the catalog has no identity endpoint for interface %s%s: pick another "
                "interface or region_name" % (interface, where))
    if status:
        return 'keystone%s answered HTTP %s while %s: %s' % (where, status, doing, exc)
    return '%s failed: %s' % (doing, exc)


# ---------------------------------------------------------------------------------------------
# keystone_service planning
# ---------------------------------------------------------------------------------------------

SERVICE_KEYS = ('name', 'type', 'description', 'enabled', 'region', 'endpoints', 'state')


def normalize_services(params):
    """The services the task wants: the top-level options, or each item of `services`, whose
    unset keys default to the top-level ones (region, enabled, state)."""
    if params.get('services'):
        items = params['services']
    else:
        items = [dict((k, params.get(k)) for k in SERVICE_KEYS)]
    wants, names = [], set()
    for item in items:
        want = dict((k, item.get(k)) for k in SERVICE_KEYS)
        for key in ('region', 'state'):
            if want[key] is None:
                want[key] = params.get(key)
        if want['enabled'] is None:
            want['enabled'] = True if params.get('enabled') is None else params['enabled']
        want['state'] = want['state'] or 'present'
        if not want.get('name'):
            raise KeystoneError('every service needs a name')
        if want['state'] == 'present' and not want.get('type'):
            raise KeystoneError("service '%s': type is required with state=present (e.g. "
                                "image, compute, network)" % want['name'])
        if want['name'] in names:
            raise KeystoneError("service '%s' is listed twice" % want['name'])
        names.add(want['name'])
        endpoints = dict((i, u) for i, u in (want['endpoints'] or {}).items() if u)
        unknown = set(endpoints) - set(INTERFACES)
        if unknown:
            raise KeystoneError("service '%s': unknown interface(s) %s; use public, internal, "
                                "admin" % (want['name'], ', '.join(sorted(unknown))))
        want['endpoints'] = endpoints
        wants.append(want)
    return wants


def endpoint_region(endpoint):
    """Region id of an endpoint as keystone returns it (old keystones fill only `region`)."""
    return endpoint.get('region_id') or endpoint.get('region')


def find_service(services, name, service_type=None):
    """The one service called `name` (narrowed by type when several share the name)."""
    matches = [s for s in services if s.get('name') == name]
    if len(matches) > 1 and service_type:
        matches = [s for s in matches if s.get('type') == service_type]
    if len(matches) > 1:
        raise KeystoneError(
            "%d services are called '%s'%s (ids %s): delete the extra ones or give a type that "
            "tells them apart" % (len(matches), name,
                                  " of type '%s'" % service_type if service_type else '',
                                  ', '.join(sorted(s['id'] for s in matches))))
    return matches[0] if matches else None


def endpoint_line(endpoint):
    """One endpoint as the diff shows it."""
    line = '%s %s %s' % (endpoint['interface'], endpoint_region(endpoint) or '-', endpoint['url'])
    if endpoint.get('enabled') is False:
        line += ' (disabled)'
    return line


def service_view(service, endpoints):
    """What the diff shows of a service: its fields and its endpoints, one line each."""
    if service is None:
        return {}
    view = dict((k, service.get(k)) for k in ('name', 'type', 'description', 'enabled'))
    view['endpoints'] = sorted(endpoint_line(e) for e in endpoints)
    return view


def _pick(candidates, url):
    """Of several endpoints for one interface+region keep the one with the wanted URL, else the
    lowest id (stable across runs); the rest are duplicates."""
    ordered = sorted(candidates, key=lambda e: (e['url'] != url, e['id']))
    return ordered[0], ordered[1:]


def plan_service(want, service, endpoints, purge=False):
    """Actions that bring one service and its endpoints to `want`.

    want: dict(name, type, description, enabled, region, endpoints={interface: url}, state);
          description None means "leave as it is".
    service: the existing service dict or None; endpoints: the existing endpoints of that service
    (any region). Endpoints are matched by interface + region; a changed URL is updated in place;
    extra endpoints for the same interface + region are deleted (they make clients pick one at
    random); with purge, endpoints of the same region whose interface is not listed go too.
    Endpoints of other regions are never touched, except by state=absent.
    """
    actions = []
    name = want['name']
    if want.get('state', 'present') == 'absent':
        if service is None:
            return actions
        for e in sorted(endpoints, key=lambda e: e['id']):
            actions.append(dict(action='delete_endpoint', service=name, id=e['id'],
                                interface=e['interface'], region=endpoint_region(e),
                                url=e['url'], reason='service absent'))
        actions.append(dict(action='delete_service', service=name, id=service['id'],
                            type=service.get('type')))
        return actions

    if service is None:
        fields = dict(name=name, type=want['type'], enabled=want.get('enabled', True))
        if want.get('description') is not None:
            fields['description'] = want['description']
        actions.append(dict(action='create_service', service=name, fields=fields))
    else:
        changes = {}
        for key in ('type', 'description', 'enabled'):
            value = want.get(key)
            if value is not None and service.get(key) != value:
                changes[key] = [service.get(key), value]
        if changes:
            actions.append(dict(action='update_service', service=name, id=service['id'],
                                changes=changes))

    region = want.get('region')
    wanted = dict((i, u) for i, u in (want.get('endpoints') or {}).items() if u is not None)
    in_region = [e for e in endpoints if endpoint_region(e) == region]
    for interface in INTERFACES:
        candidates = [e for e in in_region if e['interface'] == interface]
        if interface not in wanted:
            if purge:
                for e in sorted(candidates, key=lambda e: e['id']):
                    actions.append(dict(action='delete_endpoint', service=name, id=e['id'],
                                        interface=interface, region=region, url=e['url'],
                                        reason='not listed'))
            continue
        url = wanted[interface]
        if not candidates:
            actions.append(dict(action='create_endpoint', service=name, interface=interface,
                                region=region, url=url))
            continue
        keep, duplicates = _pick(candidates, url)
        changes = {}
        if keep['url'] != url:
            changes['url'] = [keep['url'], url]
        if keep.get('enabled') is False:
            changes['enabled'] = [False, True]
        if changes:
            actions.append(dict(action='update_endpoint', service=name, id=keep['id'],
                                interface=interface, region=region, changes=changes))
        for e in duplicates:
            actions.append(dict(action='delete_endpoint', service=name, id=e['id'],
                                interface=interface, region=region, url=e['url'],
                                reason='duplicate'))
    return actions


def regions_to_create(actions, known_regions):
    """Regions the planned endpoints need that are not known to exist (keystone refuses an
    endpoint whose region_id does not exist)."""
    needed = []
    for a in actions:
        if a['action'] == 'create_endpoint' and a['region'] and a['region'] not in known_regions:
            if a['region'] not in needed:
                needed.append(a['region'])
    return needed


def simulate_service(service, endpoints, actions):
    """The service and endpoints as they will be once the actions ran (the diff's `after`)."""
    service = dict(service) if service else None
    current = dict((e['id'], dict(e)) for e in endpoints)
    for n, a in enumerate(actions):
        kind = a['action']
        if kind == 'create_service':
            service = dict(a['fields'])
        elif kind == 'update_service':
            for key, (dummy, new) in a['changes'].items():
                service[key] = new
        elif kind == 'delete_service':
            service = None
        elif kind == 'create_endpoint':
            current['(new %d)' % n] = dict(id=a.get('id'), interface=a['interface'],
                                           region_id=a['region'], url=a['url'], enabled=True)
        elif kind == 'update_endpoint':
            for key, (dummy, new) in a['changes'].items():
                current[a['id']][key] = new
        elif kind == 'delete_endpoint':
            current.pop(a['id'], None)
    return service, list(current.values())


# ---------------------------------------------------------------------------------------------
# keystone_identity planning
# ---------------------------------------------------------------------------------------------
# Objects are named by references, (kind, domain name, name), never by id: objects created in
# this run have no id yet when the plan is made, and the plan must also work in check mode.
# Roles are global: ('role', None, name). Domains as a scope: ('domain', None, name).

def project_ref(name, domain):
    return ('project', domain, name)


def user_ref(name, domain):
    return ('user', domain, name)


def group_ref(name, domain):
    return ('group', domain, name)


def ref_label(ref):
    """'glance@Default' for messages and the diff."""
    kind, domain, name = ref
    return name if domain is None else '%s@%s' % (name, domain)


def normalize_assignment(item, domain_of, user=None, user_domain=None):
    """One role assignment from the module's options as (role, actor ref, scope ref, state).

    domain_of(name) gives the canonical name of a domain (None: the task's default domain)."""
    user = item.get('user') or user
    group = item.get('group')
    if bool(user) == bool(group):
        raise KeystoneError("role assignment %s: give exactly one of user or group" % _show(item))
    if bool(item.get('project')) == bool(item.get('domain')):
        raise KeystoneError("role assignment %s: give exactly one of project or domain (the "
                            "scope)" % _show(item))
    if not item.get('role'):
        raise KeystoneError("role assignment %s: role is required" % _show(item))
    if user:
        actor = user_ref(user, domain_of(item.get('user_domain') or user_domain))
    else:
        actor = group_ref(group, domain_of(item.get('group_domain')))
    if item.get('project'):
        scope = project_ref(item['project'], domain_of(item.get('project_domain')))
    else:
        scope = ('domain', None, domain_of(item['domain']))
    return (item['role'], actor, scope, item.get('state') or 'present')


def _show(item):
    return dict((k, v) for k, v in item.items() if v is not None and k != 'password')


def normalize_identity(params, domain_names=None):
    """The module's options as a want dict, with every name turned into a reference.

    domain_names maps the domain names (or ids) written in the task to keystone's names, so
    `default` and `Default` are one domain; unmapped names are kept as written.
    Returns dict(domains=[...], projects=[...], roles=[...], users=[...], assignments=[...])
    where each project / user carries `ref`, and assignments are (role, actor ref, scope ref,
    state) tuples; each domain carries its canonical `name` and what the task wrote as `given`."""
    names = domain_names or {}
    default = params.get('domain') or 'Default'

    def domain_of(name):
        name = name or default
        return names.get(name, name)

    default_update = params.get('update_password') or 'on_create'
    want = dict(domains=[], projects=[], roles=[], users=[], assignments=[])
    for d in params.get('domains') or []:
        item = dict(d, given=d['name'], name=domain_of(d['name']))
        item['state'] = d.get('state') or 'present'
        want['domains'].append(item)
    for p in params.get('projects') or []:
        item = dict(p)
        item['ref'] = project_ref(p['name'], domain_of(p.get('domain')))
        item['state'] = p.get('state') or 'present'
        want['projects'].append(item)
    for r in params.get('roles') or []:
        want['roles'].append(dict(name=r['name'], state=r.get('state') or 'present'))
    for u in params.get('users') or []:
        item = dict(u)
        udomain = domain_of(u.get('domain'))
        item['ref'] = user_ref(u['name'], udomain)
        item['state'] = u.get('state') or 'present'
        item['update_password'] = u.get('update_password') or default_update
        if u.get('default_project'):
            item['default_project_ref'] = project_ref(u['default_project'], udomain)
        want['users'].append(item)
        for a in u.get('roles') or []:
            if item['state'] == 'absent':
                break  # deleting the user removes its assignments
            a = dict(a)
            a.pop('user', None)
            a.pop('group', None)
            want['assignments'].append(
                normalize_assignment(a, domain_of, user=u['name'], user_domain=udomain))
    for a in params.get('role_assignments') or []:
        want['assignments'].append(normalize_assignment(a, domain_of))
    return want


def referenced(want):
    """Every object the want dict names: dict(domains, projects, users, groups, roles)."""
    out = dict(domains=set(), projects=set(), users=set(), groups=set(), roles=set())
    for d in want.get('domains', []):
        out['domains'].add(d['name'])
    for p in want['projects']:
        out['projects'].add(p['ref'])
    for u in want['users']:
        out['users'].add(u['ref'])
        if u.get('default_project_ref'):
            out['projects'].add(u['default_project_ref'])
    for r in want['roles']:
        out['roles'].add(r['name'])
    for role, actor, scope, state in want['assignments']:
        out['roles'].add(role)
        out['users' if actor[0] == 'user' else 'groups'].add(actor)
        if scope[0] == 'project':
            out['projects'].add(scope)
        else:
            out['domains'].add(scope[2])
    for kind in ('projects', 'users', 'groups'):
        for ref in out[kind]:
            out['domains'].add(ref[1])
    return out


def check_references(want, have):
    """Fail early, in check mode too, when a task needs an object that neither exists nor is
    created by the task itself."""
    made = dict(
        roles=set(r['name'] for r in want['roles'] if r['state'] == 'present'),
        projects=set(p['ref'] for p in want['projects'] if p['state'] == 'present'),
        users=set(u['ref'] for u in want['users'] if u['state'] == 'present'))
    for u in want['users']:
        ref = u.get('default_project_ref')
        if u['state'] == 'present' and ref and ref not in have['projects'] \
                and ref not in made['projects']:
            raise KeystoneError("user %s: default project %s does not exist; add it under "
                                "projects" % (ref_label(u['ref']), ref_label(ref)))
    for role, actor, scope, state in want['assignments']:
        if state != 'present':
            continue
        what = 'role %s for %s %s on %s %s' % (role, actor[0], ref_label(actor), scope[0],
                                               ref_label(scope))
        if role not in have['roles'] and role not in made['roles']:
            raise KeystoneError('%s: role %s does not exist; add it under roles' % (what, role))
        if actor[0] == 'group' and actor not in have['groups']:
            raise KeystoneError('%s: group %s does not exist (this module does not create '
                                'groups)' % (what, ref_label(actor)))
        if actor[0] == 'user' and actor not in have['users'] and actor not in made['users']:
            raise KeystoneError('%s: user %s does not exist; add it under users'
                                % (what, ref_label(actor)))
        if scope[0] == 'project' and scope not in have['projects'] \
                and scope not in made['projects']:
            raise KeystoneError('%s: project %s does not exist; add it under projects'
                                % (what, ref_label(scope)))


def assignment_queries(assignments, ids):
    """Filters for GET /role_assignments that read every existing assignment among the wanted
    ones: one request per distinct actor, or per distinct scope when that is fewer (8 service
    users on project service: 1 request instead of 8). `ids` maps the references of existing
    users, groups, projects and domains to their ids; pairs with an unknown side cannot exist."""
    pairs = set((a, s) for dummy, a, s, dummy2 in assignments if a in ids and s in ids)
    actors = sorted(set(a for a, s in pairs))
    scopes = sorted(set(s for a, s in pairs))
    if len(scopes) < len(actors):
        return [{'scope.%s.id' % s[0]: ids[s]} for s in scopes]
    return [{'%s.id' % a[0]: ids[a]} for a in actors]


def _user_changes(want, have, have_projects):
    changes = {}
    for key in ('description', 'email', 'enabled'):
        if want.get(key) is not None and have.get(key) != want[key]:
            changes[key] = [have.get(key), want[key]]
    ref = want.get('default_project_ref')
    if ref:
        project = have_projects.get(ref)
        current = have.get('default_project_id')
        if project is None or project['id'] != current:
            changes['default_project'] = [current, ref_label(ref)]
    return changes


def plan_identity(want, have):
    """Actions for domains, projects, roles, users and role assignments.

    have: dict(domains={name: obj}, projects={ref: obj}, roles={name: obj}, users={ref: obj},
               groups={ref: obj}, assignments=set((role name, actor ref, scope ref)),
               password_ok={user ref: True | False | None})
    password_ok says whether a token request with the wanted password succeeded (None: not
    checked). Order: domains, roles, projects, users, grants, revokes, then deletions of users,
    projects, roles and domains, so every action finds what it needs.
    """
    check_references(want, have)
    create_roles, projects, users, grants, revokes, deletes = [], [], [], [], [], []
    domains, delete_domains = _plan_domains(want, have)

    for r in want['roles']:
        exists = r['name'] in have['roles']
        if r['state'] == 'present' and not exists:
            create_roles.append(dict(action='create_role', role=r['name']))
        elif r['state'] == 'absent' and exists:
            deletes.append(dict(action='delete_role', role=r['name']))

    for p in want['projects']:
        current = have['projects'].get(p['ref'])
        label = ref_label(p['ref'])
        if p['state'] == 'absent':
            if current is not None:
                deletes.append(dict(action='delete_project', project=label, ref=p['ref']))
            continue
        if current is None:
            fields = dict(name=p['name'], enabled=p.get('enabled', True) is not False)
            if p.get('description') is not None:
                fields['description'] = p['description']
            projects.append(dict(action='create_project', project=label, ref=p['ref'],
                                 fields=fields))
            continue
        changes = {}
        for key in ('description', 'enabled'):
            if p.get(key) is not None and current.get(key) != p[key]:
                changes[key] = [current.get(key), p[key]]
        if changes:
            projects.append(dict(action='update_project', project=label, ref=p['ref'],
                                 changes=changes))

    for u in want['users']:
        current = have['users'].get(u['ref'])
        label = ref_label(u['ref'])
        if u['state'] == 'absent':
            if current is not None:
                deletes.insert(0, dict(action='delete_user', user=label, ref=u['ref']))
            continue
        if current is None:
            fields = dict(name=u['name'], enabled=u.get('enabled') is not False)
            for key in ('description', 'email'):
                if u.get(key) is not None:
                    fields[key] = u[key]
            if u.get('default_project_ref'):
                fields['default_project'] = ref_label(u['default_project_ref'])
            users.append(dict(action='create_user', user=label, ref=u['ref'], fields=fields,
                              password=u.get('password') is not None))
            continue
        changes = _user_changes(u, current, have['projects'])
        if changes:
            users.append(dict(action='update_user', user=label, ref=u['ref'], changes=changes))
        if u.get('password') is not None and u['update_password'] == 'always' \
                and have['password_ok'].get(u['ref']) is False:
            users.append(dict(action='set_password', user=label, ref=u['ref'],
                              reason='a token request with the given password failed'))

    seen = set()
    for role, actor, scope, state in want['assignments']:
        key = (role, actor, scope)
        if key in seen:
            continue
        seen.add(key)
        action = dict(role=role, actor=actor, scope=scope)
        action[actor[0]] = ref_label(actor)
        action[scope[0]] = ref_label(scope)
        if state == 'present' and key not in have['assignments']:
            action['action'] = 'grant'
            grants.append(action)
        elif state == 'absent' and key in have['assignments']:
            action['action'] = 'revoke'
            revokes.append(action)

    return domains + create_roles + projects + users + grants + revokes + deletes + delete_domains


def _plan_domains(want, have):
    """Domains first (what is created in them needs their id), their deletion last (keystone
    deletes a domain with everything in it, and only a disabled one)."""
    creates, deletes = [], []
    for d in want.get('domains', []):
        current = have.get('domains', {}).get(d['name'])
        if d['state'] == 'absent':
            if current is not None:
                deletes.append(dict(action='delete_domain', domain=d['name']))
            continue
        if current is None:
            fields = dict(name=d['name'], enabled=d.get('enabled') is not False)
            if d.get('description') is not None:
                fields['description'] = d['description']
            creates.append(dict(action='create_domain', domain=d['name'], fields=fields))
            continue
        changes = {}
        for key in ('description', 'enabled'):
            if d.get(key) is not None and current.get(key) != d[key]:
                changes[key] = [current.get(key), d[key]]
        if changes:
            creates.append(dict(action='update_domain', domain=d['name'], changes=changes))
    return creates, deletes


def identity_view(want, have):
    """The part of keystone the task is about, as the diff's `before`."""
    view = dict(domains={}, projects={}, roles=[], users={}, assignments=[])
    for d in want.get('domains', []):
        current = have.get('domains', {}).get(d['name'])
        if current is not None:
            view['domains'][d['name']] = dict(description=current.get('description'),
                                              enabled=current.get('enabled'))
    for p in want['projects']:
        current = have['projects'].get(p['ref'])
        if current is not None:
            view['projects'][ref_label(p['ref'])] = dict(
                description=current.get('description'), enabled=current.get('enabled'))
    view['roles'] = sorted(r['name'] for r in want['roles'] if r['name'] in have['roles'])
    ids = dict((p['id'], ref) for ref, p in have['projects'].items())
    for u in want['users']:
        current = have['users'].get(u['ref'])
        if current is not None:
            project = ids.get(current.get('default_project_id'))
            view['users'][ref_label(u['ref'])] = dict(
                description=current.get('description'), email=current.get('email'),
                enabled=current.get('enabled'),
                default_project=ref_label(project) if project else current.get(
                    'default_project_id'))
    wanted_keys = set((r, a, s) for r, a, s, dummy in want['assignments'])
    view['assignments'] = sorted(_assignment_line(k) for k in wanted_keys
                                 if k in have['assignments'])
    return view


def _assignment_line(key):
    role, actor, scope = key
    return '%s %s has %s on %s %s' % (actor[0], ref_label(actor), role, scope[0],
                                      ref_label(scope))


def apply_identity_actions(view, actions):
    """The diff's `after`: `view` with the actions applied (passwords show as changed only)."""
    after = dict(domains=dict((k, dict(v)) for k, v in view.get('domains', {}).items()),
                 projects=dict((k, dict(v)) for k, v in view['projects'].items()),
                 roles=list(view['roles']),
                 users=dict((k, dict(v)) for k, v in view['users'].items()),
                 assignments=list(view['assignments']))
    for a in actions:
        kind = a['action']
        if kind == 'create_domain':
            after['domains'][a['domain']] = dict(description=a['fields'].get('description'),
                                                 enabled=a['fields']['enabled'])
        elif kind == 'update_domain':
            for key, (dummy, new) in a['changes'].items():
                after['domains'][a['domain']][key] = new
        elif kind == 'delete_domain':
            after['domains'].pop(a['domain'], None)
        elif kind == 'create_role':
            after['roles'].append(a['role'])
        elif kind == 'delete_role':
            after['roles'] = [r for r in after['roles'] if r != a['role']]
        elif kind == 'create_project':
            after['projects'][a['project']] = dict(description=a['fields'].get('description'),
                                                   enabled=a['fields']['enabled'])
        elif kind == 'update_project':
            for key, (dummy, new) in a['changes'].items():
                after['projects'][a['project']][key] = new
        elif kind == 'delete_project':
            after['projects'].pop(a['project'], None)
        elif kind == 'create_user':
            fields = dict(a['fields'])
            fields.pop('name')
            for key in ('description', 'email', 'default_project'):
                fields.setdefault(key, None)
            after['users'][a['user']] = fields
        elif kind == 'update_user':
            for key, (dummy, new) in a['changes'].items():
                after['users'][a['user']][key] = new
        elif kind == 'set_password':
            after['users'][a['user']]['password'] = '(changed)'
        elif kind == 'delete_user':
            after['users'].pop(a['user'], None)
        elif kind == 'grant':
            after['assignments'].append(_assignment_line((a['role'], a['actor'], a['scope'])))
        elif kind == 'revoke':
            line = _assignment_line((a['role'], a['actor'], a['scope']))
            after['assignments'] = [x for x in after['assignments'] if x != line]
    after['roles'] = sorted(after['roles'])
    after['assignments'] = sorted(after['assignments'])
    return after


def public_actions(actions):
    """Actions as the module returns them: without the internal reference tuples."""
    out = []
    for a in actions:
        out.append(dict((k, v) for k, v in a.items() if k not in ('ref', 'actor', 'scope')))
    return out


# ---------------------------------------------------------------------------------------------
# The client (needs keystoneauth1; openstacksdk only for clouds.yaml / OS_* environment)
# ---------------------------------------------------------------------------------------------

class KeystoneClient(object):
    """A keystoneauth1 session bound to the identity v3 API, counting its HTTP requests."""

    def __init__(self, module):
        self.module = module
        self.calls = 0
        self.user = None
        self.auth_url = None
        self.session = self._session()
        # requests' response hook sees every HTTP request keystoneauth makes, token and
        # discovery requests included: that is the figure the modules report as api_calls.
        self.session.session.hooks['response'].append(self._count)
        # One connection per request. Debian's keystone runs uWSGI's --http-socket without
        # --http-keepalive, so it closes the connection after each response; a request that
        # races that close on a reused connection fails (RemoteDisconnected / connection
        # reset). Retrying a POST is not safe; not reusing connections is (and costs nothing
        # measurable here: 30 request pairs took the same time either way on the lab node).
        self.session.session.headers['Connection'] = 'close'
        self.url = self._identity_url()

    def _count(self, response, *args, **kwargs):
        self.calls += 1
        return response

    def fail(self, exc, doing, url=None):
        self.module.fail_json(msg=explain_error(exc, doing, url=url or self.auth_url,
                                                user=self.user,
                                                interface=self.module.params['interface']),
                              api_calls=self.calls)

    def _verify(self):
        p = self.module.params
        if p['validate_certs'] is False:
            return False
        return p['ca_cert'] or True

    def _session(self):
        p = self.module.params
        if not HAS_KEYSTONEAUTH:
            self.module.fail_json(msg=missing_required_lib('keystoneauth1 (Debian: '
                                                           'python3-keystoneauth1)'),
                                  exception=KSA_IMPORT_ERROR)
        auth = clean_auth(p['auth'])
        self.user = auth.get('username') or auth.get('user_id')
        if direct_auth_possible(p['cloud'], auth):
            self.auth_url = v3_url(auth.pop('auth_url'))
            plugin = ksa_v3.Password(auth_url=self.auth_url, **auth)
            return ksa_session.Session(auth=plugin, verify=self._verify(),
                                       timeout=p['api_timeout'])
        return self._session_from_config(auth)

    def _session_from_config(self, auth):
        """clouds.yaml (`cloud`) and OS_* variables, through openstacksdk's config loader."""
        p = self.module.params
        try:
            from openstack import config as os_config
        except ImportError:
            self.module.fail_json(
                msg=missing_required_lib('openstacksdk (Debian: python3-openstacksdk)',
                                         reason='for cloud/clouds.yaml or OS_* variables; or '
                                                'give auth with auth_url, username, password'),
                exception=traceback.format_exc())
        kwargs = dict(identity_api_version='3', interface=p['interface'],
                      api_timeout=p['api_timeout'])
        if auth:
            kwargs['auth'] = auth
        if p['region_name']:
            kwargs['region_name'] = p['region_name']
        if p['validate_certs'] is not None:
            kwargs['verify'] = p['validate_certs']
        if p['ca_cert']:
            kwargs['cacert'] = p['ca_cert']
        try:
            region = os_config.OpenStackConfig().get_one(cloud=p['cloud'], **kwargs)
        except Exception as exc:  # openstacksdk raises several unrelated types here
            self.module.fail_json(msg="no usable keystone credentials (%s): give auth "
                                      "(auth_url, username, password, project_name), a cloud "
                                      "from clouds.yaml, or OS_* variables" % exc)
        cfg_auth = region.config.get('auth') or {}
        self.user = self.user or cfg_auth.get('username') or cfg_auth.get('user_id')
        self.auth_url = cfg_auth.get('auth_url')
        return region.get_session()

    def _identity_url(self):
        """The catalog's identity endpoint for `interface` (no discovery request: keystoneauth
        returns the catalog URL when no version is asked for), as a v3 root."""
        p = self.module.params
        url = None
        for attempt in range(2):  # a token request changes nothing: safe to send again
            try:
                url = self.session.get_endpoint(service_type='identity',
                                                interface=p['interface'],
                                                region_name=p['region_name'])
                break
            except ksa_exc.EndpointNotFound:
                break
            except ksa_exc.ConnectionError as exc:
                if attempt:
                    self.fail(exc, 'requesting a token')
            except Exception as exc:
                self.fail(exc, 'requesting a token')
        return v3_url(url or self.auth_url)

    @property
    def token_info(self):
        """The admin token's data (user and project domain ids and names)."""
        return self.session.auth.get_access(self.session)

    def request(self, method, path, body=None, missing_ok=False, doing=None):
        """One identity API request; the decoded JSON body, or None for 204 / a 404 that
        `missing_ok` allows."""
        url = self.url + path
        resp = None
        for attempt in range(2 if method in IDEMPOTENT else 1):
            try:
                resp = self.session.request(url, method, json=body, raise_exc=False)
                break
            except ksa_exc.ConnectionError as exc:
                if attempt or method not in IDEMPOTENT:
                    self.fail(exc, doing or '%s %s' % (method, path), url=self.url)
            except Exception as exc:
                self.fail(exc, doing or '%s %s' % (method, path), url=self.url)
        if resp.status_code == 404 and missing_ok:
            return None
        if resp.status_code >= 400:
            try:
                exc = ksa_exc.from_response(resp, method, url)
            except Exception as other:  # an unparsable error body
                exc = other
            self.fail(exc, doing or '%s %s' % (method, path), url=self.url)
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    def get_list(self, path, key, **query):
        """A list resource with exact-match filters (keystone pages nothing by default)."""
        if query:
            path += '?' + urlencode(sorted(query.items()))
        return self.request('GET', path, doing='listing %s' % key)[key]

    def password_works(self, user_id, password):
        """Whether a token request as this user with this password succeeds: one attempt (a
        failed one counts toward keystone's lockout, if configured), a second one only when the
        connection broke before the answer was read."""
        plugin = ksa_v3.Password(auth_url=self.url, user_id=user_id, password=password,
                                 unscoped=True, include_catalog=False)
        for attempt in range(2):  # again only if the connection broke (see IDEMPOTENT)
            try:
                plugin.get_auth_ref(self.session)
                return True
            except ksa_exc.Unauthorized:
                return False
            except ksa_exc.ConnectionError as exc:
                if attempt:
                    self.fail(exc, 'checking the password of user id %s' % user_id,
                              url=self.url)
            except Exception as exc:
                self.fail(exc, 'checking the password of user id %s' % user_id, url=self.url)
        return True
