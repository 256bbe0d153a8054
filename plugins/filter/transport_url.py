# -*- coding: utf-8 -*-
# Copyright (c) 2026, cloudlab.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The oslo.messaging transport_url of every service, from the RabbitMQ hosts and credentials."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: transport_url
short_description: oslo.messaging C(transport_url) for a list of RabbitMQ hosts
version_added: 0.1.0
description:
  - Builds C(rabbit://user:password@host:port,user:password@host2:port/vhost), the C([DEFAULT] transport_url)
    that nova, neutron, cinder, glance, heat, ceilometer, aodh and swift's ceilometer middleware read.
  - The user and password are percent-encoded, so a password with C(@), C(:), C(/) or C($) stays one
    password (oslo.messaging decodes them; an unencoded C($) would also be read as an oslo.config
    substitution). IPv6 addresses are put in brackets.
positional: user, password
options:
  _input:
    description: RabbitMQ host names or addresses, in the order clients should try them.
    type: list
    elements: str
    required: true
  user:
    description: RabbitMQ user.
    type: str
    required: true
  password:
    description: The user's password.
    type: str
    required: true
  port:
    description: RabbitMQ's AMQP port.
    type: int
    default: 5672
  virtual_host:
    description: The virtual host; C(/) (the default) is RabbitMQ's default virtual host.
    type: str
    default: /
"""

EXAMPLES = r"""
- name: The URL for nova.conf
  ansible.builtin.debug:
    msg: "{{ ['10.0.100.145'] | cloudlab.openstack.transport_url('openstack', vault_rabbit_pass) }}"
  # rabbit://openstack:...@10.0.100.145:5672/
"""

RETURN = r"""
_value:
  description: The transport URL.
  type: str
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six.moves.urllib.parse import quote


def transport_url(hosts, user, password, port=5672, virtual_host="/"):
    """rabbit://user:pass@host:port[,...]/vhost with the credentials percent-encoded."""
    if isinstance(hosts, str):
        hosts = [hosts]
    hosts = [str(host) for host in hosts or [] if str(host)]
    if not hosts:
        raise AnsibleFilterError("transport_url: no RabbitMQ host (is the rabbitmq group empty?)")
    if not user:
        raise AnsibleFilterError("transport_url: the RabbitMQ user is empty")
    credentials = "%s:%s" % (quote(str(user), safe=""), quote(str(password), safe=""))
    netlocs = []
    for host in hosts:
        bracketed = "[%s]" % host if ":" in host and not host.startswith("[") else host
        netlocs.append("%s@%s:%d" % (credentials, bracketed, int(port)))
    # The default virtual host "/" is written as the empty path after the last slash.
    vhost = "" if virtual_host in (None, "", "/") else quote(str(virtual_host), safe="")
    return "rabbit://%s/%s" % (",".join(netlocs), vhost)


class FilterModule(object):
    """cloudlab.openstack filters."""

    def filters(self):
        return {"transport_url": transport_url}
