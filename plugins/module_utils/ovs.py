# -*- coding: utf-8 -*-
# Copyright: cloudlab.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for cloudlab.openstack.ovs_bridge: parse `ovs-vsctl --format=json` and `ip -j`
output into a "have" state, and turn want + have into the exact commands to run.

Nothing here runs a command or touches the system, so every decision is unit-tested with output
recorded from a real Open vSwitch (tests/unit/plugins/module_utils/fixtures/ovs/).

Vocabulary:
- a *state* is {'bridges': {name: bridge}, 'port_bridge': {port: bridge}} where a bridge is
  {'datapath_type', 'fail_mode', 'external_ids', 'other_config', 'ports': {name: port}} and a
  port is {'type', 'options', 'tag'};
- *links* is {ifname: {'mac', 'up', 'addresses': [address]}}, an address being
  {'family', 'cidr', 'broadcast', 'dynamic'}; *routes* is a list of route dicts (main table);
- an ovs-vsctl *transaction* is a list of commands, each a list of arguments; it runs as one
  `ovs-vsctl -- cmd1 -- cmd2 ...` call, which OVSDB applies atomically;
- *ip lines* are `ip -batch` lines (`address add ...`), run in one `ip -batch -` call.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import shlex

# The one read the module does (three tables in one call, one JSON document per line).
VSCTL_READ = [
    '--format=json',
    '--', '--columns=name,datapath_type,fail_mode,external_ids,other_config,ports', 'list', 'Bridge',
    '--', '--columns=_uuid,name,tag,interfaces', 'list', 'Port',
    '--', '--columns=_uuid,name,type,options', 'list', 'Interface',
]

BRIDGE_COLUMNS = ('datapath_type', 'fail_mode', 'external_ids', 'other_config')

# Measured on the userspace (netdev) datapath (docs/design.md section 5): OVS reads the NIC through
# a packet socket, so the kernel still sees every frame on it. Without these the kernel answers
# ARP for the bridge's address on the NIC too and handles IPv6 there: duplicate packets.
NETDEV_UPLINK_SYSCTLS = (
    ('net.ipv4.conf.{0}.rp_filter', '1'),
    ('net.ipv4.conf.{0}.arp_ignore', '1'),
    ('net.ipv6.conf.{0}.disable_ipv6', '1'),
)

_BARE = re.compile(r'^[A-Za-z0-9_.-]+$')


# ---------------------------------------------------------------- parsing ovs-vsctl and ip output

def _ovsdb_value(value):
    """Turn one OVSDB JSON datum into Python: ['set', []] -> None, ['map', ...] -> dict,
    ['uuid', x] -> x, ['set', [a, b]] -> [a, b]."""
    if isinstance(value, list) and len(value) == 2 and value[0] in ('set', 'map', 'uuid'):
        kind, data = value
        if kind == 'uuid':
            return data
        if kind == 'map':
            return dict((k, _ovsdb_value(v)) for k, v in data)
        items = [_ovsdb_value(v) for v in data]
        if not items:
            return None
        return items[0] if len(items) == 1 else items
    return value


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _rows(document):
    table = json.loads(document)
    headings = table['headings']
    return [dict(zip(headings, [_ovsdb_value(v) for v in row])) for row in table['data']]


def parse_vsctl_tables(text):
    """Parse the output of VSCTL_READ into a state."""
    documents = [line for line in text.splitlines() if line.strip()]
    if len(documents) != 3:
        raise ValueError('expected 3 JSON tables from ovs-vsctl, got %d' % len(documents))
    bridges_rows, port_rows, iface_rows = [_rows(d) for d in documents]
    ifaces = dict((r['_uuid'], r) for r in iface_rows)
    ports = {}
    for row in port_rows:
        iface_uuids = _as_list(row['interfaces'])
        iface = ifaces.get(iface_uuids[0], {}) if len(iface_uuids) == 1 else {}
        ports[row['_uuid']] = (row['name'], {
            'type': iface.get('type') or 'system',
            'options': iface.get('options') or {},
            'tag': row['tag'],
        })
    state = {'bridges': {}, 'port_bridge': {}}
    for row in bridges_rows:
        bridge = {
            'datapath_type': row['datapath_type'] or 'system',
            'fail_mode': row['fail_mode'],
            'external_ids': row['external_ids'] or {},
            'other_config': row['other_config'] or {},
            'ports': {},
        }
        for uuid in _as_list(row['ports']):
            name, port = ports[uuid]
            state['port_bridge'][name] = row['name']
            if name != row['name']:  # the bridge's own internal port is implied by the bridge
                bridge['ports'][name] = port
        state['bridges'][row['name']] = bridge
    return state


def parse_ip_addr(text):
    """Parse `ip -j addr show` into links. Only addresses a node is reached at (scope global)
    are kept: link-local and host addresses belong to the interface, they never move."""
    links = {}
    for link in json.loads(text or '[]'):
        addresses = []
        for info in link.get('addr_info', []):
            if info.get('scope') != 'global' or 'local' not in info:
                continue
            addresses.append({
                'family': info['family'],
                'cidr': '%s/%s' % (info['local'], info['prefixlen']),
                'broadcast': info.get('broadcast'),
                'dynamic': bool(info.get('dynamic')),
            })
        links[link['ifname']] = {
            'mac': link.get('address'),
            'up': 'UP' in link.get('flags', []),
            'addresses': addresses,
        }
    return links


def parse_ip_routes(text, family):
    """Parse `ip -j -4|-6 route show table main` into routes. Routes the kernel makes by itself
    (prefix routes of an address, router advertisements) and non-unicast routes are left out:
    they follow the addresses. Multipath routes (no single 'dev') are left out too."""
    routes = []
    for route in json.loads(text or '[]'):
        if route.get('protocol') in ('kernel', 'ra') or route.get('type', 'unicast') != 'unicast':
            continue
        if 'dev' not in route:
            continue
        dst = route['dst']
        if family == 'inet6' and (dst.startswith('fe80:') or dst.startswith('ff00:')):
            continue
        routes.append({
            'family': family,
            'dst': dst,
            'gateway': route.get('gateway'),
            'dev': route['dev'],
            'protocol': route.get('protocol'),
            'scope': route.get('scope'),
            'prefsrc': route.get('prefsrc'),
            'metric': route.get('metric'),
            'onlink': 'onlink' in route.get('flags', []),
        })
    return routes


def parse_route_get_dev(text):
    """Parse `ip -j route get ADDR` into the device the kernel would use."""
    routes = json.loads(text or '[]')
    return routes[0].get('dev') if routes else None


# ---------------------------------------------------------------- rendering commands

def ovs_quote(text):
    """Quote a key or value for ovs-vsctl's `column:key=value` syntax (OVSDB string syntax is
    JSON's): plain names stay readable, anything with ':', '=', ',' or spaces is quoted."""
    text = str(text)
    return text if _BARE.match(text) else json.dumps(text)


def ovs_map(mapping):
    return '{%s}' % ','.join('%s=%s' % (ovs_quote(k), ovs_quote(v)) for k, v in sorted(mapping.items()))


def vsctl_argv(transaction, timeout):
    """The argument list (after the ovs-vsctl binary) of one atomic transaction."""
    argv = ['-t', str(timeout)]
    for command in transaction:
        argv.append('--')
        argv.extend(command)
    return argv


def render_command(argv):
    return ' '.join(shlex.quote(a) for a in argv)


def sysctl_key(template, ifname):
    # sysctl writes a '.' in an interface name (eth1.100) as '/'.
    return template.format(ifname.replace('.', '/'))


def sysctl_path(key):
    parts = key.split('.')
    # net.ipv4.conf.<if>.<leaf>: the interface part may hold '/' for a '.'
    return '/proc/sys/' + '/'.join(p.replace('/', '.') for p in parts)


def route_spec(route, dev=None, full=True):
    """The `ip route` arguments for a route, optionally on another device. Deletes use the
    selectors only (full=False)."""
    dst = route['dst']
    if dst == 'default' and route['family'] == 'inet6':
        dst = '::/0'  # ip -batch lines take no -6: make the family explicit
    words = [dst]
    if route.get('gateway'):
        words += ['via', route['gateway']]
    words += ['dev', dev or route['dev']]
    if full:
        if route.get('protocol'):
            words += ['proto', route['protocol']]
        if route.get('scope'):
            words += ['scope', route['scope']]
        if route.get('prefsrc'):
            words += ['src', route['prefsrc']]
    if route.get('metric') is not None:
        words += ['metric', str(route['metric'])]
    if full and route.get('onlink'):
        words.append('onlink')
    return ' '.join(words)


def address_spec(address, dev):
    words = [address['cidr']]
    if address.get('broadcast'):
        words += ['broadcast', address['broadcast']]
    words += ['dev', dev]
    return ' '.join(words)


# ---------------------------------------------------------------- want -> have -> commands

def _port_want(spec):
    return {
        'type': spec.get('type') or 'system',
        'options': spec.get('options'),
        'tag': spec.get('tag'),
    }


def _port_settings(name, port, have_port=None):
    """ovs-vsctl commands that give port `name` the wanted type/options/tag."""
    commands = []
    have_port = have_port or {'type': 'system', 'options': {}, 'tag': None}
    iface_sets = []
    if port['type'] != have_port['type']:
        iface_sets.append('type=%s' % ('""' if port['type'] == 'system' else port['type']))
    if port['options'] is not None and port['options'] != have_port['options']:
        iface_sets.append('options=%s' % ovs_map(port['options']))
    if iface_sets:
        commands.append(['set', 'Interface', name] + iface_sets)
    if port['tag'] is not None and port['tag'] != have_port['tag']:
        commands.append(['set', 'Port', name, 'tag=%d' % port['tag']])
    return commands


def _map_changes(table, name, column, want, have):
    """Merge semantics: keys in want are set, keys whose wanted value is None are removed, keys
    not mentioned are left alone (neutron's agents add their own)."""
    sets, removes = [], []
    for key, value in sorted((want or {}).items()):
        if value is None:
            if key in have:
                removes.append(['remove', table, name, column, ovs_quote(key)])
        elif have.get(key) != str(value):
            sets.append('%s:%s=%s' % (column, ovs_quote(key), ovs_quote(value)))
    return sets, removes


def effective_other_config(want, links):
    """other_config as wanted, plus hwaddr = the uplink's MAC when an uplink is given: the bridge
    keeps the address its neighbours already know (no ARP churn while the IP moves), and on the
    netdev datapath OVS would otherwise pick a random one (docs/design.md section 5)."""
    other = dict(want.get('other_config') or {})
    uplink = want.get('uplink')
    if uplink and 'hwaddr' not in other and links.get(uplink, {}).get('mac'):
        other['hwaddr'] = links[uplink]['mac']
    return other or None


def wanted_ports(want):
    ports = {}
    for spec in want.get('ports') or []:
        ports[spec['name']] = _port_want(spec)
    if want.get('uplink'):
        ports[want['uplink']] = {'type': 'system', 'options': None, 'tag': None}
    return ports


def plan_ovs(want, state, other_config=None):
    """One ovs-vsctl transaction (list of commands) taking `state` to `want`; [] if nothing to do."""
    name = want['bridge']
    have = state['bridges'].get(name)
    if want['state'] == 'absent':
        return [['--if-exists', 'del-br', name]] if have is not None else []

    transaction = []
    sets = []
    if have is None:
        transaction.append(['--may-exist', 'add-br', name])
        have = {'datapath_type': 'system', 'fail_mode': None, 'external_ids': {},
                'other_config': {}, 'ports': {}}
    if want.get('datapath_type') and want['datapath_type'] != have['datapath_type']:
        sets.append('datapath_type=%s' % want['datapath_type'])
    if want.get('fail_mode') and want['fail_mode'] != have['fail_mode']:
        sets.append('fail_mode=%s' % want['fail_mode'])
    removes = []
    for column, wanted in (('external_ids', want.get('external_ids')), ('other_config', other_config)):
        column_sets, column_removes = _map_changes('Bridge', name, column, wanted, have[column])
        sets += column_sets
        removes += column_removes
    if sets:
        transaction.append(['set', 'Bridge', name] + sets)
    transaction += removes

    for port_name, port in sorted(wanted_ports(want).items()):
        on_bridge = state['port_bridge'].get(port_name)
        if on_bridge == name:
            transaction += _port_settings(port_name, port, have['ports'].get(port_name))
            continue
        if on_bridge is not None:  # sits on another bridge: move it, in the same transaction
            transaction.append(['del-port', on_bridge, port_name])
        transaction.append(['--may-exist', 'add-port', name, port_name])
        transaction += _port_settings(port_name, port)
    return transaction


def plan_ovs_rollback(want, state):
    """The transaction that puts back what plan_ovs(want, state) changed (state = before)."""
    name = want['bridge']
    have = state['bridges'].get(name)
    moved_ports = [p for p in sorted(wanted_ports(want))
                   if state['port_bridge'].get(p) not in (None, name)]
    transaction = []
    if want['state'] == 'absent':
        if have is None:
            return []
        restore = spec_from_state(name, state)
        empty = {'bridges': {}, 'port_bridge': {}}
        return plan_ovs(restore, empty, restore['other_config'])
    if have is None:
        transaction.append(['--if-exists', 'del-br', name])
    else:
        sets = ['datapath_type=%s' % ('""' if have['datapath_type'] == 'system' else have['datapath_type']),
                'external_ids=%s' % ovs_map(have['external_ids']),
                'other_config=%s' % ovs_map(have['other_config'])]
        if have['fail_mode']:
            sets.append('fail_mode=%s' % have['fail_mode'])
        transaction.append(['set', 'Bridge', name] + sets)
        if not have['fail_mode']:
            transaction.append(['clear', 'Bridge', name, 'fail_mode'])
        for port_name in sorted(wanted_ports(want)):
            if port_name in have['ports']:
                old = have['ports'][port_name]
                transaction.append(['set', 'Interface', port_name,
                                    'type=%s' % ('""' if old['type'] == 'system' else old['type']),
                                    'options=%s' % ovs_map(old['options'])])
                if old['tag'] is None:
                    transaction.append(['clear', 'Port', port_name, 'tag'])
                else:
                    transaction.append(['set', 'Port', port_name, 'tag=%d' % old['tag']])
            elif port_name not in moved_ports:
                transaction.append(['--if-exists', 'del-port', name, port_name])
    for port_name in moved_ports:
        old_bridge = state['port_bridge'][port_name]
        old = state['bridges'][old_bridge]['ports'][port_name]
        if have is not None:
            transaction.append(['--if-exists', 'del-port', name, port_name])
        transaction.append(['--may-exist', 'add-port', old_bridge, port_name])
        transaction += _port_settings(port_name, dict(old, options=old['options'] or None))
    return transaction


def spec_from_state(name, state):
    """A want (state: present) that recreates bridge `name` exactly as it is in `state`."""
    have = state['bridges'][name]
    return {
        'bridge': name, 'state': 'present',
        'datapath_type': have['datapath_type'], 'fail_mode': have['fail_mode'],
        'external_ids': dict(have['external_ids']), 'other_config': dict(have['other_config']),
        'ports': [dict(port, name=port_name, options=port['options'] or None)
                  for port_name, port in sorted(have['ports'].items())],
        'uplink': None,
    }


def _route_sort_key(route):
    # Routes without a gateway first: a gateway route needs the route to its gateway.
    return (1 if route.get('gateway') else 0, route['dst'] == 'default')


def move_lines(addresses, routes, src, dst, delete_src=True, bring_up_dst=False):
    """ip -batch lines moving addresses and routes (as read on src) from src to dst.

    Routes go down before their addresses (deleting the last address of a device flushes its
    routes, and `ip -batch` stops at the first error) and come up after them on dst, routes
    without a gateway first. delete_src=False when src vanished already (a deleted bridge)."""
    lines = []
    if delete_src:
        lines += ['route del %s' % route_spec(r, dev=src, full=False) for r in reversed(routes)]
        lines += ['address del %s dev %s' % (a['cidr'], src) for a in addresses]
    if bring_up_dst:
        lines.append('link set dev %s up' % dst)
    lines += ['address add %s' % address_spec(a, dst) for a in addresses]
    lines += ['route add %s' % route_spec(r, dev=dst) for r in routes]
    return lines


def plan_move(src, dst, links, routes, src_gone=False):
    """Move src's global addresses and main-table routes onto dst.

    Returns (forward, reverse, moved): the ip -batch lines, the lines that undo them, and
    moved = {'addresses', 'routes'} as read on src. src_gone: src disappears before the batch
    runs (state=absent deletes the bridge first), so forward only adds and reverse, run after the
    bridge was recreated, brings it up again."""
    addresses = list(links.get(src, {}).get('addresses', []))
    moving = sorted((r for r in routes if r['dev'] == src), key=_route_sort_key)
    if not addresses and not moving:
        return [], [], {'addresses': [], 'routes': []}
    forward = move_lines(addresses, moving, src, dst, delete_src=not src_gone,
                         bring_up_dst=not links.get(dst, {}).get('up'))
    reverse = move_lines(addresses, moving, dst, src, bring_up_dst=src_gone)
    return forward, reverse, {'addresses': addresses, 'routes': moving}


def plan_sysctls(uplink, datapath_type, current):
    """[(key, wanted, current)] for the uplink's sysctls that differ; only on netdev."""
    if not uplink or datapath_type != 'netdev':
        return []
    changes = []
    for template, value in NETDEV_UPLINK_SYSCTLS:
        key = sysctl_key(template, uplink)
        if current.get(key) != value:
            changes.append((key, value, current.get(key)))
    return changes


def default_gateway(routes):
    for route in routes:
        if route['dst'] == 'default' and route.get('gateway') and route['family'] == 'inet':
            return route['gateway']
    return None


def connection_interface_hit(ssh_connection, iface, links, route_dev):
    """Why moving iface's addresses would cut the Ansible connection, or None.

    ssh_connection is SSH_CONNECTION ('client cport server sport') as the module sees it;
    route_dev is the device `ip route get <client>` names."""
    if not ssh_connection:
        return None
    words = ssh_connection.split()
    if len(words) < 3:
        return None
    client, server = words[0], words[2]
    local = [a['cidr'].split('/')[0] for a in links.get(iface, {}).get('addresses', [])]
    if server in local:
        return 'Ansible is connected to %s, an address of %s' % (server, iface)
    if route_dev == iface and local:
        return 'the route back to the Ansible controller %s goes out through %s' % (client, iface)
    return None


# ---------------------------------------------------------------- persistent network config

HEADER = '# Written by cloudlab.openstack.ovs_bridge; local edits are overwritten.\n'


def render_ifupdown(bridge, uplink, datapath_type, hwaddr, addresses, routes):
    """/etc/network/interfaces.d/<bridge> for Debian's ifupdown with the openvswitch-switch hooks
    (/usr/share/openvswitch/scripts/ifupdown.sh): the bridge carries the addresses and routes."""
    v4 = [a for a in addresses if a['family'] == 'inet']
    v6 = [a for a in addresses if a['family'] == 'inet6']
    extra = ['set Bridge ${IFACE} datapath_type=%s' % datapath_type]
    if hwaddr:
        # ifupdown.sh evals ovs_extra inside double quotes: the MAC goes bare (ovs-vsctl takes it).
        extra.append('set Bridge ${IFACE} other_config:hwaddr=%s' % hwaddr)
    lines = [HEADER.rstrip('\n'), 'auto %s' % bridge, 'allow-ovs %s' % bridge]
    lines.append('iface %s inet %s' % (bridge, 'static' if v4 else 'manual'))
    if v4:
        lines.append('    address %s' % v4[0]['cidr'])
        gateway = default_gateway(routes)
        if gateway:
            lines.append('    gateway %s' % gateway)
    lines.append('    ovs_type OVSBridge')
    if uplink:
        lines.append('    ovs_ports %s' % uplink)
    lines.append('    ovs_extra %s' % ' -- '.join(extra))
    for address in v4[1:] + v6:
        lines.append('    up ip address add %s' % address_spec(address, bridge))
    for route in routes:
        if not (route['dst'] == 'default' and route['family'] == 'inet'):
            lines.append('    up ip route add %s' % route_spec(route, dev=bridge))
    if uplink:
        lines += ['', 'allow-%s %s' % (bridge, uplink), 'iface %s inet manual' % uplink,
                  '    ovs_bridge %s' % bridge, '    ovs_type OVSPort']
        if datapath_type == 'netdev':
            for template, value in NETDEV_UPLINK_SYSCTLS:
                lines.append('    pre-up sysctl -q -w %s=%s' % (sysctl_key(template, uplink), value))
    return {'/etc/network/interfaces.d/%s' % bridge: '\n'.join(lines) + '\n'}


def render_ifcfg(bridge, uplink, datapath_type, hwaddr, addresses, routes):
    """ifcfg files for the RedHat family's network-scripts (the guide's files), not proven here."""
    base = '/etc/sysconfig/network-scripts/'
    v4 = [a for a in addresses if a['family'] == 'inet']
    extra = ['set bridge %s datapath_type=%s' % (bridge, datapath_type)]
    if hwaddr:
        extra.append('set bridge %s other_config:hwaddr=%s' % (bridge, hwaddr))
    lines = [HEADER.rstrip('\n'), 'DEVICE=%s' % bridge, 'DEVICETYPE=ovs', 'TYPE=OVSBridge',
             'ONBOOT=yes', 'BOOTPROTO=%s' % ('static' if v4 else 'none')]
    for index, address in enumerate(v4):
        suffix = str(index) if index else ''
        ip, prefix = address['cidr'].split('/')
        lines += ['IPADDR%s=%s' % (suffix, ip), 'PREFIX%s=%s' % (suffix, prefix)]
    gateway = default_gateway(routes)
    if gateway:
        lines.append('GATEWAY=%s' % gateway)
    lines.append('OVS_EXTRA="%s"' % ' -- '.join(extra))
    files = {base + 'ifcfg-' + bridge: '\n'.join(lines) + '\n'}
    other_routes = [r for r in routes if r['family'] == 'inet' and r['dst'] != 'default']
    if other_routes:
        files[base + 'route-' + bridge] = HEADER + ''.join(
            route_spec(r, dev=bridge) + '\n' for r in other_routes)
    if uplink:
        files[base + 'ifcfg-' + uplink] = '\n'.join([
            HEADER.rstrip('\n'), 'DEVICE=%s' % uplink, 'TYPE=OVSPort', 'DEVICETYPE=ovs',
            'OVS_BRIDGE=%s' % bridge, 'ONBOOT=yes', 'BOOTPROTO=none']) + '\n'
    return files


# ---------------------------------------------------------------- diff

def describe(bridge_name, state, links, routes, ifnames):
    """What the diff shows: the bridge as OVS has it, and addresses/routes of the interfaces."""
    bridge = state['bridges'].get(bridge_name)
    view = {'bridge': None}
    if bridge is not None:
        view['bridge'] = {
            'name': bridge_name,
            'datapath_type': bridge['datapath_type'],
            'fail_mode': bridge['fail_mode'],
            'external_ids': bridge['external_ids'],
            'other_config': bridge['other_config'],
            'ports': bridge['ports'],
        }
    view['addresses'] = dict((i, [a['cidr'] for a in links.get(i, {}).get('addresses', [])])
                             for i in ifnames)
    view['routes'] = [route_spec(r) for r in routes if r['dev'] in ifnames]
    return view


def predict_state(want, state, other_config):
    """The OVS state after plan_ovs(want, state) ran: for the diff and for planning rollbacks."""
    new = {'bridges': dict(state['bridges']), 'port_bridge': dict(state['port_bridge'])}
    name = want['bridge']
    if want['state'] == 'absent':
        if name in new['bridges']:
            for port in new['bridges'].pop(name)['ports']:
                new['port_bridge'].pop(port, None)
            new['port_bridge'].pop(name, None)
        return new
    old = state['bridges'].get(name) or {'datapath_type': 'system', 'fail_mode': None,
                                         'external_ids': {}, 'other_config': {}, 'ports': {}}
    bridge = dict(old, ports=dict(old['ports']))
    if want.get('datapath_type'):
        bridge['datapath_type'] = want['datapath_type']
    if want.get('fail_mode'):
        bridge['fail_mode'] = want['fail_mode']
    for column, wanted in (('external_ids', want.get('external_ids')), ('other_config', other_config)):
        merged = dict(old[column])
        for key, value in (wanted or {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = str(value)
        bridge[column] = merged
    for port_name, port in wanted_ports(want).items():
        on_bridge = new['port_bridge'].get(port_name)
        if on_bridge not in (None, name):
            other = dict(new['bridges'][on_bridge])
            other['ports'] = dict((k, v) for k, v in other['ports'].items() if k != port_name)
            new['bridges'][on_bridge] = other
        before = old['ports'].get(port_name) if on_bridge == name else None
        before = before or {'type': 'system', 'options': {}, 'tag': None}
        bridge['ports'][port_name] = {
            'type': port['type'],
            'options': port['options'] if port['options'] is not None else before['options'],
            'tag': port['tag'] if port['tag'] is not None else before['tag'],
        }
        new['port_bridge'][port_name] = name
    new['port_bridge'][name] = name
    new['bridges'][name] = bridge
    return new
