"""Planning logic of the keystone modules: pure functions, no keystone, no keystoneauth1."""
import pytest

from ansible_collections.cloudlab.openstack.plugins.module_utils.keystone import (
    KeystoneError, assignment_queries, check_references, direct_auth_possible, explain_error, find_service,
    identity_view, apply_identity_actions, normalize_identity, normalize_services, plan_identity,
    plan_service, public_actions, referenced, regions_to_create, service_view, simulate_service,
    v3_url)

URLS = dict(public='http://192.168.182.150:9292', internal='http://10.0.100.145:9292',
            admin='http://10.0.100.145:9292')
GLANCE = dict(id='s1', name='glance', type='image', description='Image', enabled=True)


def ep(eid, interface, url, region='RegionOne', service='s1', enabled=True):
    return dict(id=eid, interface=interface, url=url, region_id=region, service_id=service,
                enabled=enabled)


def want_service(**kw):
    want = dict(name='glance', type='image', description='Image', enabled=True,
                region='RegionOne', endpoints=dict(URLS), state='present')
    want.update(kw)
    return want


CONVERGED = [ep('e1', 'public', URLS['public']), ep('e2', 'internal', URLS['internal']),
             ep('e3', 'admin', URLS['admin'])]


@pytest.mark.parametrize('url, expected', [
    ('http://k:5000', 'http://k:5000/v3'),
    ('http://k:5000/', 'http://k:5000/v3'),
    ('http://k:5000/v3', 'http://k:5000/v3'),
    ('http://k:5000/v3/', 'http://k:5000/v3'),
    ('http://k:5000/v2.0', 'http://k:5000/v3'),
    ('https://k/identity', 'https://k/identity/v3'),
])
def test_v3_url(url, expected):
    assert v3_url(url) == expected


@pytest.mark.parametrize('cloud, auth, expected', [
    (None, dict(auth_url='http://k:5000', username='admin', password='x'), True),
    (None, dict(auth_url='http://k:5000', user_id='abc', password='x'), True),
    (None, dict(auth_url='http://k:5000', username='admin', password=None), False),
    (None, dict(username='admin', password='x'), False),
    ('lab', dict(auth_url='http://k:5000', username='admin', password='x'), False),
    (None, None, False),
])
def test_direct_auth_possible(cloud, auth, expected):
    assert direct_auth_possible(cloud, auth) is expected


class HttpError(Exception):
    def __init__(self, status):
        super().__init__('HTTP %s' % status)
        self.http_status = status


class Unauthorized(HttpError):
    pass


class ConnectionError_(Exception):
    pass


class ConnectFailure(ConnectionError_):
    pass


class SSLError(Exception):
    pass


@pytest.mark.parametrize('exc, fragments', [
    (Unauthorized(401), ['rejected the credentials', "'admin'", 'HTTP 401', 'auth.password']),
    (HttpError(403), ["refused 'admin' (HTTP 403) while listing services", 'admin role']),
    (ConnectFailure('refused'), ['cannot reach keystone at http://k:5000/v3',
                                 'auth.auth_url', "catalog's public identity endpoint"]),
    (SSLError('bad cert'), ['TLS verification', 'ca_cert']),
    (HttpError(500), ['answered HTTP 500']),
    (ValueError('boom'), ['listing services failed: boom']),
])
def test_explain_error(exc, fragments):
    msg = explain_error(exc, 'listing services', url='http://k:5000/v3', user='admin',
                        interface='public')
    for fragment in fragments:
        assert fragment in msg


def test_normalize_services_single_defaults():
    params = dict(name='glance', type='image', description=None, enabled=True,
                  region='RegionOne', state='present', services=None,
                  endpoints=dict(public=URLS['public'], internal=None, admin=None))
    assert normalize_services(params) == [dict(
        name='glance', type='image', description=None, enabled=True, region='RegionOne',
        endpoints=dict(public=URLS['public']), state='present')]


def test_normalize_services_list_inherits_top_level():
    params = dict(name=None, region='RegionTwo', enabled=True, state='present', services=[
        dict(name='nova', type='compute', endpoints=None, region=None, enabled=None,
             state=None, description=None),
        dict(name='old', type=None, endpoints=None, region='R3', enabled=False,
             state='absent', description=None)])
    nova, old = normalize_services(params)
    assert (nova['region'], nova['enabled'], nova['state'], nova['endpoints']) == \
        ('RegionTwo', True, 'present', {})
    assert (old['region'], old['enabled'], old['state']) == ('R3', False, 'absent')


@pytest.mark.parametrize('services, message', [
    ([dict(name='glance')], 'type is required'),
    ([dict(name='a', type='x'), dict(name='a', type='y')], 'listed twice'),
    ([dict(name='a', type='x', endpoints=dict(private='u'))], 'unknown interface(s) private'),
])
def test_normalize_services_errors(services, message):
    params = dict(region='RegionOne', enabled=True, state='present', services=services)
    with pytest.raises(KeystoneError, match=message.replace('(', r'\(').replace(')', r'\)')):
        normalize_services(params)


@pytest.mark.parametrize('services, name, stype, expected', [
    ([GLANCE], 'glance', 'image', 's1'),
    ([GLANCE], 'nova', 'compute', None),
    ([GLANCE, dict(GLANCE, id='s2', type='image-v1')], 'glance', 'image', 's1'),
    ([dict(GLANCE, type='other')], 'glance', 'image', 's1'),   # a type change, found by name
])
def test_find_service(services, name, stype, expected):
    found = find_service(services, name, stype)
    assert (found or {}).get('id') == expected


def test_find_service_ambiguous():
    with pytest.raises(KeystoneError, match="2 services are called 'glance'.*s1, s2"):
        find_service([GLANCE, dict(GLANCE, id='s2')], 'glance', 'image')


def kinds(actions):
    return [(a['action'], a.get('interface')) for a in actions]


@pytest.mark.parametrize('service, endpoints, want, purge, expected', [
    # a fresh keystone: service and the three endpoints
    (None, [], want_service(), False,
     [('create_service', None), ('create_endpoint', 'public'), ('create_endpoint', 'internal'),
      ('create_endpoint', 'admin')]),
    # converged: nothing
    (GLANCE, CONVERGED, want_service(), False, []),
    # description not managed when not given
    (dict(GLANCE, description='other'), CONVERGED, want_service(description=None), False, []),
    (dict(GLANCE, description='other'), CONVERGED, want_service(), False,
     [('update_service', None)]),
    # a changed URL is updated in place, never re-created
    (GLANCE, [ep('e1', 'public', 'http://old:9292')] + CONVERGED[1:], want_service(), False,
     [('update_endpoint', 'public')]),
    # a disabled endpoint is enabled again
    (GLANCE, [ep('e1', 'public', URLS['public'], enabled=False)] + CONVERGED[1:],
     want_service(), False, [('update_endpoint', 'public')]),
    # duplicates for one interface+region: keep the one with the right URL
    (GLANCE, CONVERGED + [ep('e0', 'public', 'http://dup')], want_service(), False,
     [('delete_endpoint', 'public')]),
    # another region is not touched
    (GLANCE, CONVERGED + [ep('e9', 'public', 'http://r2', region='RegionTwo')], want_service(),
     True, []),
    # interfaces not listed: kept, unless purge
    (GLANCE, CONVERGED, want_service(endpoints=dict(public=URLS['public'])), False, []),
    (GLANCE, CONVERGED, want_service(endpoints=dict(public=URLS['public'])), True,
     [('delete_endpoint', 'internal'), ('delete_endpoint', 'admin')]),
    # absent: endpoints (every region) then the service
    (GLANCE, CONVERGED + [ep('e9', 'public', 'http://r2', region='RegionTwo')],
     want_service(state='absent'), False,
     [('delete_endpoint', 'public'), ('delete_endpoint', 'internal'),
      ('delete_endpoint', 'admin'), ('delete_endpoint', 'public'), ('delete_service', None)]),
    (None, [], want_service(state='absent'), False, []),
])
def test_plan_service(service, endpoints, want, purge, expected):
    assert kinds(plan_service(want, service, endpoints, purge)) == expected


def test_plan_service_update_carries_old_and_new_url():
    actions = plan_service(want_service(), GLANCE,
                           [ep('e1', 'public', 'http://old:9292')] + CONVERGED[1:])
    assert actions == [dict(action='update_endpoint', service='glance', id='e1',
                            interface='public', region='RegionOne',
                            changes=dict(url=['http://old:9292', URLS['public']]))]


def test_plan_service_duplicates_keep_lowest_id_when_none_matches():
    endpoints = [ep('e7', 'public', 'http://a'), ep('e5', 'public', 'http://b')] + CONVERGED[1:]
    actions = plan_service(want_service(), GLANCE, endpoints)
    assert [(a['action'], a['id']) for a in actions] == [('update_endpoint', 'e5'),
                                                         ('delete_endpoint', 'e7')]


def test_plan_service_create_fields():
    actions = plan_service(want_service(description=None, enabled=False), None, [])
    assert actions[0] == dict(action='create_service', service='glance',
                              fields=dict(name='glance', type='image', enabled=False))


@pytest.mark.parametrize('known, expected', [
    (set(), ['RegionOne']),
    ({'RegionOne'}, []),
])
def test_regions_to_create(known, expected):
    actions = plan_service(want_service(), None, [])
    assert regions_to_create(actions, known) == expected


def test_regions_to_create_nothing_to_create():
    assert regions_to_create(plan_service(want_service(), GLANCE, CONVERGED), set()) == []


def test_simulated_after_matches_want_on_fresh_keystone():
    actions = plan_service(want_service(), None, [])
    after = service_view(*simulate_service(None, [], actions))
    assert after == dict(name='glance', type='image', description='Image', enabled=True,
                         endpoints=sorted('%s RegionOne %s' % (i, u) for i, u in URLS.items()))


def test_simulated_after_of_update_and_purge():
    endpoints = [ep('e1', 'public', 'http://old')] + CONVERGED[1:]
    want = want_service(endpoints=dict(public=URLS['public'], internal=URLS['internal']))
    actions = plan_service(want, GLANCE, endpoints, purge=True)
    before = service_view(GLANCE, endpoints)
    after = service_view(*simulate_service(GLANCE, endpoints, actions))
    assert 'public RegionOne http://old' in before['endpoints']
    assert after['endpoints'] == ['internal RegionOne ' + URLS['internal'],
                                  'public RegionOne ' + URLS['public']]


def test_simulated_after_of_absent_is_empty():
    actions = plan_service(want_service(state='absent'), GLANCE, CONVERGED)
    assert service_view(*simulate_service(GLANCE, CONVERGED, actions)) == {}


# --- identity ---------------------------------------------------------------------------------

SERVICE_USER = dict(
    domain='Default', update_password='on_create',
    projects=[dict(name='service', description='Service Project', domain=None, enabled=None,
                   state='present')],
    roles=[], role_assignments=[],
    users=[dict(name='glance', password='s3cret', domain=None, update_password='always',
                description=None, email=None, enabled=None, default_project=None,
                state='present',
                roles=[dict(role='admin', project='service', project_domain=None, domain=None,
                            state='present')])])

P_SERVICE = ('project', 'Default', 'service')
U_GLANCE = ('user', 'Default', 'glance')


def empty_have(**kw):
    have = dict(projects={}, users={}, groups={}, roles={}, assignments=set(), password_ok={})
    have.update(kw)
    return have


def converged_have(password_ok=True):
    return empty_have(
        projects={P_SERVICE: dict(id='p1', name='service', description='Service Project',
                                  enabled=True)},
        users={U_GLANCE: dict(id='u1', name='glance', enabled=True)},
        roles={'admin': dict(id='r1', name='admin')},
        assignments={('admin', U_GLANCE, P_SERVICE)},
        password_ok={U_GLANCE: password_ok})


def test_normalize_identity_refs():
    want = normalize_identity(SERVICE_USER)
    assert want['projects'][0]['ref'] == P_SERVICE
    assert want['users'][0]['ref'] == U_GLANCE
    assert want['assignments'] == [('admin', U_GLANCE, P_SERVICE, 'present')]


def test_normalize_identity_domain_names_canonical():
    params = dict(SERVICE_USER, domain='default')
    want = normalize_identity(params, {'default': 'Default'})
    assert want['users'][0]['ref'] == U_GLANCE
    assert want['assignments'][0][2] == P_SERVICE


@pytest.mark.parametrize('assignment, message', [
    (dict(role='admin', project='p'), 'exactly one of user or group'),
    (dict(role='admin', user='u', group='g', project='p'), 'exactly one of user or group'),
    (dict(role='admin', user='u'), 'exactly one of project or domain'),
    (dict(role='admin', user='u', project='p', domain='d'), 'exactly one of project or domain'),
])
def test_normalize_assignment_errors(assignment, message):
    with pytest.raises(KeystoneError, match=message):
        normalize_identity(dict(role_assignments=[assignment]))


def test_referenced():
    want = normalize_identity(dict(
        SERVICE_USER, role_assignments=[dict(role='reader', group='ops', group_domain='Corp',
                                             domain='Corp')]))
    names = referenced(want)
    assert names['domains'] == {'Default', 'Corp'}
    assert names['roles'] == {'admin', 'reader'}
    assert names['groups'] == {('group', 'Corp', 'ops')}


def test_plan_identity_fresh_keystone():
    actions = plan_identity(normalize_identity(SERVICE_USER),
                            empty_have(roles={'admin': dict(id='r1', name='admin')}))
    assert [a['action'] for a in actions] == ['create_project', 'create_user', 'grant']
    assert actions[1]['password'] is True
    assert 's3cret' not in repr(public_actions(actions))


def test_plan_identity_converged():
    assert plan_identity(normalize_identity(SERVICE_USER), converged_have()) == []


def test_plan_identity_password_drift_only_with_always():
    assert [a['action'] for a in plan_identity(normalize_identity(SERVICE_USER),
                                               converged_have(password_ok=False))] == \
        ['set_password']
    on_create = dict(SERVICE_USER, users=[dict(SERVICE_USER['users'][0],
                                               update_password=None)])
    assert plan_identity(normalize_identity(on_create), converged_have(password_ok=False)) == []


def test_plan_identity_unchecked_password_is_no_change():
    assert plan_identity(normalize_identity(SERVICE_USER), converged_have(password_ok=None)) == []


@pytest.mark.parametrize('user_changes, expected', [
    (dict(email='g@x'), {'email': [None, 'g@x']}),
    (dict(enabled=False), {'enabled': [True, False]}),
    (dict(default_project='service'), {'default_project': [None, 'service@Default']}),
])
def test_plan_identity_user_updates(user_changes, expected):
    params = dict(SERVICE_USER, users=[dict(SERVICE_USER['users'][0], **user_changes)])
    actions = plan_identity(normalize_identity(params), converged_have())
    assert [(a['action'], a['changes']) for a in actions] == [('update_user', expected)]


def test_plan_identity_default_project_matching_is_no_change():
    params = dict(SERVICE_USER, users=[dict(SERVICE_USER['users'][0], default_project='service')])
    have = converged_have()
    have['users'][U_GLANCE]['default_project_id'] = 'p1'
    assert plan_identity(normalize_identity(params), have) == []


def test_plan_identity_absent_order():
    params = dict(domain='Default',
                  projects=[dict(name='service', state='absent')],
                  roles=[dict(name='admin', state='absent')],
                  users=[dict(name='glance', state='absent')])
    actions = plan_identity(normalize_identity(params), converged_have())
    assert [a['action'] for a in actions] == ['delete_user', 'delete_role', 'delete_project']


def test_plan_identity_revoke_and_group_grant():
    params = dict(role_assignments=[
        dict(role='admin', user='glance', project='service', state='absent'),
        dict(role='admin', group='ops', domain='Default')])
    have = converged_have()
    have['groups'] = {('group', 'Default', 'ops'): dict(id='g1')}
    actions = plan_identity(normalize_identity(params), have)
    assert [(a['action'], a.get('user') or a.get('group')) for a in actions] == \
        [('grant', 'ops@Default'), ('revoke', 'glance@Default')]
    assert actions[0]['domain'] == 'Default'


@pytest.mark.parametrize('params, message', [
    (dict(users=[dict(name='glance', roles=[dict(role='nope', project='service')])]),
     'role nope does not exist; add it under roles'),
    (dict(users=[dict(name='glance', roles=[dict(role='admin', project='nope')])]),
     'project nope@Default does not exist; add it under projects'),
    (dict(role_assignments=[dict(role='admin', user='ghost', project='service')]),
     'user ghost@Default does not exist'),
    (dict(role_assignments=[dict(role='admin', group='ops', project='service')]),
     'group ops@Default does not exist'),
    (dict(users=[dict(name='new', default_project='nope')]),
     'default project nope@Default does not exist'),
])
def test_check_references(params, message):
    with pytest.raises(KeystoneError, match=message):
        check_references(normalize_identity(params), converged_have())


def test_references_created_in_the_same_task_are_fine():
    params = dict(roles=[dict(name='heat_stack_user')],
                  projects=[dict(name='demo')],
                  users=[dict(name='demo', default_project='demo',
                              roles=[dict(role='heat_stack_user', project='demo')])])
    actions = plan_identity(normalize_identity(params), empty_have())
    assert [a['action'] for a in actions] == ['create_role', 'create_project', 'create_user',
                                              'grant']


def test_identity_diff_views():
    want = normalize_identity(SERVICE_USER)
    have = converged_have(password_ok=False)
    before = identity_view(want, have)
    assert before['assignments'] == ['user glance@Default has admin on project service@Default']
    after = apply_identity_actions(before, plan_identity(want, have))
    assert after['users']['glance@Default']['password'] == '(changed)'
    assert 'password' not in before['users']['glance@Default']
    fresh = empty_have(roles={'admin': dict(id='r1', name='admin')})
    after = apply_identity_actions(identity_view(want, fresh), plan_identity(want, fresh))
    assert after['assignments'] == before['assignments']
    assert after['projects'] == {'service@Default': dict(description='Service Project',
                                                         enabled=True)}


D = ('domain', None, 'Default')
IDS = {P_SERVICE: 'p1', D: 'default', ('user', 'Default', 'nova'): 'u2', U_GLANCE: 'u1',
       ('group', 'Default', 'ops'): 'g1'}


@pytest.mark.parametrize('assignments, expected', [
    # 2 users on one project: by scope
    ([('admin', U_GLANCE, P_SERVICE, 'present'),
      ('admin', ('user', 'Default', 'nova'), P_SERVICE, 'present')],
     [{'scope.project.id': 'p1'}]),
    # one user on a project and a domain: by actor
    ([('admin', U_GLANCE, P_SERVICE, 'present'), ('reader', U_GLANCE, D, 'absent')],
     [{'user.id': 'u1'}]),
    # a group on a domain, a user on a project: as many either way, by actor
    ([('reader', ('group', 'Default', 'ops'), D, 'present'),
      ('admin', U_GLANCE, P_SERVICE, 'present')],
     [{'group.id': 'g1'}, {'user.id': 'u1'}]),
    # the user does not exist yet: nothing to read
    ([('admin', ('user', 'Default', 'new'), P_SERVICE, 'present')], []),
])
def test_assignment_queries(assignments, expected):
    assert assignment_queries(assignments, IDS) == expected


# --- domains (heat's stack domain) --------------------------------------------------------------

HEAT_DOMAIN = dict(
    domains=[dict(name='heat', description='Stack projects and users', enabled=None,
                  state='present')],
    users=[dict(name='heat_domain_admin', password='s3cret', domain='heat',
                update_password='always', roles=[dict(role='admin', domain='heat')])])
D_HEAT = ('domain', None, 'heat')
U_HEAT_ADMIN = ('user', 'heat', 'heat_domain_admin')


def test_plan_identity_domain_comes_first_and_its_user_is_granted_on_it():
    want = normalize_identity(HEAT_DOMAIN)
    assert referenced(want)['domains'] == {'heat'}
    actions = plan_identity(want, empty_have(roles={'admin': dict(id='r1', name='admin')}))
    assert [a['action'] for a in actions] == ['create_domain', 'create_user', 'grant']
    assert actions[0]['fields'] == dict(name='heat', enabled=True,
                                        description='Stack projects and users')
    assert (actions[2]['user'], actions[2]['domain']) == ('heat_domain_admin@heat', 'heat')


def test_plan_identity_domain_converged_and_updated():
    heat = dict(id='d1', name='heat', description='Stack projects and users', enabled=True)
    have = empty_have(domains={'heat': heat}, users={U_HEAT_ADMIN: dict(id='u1', enabled=True)},
                      roles={'admin': dict(id='r1')}, password_ok={U_HEAT_ADMIN: True},
                      assignments={('admin', U_HEAT_ADMIN, D_HEAT)})
    want = normalize_identity(HEAT_DOMAIN)
    assert plan_identity(want, have) == []
    have['domains']['heat'] = dict(heat, description='old', enabled=False)
    want['domains'][0]['enabled'] = True
    actions = plan_identity(want, have)
    assert actions == [dict(action='update_domain', domain='heat', changes=dict(
        description=['old', 'Stack projects and users'], enabled=[False, True]))]


def test_plan_identity_domain_absent_goes_last():
    want = normalize_identity(dict(
        domains=[dict(name='heat', state='absent')],
        users=[dict(name='heat_domain_admin', domain='heat', state='absent')]))
    have = empty_have(domains={'heat': dict(id='d1', name='heat', enabled=True)},
                      users={U_HEAT_ADMIN: dict(id='u1')})
    assert [a['action'] for a in plan_identity(want, have)] == ['delete_user', 'delete_domain']


def test_identity_diff_views_of_a_domain():
    want = normalize_identity(HEAT_DOMAIN)
    before = identity_view(want, empty_have(roles={'admin': dict(id='r1')}))
    assert before['domains'] == {}
    after = apply_identity_actions(before, plan_identity(
        want, empty_have(roles={'admin': dict(id='r1')})))
    assert after['domains'] == {'heat': dict(description='Stack projects and users',
                                             enabled=True)}
    assert after['assignments'] == ['user heat_domain_admin@heat has admin on domain heat']
