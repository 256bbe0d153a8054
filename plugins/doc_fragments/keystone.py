# -*- coding: utf-8 -*-
# Copyright (c) 2026, cloudlab.openstack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The authentication options shared by the keystone modules."""

    DOCUMENTATION = r'''
options:
  auth:
    description:
      - Keystone v3 password credentials.
      - When O(cloud) is not set and O(auth) holds C(auth_url), a user and C(password), the module
        authenticates with keystoneauth1 alone. Otherwise openstacksdk's config loader merges
        O(auth) with the named O(cloud) of C(clouds.yaml) or with the C(OS_*) environment variables.
      - The bootstrap admin of C(keystone-manage bootstrap) is C(username=admin),
        C(project_name=admin), both domains C(Default).
    type: dict
    suboptions:
      auth_url:
        description:
          - Keystone URL, with or without the C(/v3) suffix (it is added when missing).
        type: str
      username:
        description: Name of the user to authenticate as.
        type: str
      user_id:
        description: Id of the user to authenticate as (instead of O(auth.username)).
        type: str
      password:
        description: The user's password.
        type: str
      project_name:
        description: Project to scope the token to.
        type: str
      project_id:
        description: Id of the project to scope the token to.
        type: str
      user_domain_name:
        description: Domain of the user, for example C(Default).
        type: str
      user_domain_id:
        description: Id of the user's domain, for example C(default).
        type: str
      project_domain_name:
        description: Domain of the project.
        type: str
      project_domain_id:
        description: Id of the project's domain.
        type: str
      domain_name:
        description: Domain to scope the token to (instead of a project).
        type: str
      domain_id:
        description: Id of the domain to scope the token to.
        type: str
      system_scope:
        description: C(all) for a system-scoped token (instead of a project).
        type: str
  cloud:
    description:
      - Name of a cloud in C(clouds.yaml) (C(/etc/openstack/clouds.yaml),
        C(~/.config/openstack/clouds.yaml)). Needs openstacksdk.
    type: str
  region_name:
    description:
      - Region whose identity endpoint of the catalog the module talks to.
    type: str
  interface:
    description:
      - Which identity endpoint of the catalog the module talks to after authenticating.
    type: str
    choices: [public, internal, admin]
    default: public
    aliases: [endpoint_type]
  validate_certs:
    description:
      - Whether to verify keystone's TLS certificate. Unset means verify (or what C(clouds.yaml)
        says).
    type: bool
    aliases: [verify]
  ca_cert:
    description:
      - CA bundle to verify keystone's TLS certificate with.
    type: path
    aliases: [cacert]
  api_timeout:
    description:
      - Seconds to wait for each keystone request.
    type: int
    default: 30
requirements:
  - python3-keystoneauth1 (keystoneauth1 >= 4) on the host that runs the module
  - python3-openstacksdk, only when O(cloud) or C(OS_*) environment variables are used
notes:
  - Keystone v3 only. The module makes its requests to the identity endpoint of the token's
    catalog for O(interface), falling back to O(auth.auth_url).
  - The result's C(api_calls) counts every HTTP request made, the token request included.
'''
