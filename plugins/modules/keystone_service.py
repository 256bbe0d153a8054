#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, cloudlab.openstack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: keystone_service
short_description: A keystone service and its public, internal and admin endpoints in one task
description:
  - Creates, updates or deletes a service of the keystone v3 catalog together with its endpoints,
    the way an install guide's C(service-create) plus three C(endpoint-create) do.
  - Endpoints are found by service + interface + region. A changed URL is updated in place; extra
    endpoints for the same service, interface and region are deleted, so a run never leaves
    duplicates. Endpoints of other regions are left alone.
  - Several services can be handled in one task with O(services); that costs the same three
    requests (token, services, endpoints) as one service when nothing changes.
  - In check mode on a keystone that lacks the service, the module reports the service, region
    and endpoints it would create.
version_added: 0.1.0
author:
  - cloudlab.openstack contributors (!UNKNOWN)
extends_documentation_fragment:
  - cloudlab.openstack.keystone
attributes:
  check_mode:
    support: full
    description: Predicts every action; reads keystone, writes nothing.
  diff_mode:
    support: full
    description: Shows the service fields and one line per endpoint before and after.
options:
  name:
    description:
      - Service name, for example C(glance). Mutually exclusive with O(services).
    type: str
  type:
    description:
      - Service type, for example C(image). Required when O(state=present).
    type: str
    aliases: [service_type]
  description:
    description:
      - Service description. Left as it is when not given.
    type: str
  enabled:
    description:
      - Whether the service is enabled. Default for the items of O(services) too.
    type: bool
    default: true
  region:
    description:
      - Region of the endpoints (its id). Created when it does not exist.
      - Default for the items of O(services).
    type: str
    default: RegionOne
  endpoints:
    description:
      - URL per interface. Interfaces not given are left alone unless O(purge_endpoints=true).
    type: dict
    default: {}
    suboptions:
      public:
        description: Public URL.
        type: str
      internal:
        description: Internal URL.
        type: str
      admin:
        description: Admin URL.
        type: str
  purge_endpoints:
    description:
      - Delete the service's endpoints in O(region) whose interface is not in O(endpoints).
    type: bool
    default: false
  state:
    description:
      - C(absent) deletes the service and all its endpoints, in every region.
      - Default for the items of O(services).
    type: str
    choices: [present, absent]
    default: present
  services:
    description:
      - Several services in one task, each with the keys of the single-service options.
        Keys an item leaves out take the top-level O(region), O(enabled) and O(state).
    type: list
    elements: dict
    suboptions:
      name:
        description: Service name.
        type: str
        required: true
      type:
        description: Service type.
        type: str
      description:
        description: Service description.
        type: str
      enabled:
        description: Whether the service is enabled.
        type: bool
      region:
        description: Region of the endpoints.
        type: str
      endpoints:
        description: URL per interface.
        type: dict
        suboptions:
          public:
            description: Public URL.
            type: str
          internal:
            description: Internal URL.
            type: str
          admin:
            description: Admin URL.
            type: str
      state:
        description: Whether the service should exist.
        type: str
        choices: [present, absent]
'''

EXAMPLES = r'''
- name: Register glance (the guide's service-create + endpoint-create)
  cloudlab.openstack.keystone_service:
    auth:
      auth_url: http://10.0.100.149:5000/v3
      username: admin
      password: "{{ openstack_admin_password }}"
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    name: glance
    type: image
    description: OpenStack Image Service
    region: RegionOne
    endpoints:
      public: http://192.168.182.150:9292
      internal: http://10.0.100.145:9292
      admin: http://10.0.100.145:9292

- name: Register every service of a list in one task, removing endpoints nobody asked for
  cloudlab.openstack.keystone_service:
    cloud: lab
    purge_endpoints: true
    services: "{{ keystone_services }}"

- name: Remove a service and its endpoints
  cloudlab.openstack.keystone_service:
    cloud: lab
    name: cinderv2
    state: absent
'''

RETURN = r'''
actions:
  description:
    - What was done (or would be done in check mode), in order. Each item has C(action)
      (create_region, create_service, update_service, create_endpoint, update_endpoint,
      delete_endpoint, delete_service), C(service) and the details of that action; updates carry
      C(changes), a dict of field name to C([old, new]).
  returned: always
  type: list
  elements: dict
  sample:
    - action: update_endpoint
      service: glance
      id: 3f1c...
      interface: public
      region: RegionOne
      changes:
        url: [http://old:9292, http://192.168.182.150:9292]
services:
  description: The services as they are after the run (ids of objects created in check mode are null).
  returned: always
  type: list
  elements: dict
  sample:
    - name: glance
      id: 9a1f...
      type: image
      description: OpenStack Image Service
      enabled: true
      endpoints:
        - {id: 3f1c..., interface: public, region: RegionOne, url: 'http://192.168.182.150:9292'}
api_calls:
  description: HTTP requests made to keystone, the token request included.
  returned: always
  type: int
  sample: 3
'''

from urllib.parse import quote

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cloudlab.openstack.plugins.module_utils.keystone import (
    KeystoneClient, KeystoneError, endpoint_region, find_service, keystone_argument_spec,
    normalize_services, plan_service, regions_to_create, service_view, simulate_service)

ENDPOINT_OPTIONS = dict(public=dict(type='str'), internal=dict(type='str'),
                        admin=dict(type='str'))


def argument_spec():
    item = dict(
        name=dict(type='str', required=True),
        type=dict(type='str'),
        description=dict(type='str'),
        enabled=dict(type='bool'),
        region=dict(type='str'),
        endpoints=dict(type='dict', options=ENDPOINT_OPTIONS),
        state=dict(type='str', choices=['present', 'absent']),
    )
    return keystone_argument_spec(
        name=dict(type='str'),
        type=dict(type='str', aliases=['service_type']),
        description=dict(type='str'),
        enabled=dict(type='bool', default=True),
        region=dict(type='str', default='RegionOne'),
        endpoints=dict(type='dict', default={}, options=ENDPOINT_OPTIONS),
        purge_endpoints=dict(type='bool', default=False),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        services=dict(type='list', elements='dict', options=item),
    )


def read_state(client, wants):
    """The existing services of `wants` and their endpoints: two requests at most."""
    services = client.get_list('/services', 'services')
    found = [find_service(services, w['name'], w['type']) for w in wants]
    ids = [s['id'] for s in found if s is not None]
    if not ids:
        endpoints = []
    elif len(ids) == 1:
        endpoints = client.get_list('/endpoints', 'endpoints', service_id=ids[0])
    else:
        endpoints = client.get_list('/endpoints', 'endpoints')
    return found, endpoints


def execute(client, actions, found):
    """Run the planned actions; returns service name -> id of what was created."""
    ids = dict((s['name'], s['id']) for s in found if s is not None)
    created = {}
    for a in actions:
        kind = a['action']
        if kind == 'create_region':
            client.request('POST', '/regions', {'region': {'id': a['region']}},
                           doing='creating region %s' % a['region'])
        elif kind == 'create_service':
            svc = client.request('POST', '/services', {'service': a['fields']},
                                 doing='creating service %s' % a['service'])['service']
            ids[a['service']] = svc['id']
            a['id'] = svc['id']
        elif kind == 'update_service':
            body = dict((k, new) for k, (dummy, new) in a['changes'].items())
            client.request('PATCH', '/services/%s' % a['id'], {'service': body},
                           doing='updating service %s' % a['service'])
        elif kind == 'create_endpoint':
            body = dict(service_id=ids[a['service']], interface=a['interface'], url=a['url'],
                        region_id=a['region'], enabled=True)
            ep = client.request('POST', '/endpoints', {'endpoint': body},
                                doing='creating the %s endpoint of %s'
                                % (a['interface'], a['service']))['endpoint']
            a['id'] = ep['id']
            created[(a['service'], a['interface'], a['region'])] = ep['id']
        elif kind == 'update_endpoint':
            body = dict((k, new) for k, (dummy, new) in a['changes'].items())
            client.request('PATCH', '/endpoints/%s' % a['id'], {'endpoint': body},
                           doing='updating the %s endpoint of %s' % (a['interface'], a['service']))
        elif kind == 'delete_endpoint':
            client.request('DELETE', '/endpoints/%s' % a['id'], missing_ok=True,
                           doing='deleting the %s endpoint of %s' % (a['interface'], a['service']))
        elif kind == 'delete_service':
            client.request('DELETE', '/services/%s' % a['id'], missing_ok=True,
                           doing='deleting service %s' % a['service'])
    return ids


def result_entry(name, service_id, service, endpoints):
    entry = dict((k, service.get(k)) for k in ('type', 'description', 'enabled'))
    entry.update(name=name, id=service_id)
    entry['endpoints'] = sorted(
        [dict(id=e.get('id'), interface=e['interface'], region=endpoint_region(e), url=e['url'])
         for e in endpoints],
        key=lambda e: (e['region'] or '', e['interface']))
    return entry


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[('name', 'services')],
                           required_one_of=[('name', 'services')])
    try:
        wants = normalize_services(module.params)
    except KeystoneError as exc:
        module.fail_json(msg=str(exc))

    client = KeystoneClient(module)
    try:
        found, endpoints = read_state(client, wants)
    except KeystoneError as exc:
        module.fail_json(msg=str(exc), api_calls=client.calls)

    plans = []
    for want, service in zip(wants, found):
        mine = [e for e in endpoints if service and e['service_id'] == service['id']]
        plans.append((want, service, mine,
                      plan_service(want, service, mine, module.params['purge_endpoints'])))

    actions = [a for plan in plans for a in plan[3]]
    known = set(endpoint_region(e) for e in endpoints)
    region_actions = []
    for region in regions_to_create(actions, known):
        if client.request('GET', '/regions/%s' % quote(region, safe=''), missing_ok=True,
                          doing='looking up region %s' % region) is None:
            region_actions.append(dict(action='create_region', region=region))
    actions = region_actions + actions

    if actions and not module.check_mode:
        ids = execute(client, actions, found)
    else:
        ids = dict((s['name'], s['id']) for s in found if s is not None)

    result = dict(changed=bool(actions), actions=actions, services=[],
                  api_calls=client.calls)
    before, after = {}, {}
    for want, service, mine, plan in plans:
        new_service, new_endpoints = simulate_service(service, mine, plan)
        before[want['name']] = service_view(service, mine)
        after[want['name']] = service_view(new_service, new_endpoints)
        if new_service is not None:
            result['services'].append(result_entry(want['name'], ids.get(want['name']),
                                                   new_service, new_endpoints))
    if module._diff:
        if len(wants) == 1:
            before, after = before[wants[0]['name']], after[wants[0]['name']]
        result['diff'] = dict(before=before, after=after)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
