# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning logic of ovs_bridge against output recorded from a real OVS 3.1 and kernel
(fixtures/ovs/record.sh): eth1 = 192.168.182.151/25, default via .254, 10.99.0.0/16 via .200;
the "network node" state has br-int, br-tun and br-ex (eth1, IP moved), all netdev."""
from pathlib import Path

import pytest

from ansible_collections.cloudlab.openstack.plugins.module_utils import ovs

FIX = Path(__file__).parent / 'fixtures' / 'ovs'


def fixture(name):
    return (FIX / name).read_text()


def ip_state(prefix):
    links = ovs.parse_ip_addr(fixture(prefix + '_addr.json'))
    routes = (ovs.parse_ip_routes(fixture(prefix + '_route4.json'), 'inet')
              + ovs.parse_ip_routes(fixture(prefix + '_route6.json'), 'inet6'))
    return links, routes


EMPTY = ovs.parse_vsctl_tables(fixture('vsctl_empty.txt'))
NODE = ovs.parse_vsctl_tables(fixture('vsctl_network_node.txt'))
BEFORE_LINKS, BEFORE_ROUTES = ip_state('ip_before')
AFTER_LINKS, AFTER_ROUTES = ip_state('ip_after')
BEFORE_MAC = BEFORE_LINKS['eth1']['mac']
MAC = AFTER_LINKS['eth1']['mac']  # = br-ex's hwaddr in the recording


def want(bridge, **kw):
    spec = {'bridge': bridge, 'state': 'present', 'datapath_type': None, 'fail_mode': None,
            'external_ids': None, 'other_config': None, 'ports': [], 'uplink': None}
    spec.update(kw)
    return spec


# ------------------------------------------------------------------ parsers

def test_parse_empty_database():
    assert EMPTY == {'bridges': {}, 'port_bridge': {}}


def test_parse_network_node_bridges():
    assert sorted(NODE['bridges']) == ['br-ex', 'br-int', 'br-tun']
    br_int = NODE['bridges']['br-int']
    assert br_int['datapath_type'] == 'netdev'
    assert br_int['fail_mode'] == 'secure'
    assert br_int['external_ids'] == {'bridge-id': 'br-int'}
    assert br_int['ports'] == {
        'patch-tun': {'type': 'patch', 'options': {'peer': 'patch-int'}, 'tag': 5},
        'int-port': {'type': 'internal', 'options': {}, 'tag': None},
    }
    assert NODE['bridges']['br-tun']['fail_mode'] is None
    assert NODE['bridges']['br-tun']['ports']['gre-1'] == {
        'type': 'gre', 'options': {'key': 'flow', 'remote_ip': '10.0.100.147'}, 'tag': None}
    assert NODE['bridges']['br-tun']['ports']['vxlan-1']['options'] == {
        'dst_port': '4789', 'remote_ip': '10.0.100.148'}
    assert NODE['bridges']['br-ex']['other_config'] == {'hwaddr': MAC}
    assert NODE['bridges']['br-ex']['ports'] == {'eth1': {'type': 'system', 'options': {}, 'tag': None}}


@pytest.mark.parametrize('port,bridge', [
    ('eth1', 'br-ex'), ('patch-int', 'br-tun'), ('patch-tun', 'br-int'), ('br-ex', 'br-ex'),
])
def test_port_bridge_map(port, bridge):
    assert NODE['port_bridge'][port] == bridge


@pytest.mark.parametrize('text', ['', '{"data":[],"headings":[]}'])
def test_parse_rejects_truncated_output(text):
    with pytest.raises(ValueError):
        ovs.parse_vsctl_tables(text)


def test_parse_ip_addr_keeps_global_addresses_only():
    assert BEFORE_LINKS['eth1']['addresses'] == [
        {'family': 'inet', 'cidr': '192.168.182.151/25', 'broadcast': None, 'dynamic': False}]
    assert BEFORE_LINKS['eth1']['up'] is True
    assert BEFORE_LINKS['lo']['addresses'] == []  # scope host
    assert AFTER_LINKS['eth1']['addresses'] == []  # only its link-local address is left
    assert [a['cidr'] for a in AFTER_LINKS['br-ex']['addresses']] == ['192.168.182.151/25']
    assert AFTER_LINKS['br-ex']['mac'] == MAC
    assert AFTER_LINKS['br-int']['up'] is False


def test_parse_routes_leaves_kernel_routes_out():
    assert [(r['dst'], r['gateway'], r['dev'], r['metric']) for r in BEFORE_ROUTES] == [
        ('default', '192.168.182.254', 'eth1', None),
        ('10.99.0.0/16', '192.168.182.200', 'eth1', 50),
    ]
    assert [r['dev'] for r in AFTER_ROUTES] == ['br-ex', 'br-ex']


@pytest.mark.parametrize('name,dev', [
    ('ip_route_get_via_eth1.json', 'eth1'), ('ip_route_get_local.json', 'lo'),
])
def test_parse_route_get(name, dev):
    assert ovs.parse_route_get_dev(fixture(name)) == dev


def test_parse_routes_ipv6_and_specials():
    text = ('[{"dst":"default","gateway":"2001:db8::1","dev":"eth1","metric":1024,"flags":[],'
            '"pref":"medium"},{"dst":"fe80::/64","dev":"eth1","metric":256,"flags":[]},'
            '{"type":"unreachable","dst":"2001:db8:1::/48","dev":"lo","flags":[]},'
            '{"dst":"2001:db8:2::/48","protocol":"ra","dev":"eth1","flags":[]}]')
    routes = ovs.parse_ip_routes(text, 'inet6')
    assert [r['dst'] for r in routes] == ['default']
    assert ovs.route_spec(routes[0], dev='br-ex') == '::/0 via 2001:db8::1 dev br-ex metric 1024'


# ------------------------------------------------------------------ rendering

@pytest.mark.parametrize('text,quoted', [
    ('br-int', 'br-int'), ('4789', '4789'), ('aa:bb', '"aa:bb"'), ('a b', '"a b"'),
    ('x=y,z', '"x=y,z"'), ('say "hi"', '"say \\"hi\\""'),
])
def test_ovs_quote(text, quoted):
    assert ovs.ovs_quote(text) == quoted


@pytest.mark.parametrize('route,dev,full,spec', [
    ({'family': 'inet', 'dst': 'default', 'gateway': '192.168.182.254', 'dev': 'eth1'},
     'br-ex', True, 'default via 192.168.182.254 dev br-ex'),
    ({'family': 'inet', 'dst': '10.1.0.0/16', 'dev': 'eth1', 'scope': 'link', 'protocol': 'static',
      'prefsrc': '10.1.0.5', 'metric': 7, 'onlink': True},
     None, True, '10.1.0.0/16 dev eth1 proto static scope link src 10.1.0.5 metric 7 onlink'),
    ({'family': 'inet', 'dst': '10.1.0.0/16', 'dev': 'eth1', 'scope': 'link', 'protocol': 'static',
      'prefsrc': '10.1.0.5', 'metric': 7, 'onlink': True},
     None, False, '10.1.0.0/16 dev eth1 metric 7'),
])
def test_route_spec(route, dev, full, spec):
    assert ovs.route_spec(route, dev=dev, full=full) == spec


@pytest.mark.parametrize('template,ifname,key,path', [
    ('net.ipv4.conf.{0}.rp_filter', 'eth1', 'net.ipv4.conf.eth1.rp_filter',
     '/proc/sys/net/ipv4/conf/eth1/rp_filter'),
    ('net.ipv6.conf.{0}.disable_ipv6', 'eth1.100', 'net.ipv6.conf.eth1/100.disable_ipv6',
     '/proc/sys/net/ipv6/conf/eth1.100/disable_ipv6'),
])
def test_sysctl_names(template, ifname, key, path):
    assert ovs.sysctl_key(template, ifname) == key
    assert ovs.sysctl_path(key) == path


# ------------------------------------------------------------------ plan_ovs

BR_INT = want('br-int', datapath_type='netdev', fail_mode='secure', external_ids={'bridge-id': 'br-int'},
              ports=[{'name': 'patch-tun', 'type': 'patch', 'options': {'peer': 'patch-int'}, 'tag': 5},
                     {'name': 'int-port', 'type': 'internal', 'options': None, 'tag': None}])
BR_EX = want('br-ex', datapath_type='netdev', uplink='eth1')


@pytest.mark.parametrize('spec,state,links,expected', [
    pytest.param(BR_INT, EMPTY, BEFORE_LINKS, [
        ['--may-exist', 'add-br', 'br-int'],
        ['set', 'Bridge', 'br-int', 'datapath_type=netdev', 'fail_mode=secure',
         'external_ids:bridge-id=br-int'],
        ['--may-exist', 'add-port', 'br-int', 'int-port'],
        ['set', 'Interface', 'int-port', 'type=internal'],
        ['--may-exist', 'add-port', 'br-int', 'patch-tun'],
        ['set', 'Interface', 'patch-tun', 'type=patch', 'options={peer=patch-int}'],
        ['set', 'Port', 'patch-tun', 'tag=5'],
    ], id='create-br-int'),
    pytest.param(BR_INT, NODE, AFTER_LINKS, [], id='br-int-converged'),
    pytest.param(BR_EX, EMPTY, BEFORE_LINKS, [
        ['--may-exist', 'add-br', 'br-ex'],
        ['set', 'Bridge', 'br-ex', 'datapath_type=netdev', 'other_config:hwaddr="%s"' % BEFORE_MAC],
        ['--may-exist', 'add-port', 'br-ex', 'eth1'],
    ], id='create-br-ex-with-uplink'),
    pytest.param(BR_EX, NODE, AFTER_LINKS, [], id='br-ex-converged'),
    pytest.param(want('br-ex'), NODE, AFTER_LINKS, [], id='unset-options-are-no-ops'),
    pytest.param(want('br-int', fail_mode='standalone', external_ids={'bridge-id': None, 'k': 'v'}),
                 NODE, AFTER_LINKS,
                 [['set', 'Bridge', 'br-int', 'fail_mode=standalone', 'external_ids:k=v'],
                  ['remove', 'Bridge', 'br-int', 'external_ids', 'bridge-id']],
                 id='update-columns-and-remove-a-key'),
    pytest.param(want('br-int', ports=[{'name': 'patch-int', 'type': 'patch',
                                        'options': {'peer': 'patch-tun'}, 'tag': None}]),
                 NODE, AFTER_LINKS,
                 [['del-port', 'br-tun', 'patch-int'],
                  ['--may-exist', 'add-port', 'br-int', 'patch-int'],
                  ['set', 'Interface', 'patch-int', 'type=patch', 'options={peer=patch-tun}']],
                 id='port-on-another-bridge-is-moved'),
    pytest.param(want('br-tun', ports=[{'name': 'gre-1', 'type': 'gre', 'tag': 9,
                                        'options': {'remote_ip': '10.0.100.149'}}]),
                 NODE, AFTER_LINKS,
                 [['set', 'Interface', 'gre-1', 'options={remote_ip=10.0.100.149}'],
                  ['set', 'Port', 'gre-1', 'tag=9']],
                 id='port-options-exact-and-tag'),
    pytest.param(want('br-ex', state='absent'), NODE, AFTER_LINKS,
                 [['--if-exists', 'del-br', 'br-ex']], id='absent'),
    pytest.param(want('br-ex', state='absent'), EMPTY, BEFORE_LINKS, [], id='absent-converged'),
])
def test_plan_ovs(spec, state, links, expected):
    other = ovs.effective_other_config(spec, links) if spec['state'] == 'present' else None
    assert ovs.plan_ovs(spec, state, other) == expected


@pytest.mark.parametrize('spec,state,links', [
    (BR_INT, EMPTY, BEFORE_LINKS), (BR_EX, EMPTY, BEFORE_LINKS),
    (want('br-int', ports=[{'name': 'patch-int', 'type': 'patch', 'options': {'peer': 'x'}, 'tag': 3}]),
     NODE, AFTER_LINKS),
    (want('br-ex', state='absent'), NODE, AFTER_LINKS),
])
def test_predicted_state_needs_no_more_commands(spec, state, links):
    """Idempotence of the plan: after the predicted change, planning again gives nothing."""
    other = ovs.effective_other_config(spec, links) if spec['state'] == 'present' else None
    after = ovs.predict_state(spec, state, other)
    assert ovs.plan_ovs(spec, after, other) == []


def test_vsctl_argv_is_one_transaction():
    argv = ovs.vsctl_argv([['--may-exist', 'add-br', 'b'], ['--may-exist', 'add-port', 'b', 'p']], 5)
    assert argv == ['-t', '5', '--', '--may-exist', 'add-br', 'b', '--', '--may-exist', 'add-port', 'b', 'p']
    assert ovs.render_command(['ovs-vsctl', 'set', 'Bridge', 'b', 'other_config:hwaddr="a:b"']) == \
        'ovs-vsctl set Bridge b \'other_config:hwaddr="a:b"\''


# ------------------------------------------------------------------ rollback

@pytest.mark.parametrize('spec,state,expected', [
    pytest.param(BR_EX, EMPTY, [['--if-exists', 'del-br', 'br-ex']], id='new-bridge-deleted'),
    pytest.param(want('br-int', ports=[{'name': 'patch-int', 'type': 'patch',
                                        'options': {'peer': 'patch-tun'}, 'tag': None}]), NODE, [
        ['set', 'Bridge', 'br-int', 'datapath_type=netdev', 'external_ids={bridge-id=br-int}',
         'other_config={}', 'fail_mode=secure'],
        ['--if-exists', 'del-port', 'br-int', 'patch-int'],
        ['--may-exist', 'add-port', 'br-tun', 'patch-int'],
        ['set', 'Interface', 'patch-int', 'type=patch', 'options={peer=patch-tun}'],
    ], id='moved-port-goes-back'),
    pytest.param(want('br-tun', fail_mode='secure', ports=[{'name': 'gre-1', 'type': 'gre', 'tag': 9,
                                                            'options': {'remote_ip': '1.2.3.4'}}]),
                 NODE, [
        ['set', 'Bridge', 'br-tun', 'datapath_type=netdev', 'external_ids={}', 'other_config={}'],
        ['clear', 'Bridge', 'br-tun', 'fail_mode'],
        ['set', 'Interface', 'gre-1', 'type=gre', 'options={key=flow,remote_ip=10.0.100.147}'],
        ['clear', 'Port', 'gre-1', 'tag'],
    ], id='existing-bridge-columns-restored'),
    pytest.param(want('br-ex', state='absent'), NODE, [
        ['--may-exist', 'add-br', 'br-ex'],
        ['set', 'Bridge', 'br-ex', 'datapath_type=netdev', 'other_config:hwaddr="%s"' % MAC],
        ['--may-exist', 'add-port', 'br-ex', 'eth1'],
    ], id='deleted-bridge-recreated'),
])
def test_plan_ovs_rollback(spec, state, expected):
    assert ovs.plan_ovs_rollback(spec, state) == expected


# ------------------------------------------------------------------ moving addresses and routes

def test_plan_move_uplink_to_bridge():
    forward, reverse, moved = ovs.plan_move('eth1', 'br-ex', BEFORE_LINKS, BEFORE_ROUTES)
    assert forward == [
        'route del default via 192.168.182.254 dev eth1',
        'route del 10.99.0.0/16 via 192.168.182.200 dev eth1 metric 50',
        'address del 192.168.182.151/25 dev eth1',
        'link set dev br-ex up',
        'address add 192.168.182.151/25 dev br-ex',
        'route add 10.99.0.0/16 via 192.168.182.200 dev br-ex metric 50',
        'route add default via 192.168.182.254 dev br-ex',
    ]
    assert reverse == [
        'route del default via 192.168.182.254 dev br-ex',
        'route del 10.99.0.0/16 via 192.168.182.200 dev br-ex metric 50',
        'address del 192.168.182.151/25 dev br-ex',
        'address add 192.168.182.151/25 dev eth1',
        'route add 10.99.0.0/16 via 192.168.182.200 dev eth1 metric 50',
        'route add default via 192.168.182.254 dev eth1',
    ]
    assert [a['cidr'] for a in moved['addresses']] == ['192.168.182.151/25']
    assert ovs.default_gateway(moved['routes']) == '192.168.182.254'


def test_plan_move_converged_does_nothing():
    assert ovs.plan_move('eth1', 'br-ex', AFTER_LINKS, AFTER_ROUTES) == (
        [], [], {'addresses': [], 'routes': []})


def test_plan_move_back_when_bridge_is_deleted():
    forward, reverse, moved = ovs.plan_move('br-ex', 'eth1', AFTER_LINKS, AFTER_ROUTES, src_gone=True)
    assert forward == [
        'address add 192.168.182.151/25 dev eth1',
        'route add 10.99.0.0/16 via 192.168.182.200 dev eth1 metric 50',
        'route add default via 192.168.182.254 dev eth1',
    ]
    # run after the bridge was recreated, which comes up down
    assert reverse[:3] == ['route del default via 192.168.182.254 dev eth1',
                           'route del 10.99.0.0/16 via 192.168.182.200 dev eth1 metric 50',
                           'address del 192.168.182.151/25 dev eth1']
    assert reverse[3] == 'link set dev br-ex up'
    assert len(moved['routes']) == 2


def test_device_routes_come_before_gateway_routes():
    routes = [
        {'family': 'inet', 'dst': 'default', 'gateway': '10.9.0.1', 'dev': 'eth1'},
        {'family': 'inet', 'dst': '10.9.0.0/24', 'gateway': None, 'dev': 'eth1', 'scope': 'link'},
    ]
    links = {'eth1': {'addresses': [], 'up': True}, 'br': {'addresses': [], 'up': True}}
    forward = ovs.plan_move('eth1', 'br', links, routes)[0]
    assert forward == ['route del default via 10.9.0.1 dev eth1', 'route del 10.9.0.0/24 dev eth1',
                       'route add 10.9.0.0/24 dev br scope link',
                       'route add default via 10.9.0.1 dev br']


# ------------------------------------------------------------------ sysctls and the connection guard

@pytest.mark.parametrize('datapath,current,expected', [
    ('netdev', {}, [('net.ipv4.conf.eth1.rp_filter', '1', None),
                    ('net.ipv4.conf.eth1.arp_ignore', '1', None),
                    ('net.ipv6.conf.eth1.disable_ipv6', '1', None)]),
    ('netdev', {'net.ipv4.conf.eth1.rp_filter': '1', 'net.ipv4.conf.eth1.arp_ignore': '0',
                'net.ipv6.conf.eth1.disable_ipv6': '1'},
     [('net.ipv4.conf.eth1.arp_ignore', '1', '0')]),
    ('system', {}, []),
])
def test_plan_sysctls(datapath, current, expected):
    assert ovs.plan_sysctls('eth1', datapath, current) == expected


@pytest.mark.parametrize('ssh,route_dev,hit', [
    ('10.0.100.1 50000 192.168.182.151 22', 'eth0', 'Ansible is connected to 192.168.182.151'),
    ('192.168.182.10 50000 10.0.100.146 22', 'eth1', 'the route back to the Ansible controller'),
    ('10.0.100.1 50000 10.0.100.146 22', 'eth0', None),
    (None, None, None),
    ('garbage', None, None),
])
def test_connection_guard(ssh, route_dev, hit):
    reason = ovs.connection_interface_hit(ssh, 'eth1', BEFORE_LINKS, route_dev)
    assert (reason is None) if hit is None else reason.startswith(hit)


def test_connection_guard_ignores_an_interface_without_addresses():
    assert ovs.connection_interface_hit('192.168.182.10 1 10.0.100.146 22', 'eth1', AFTER_LINKS,
                                        'eth1') is None


# ------------------------------------------------------------------ persistent configuration

def test_render_ifupdown():
    addresses = AFTER_LINKS['br-ex']['addresses']
    files = ovs.render_ifupdown('br-ex', 'eth1', 'netdev', MAC, addresses, AFTER_ROUTES)
    assert list(files) == ['/etc/network/interfaces.d/br-ex']
    text = files['/etc/network/interfaces.d/br-ex']
    assert text.splitlines()[1:] == [
        'auto br-ex',
        'allow-ovs br-ex',
        'iface br-ex inet static',
        '    address 192.168.182.151/25',
        '    gateway 192.168.182.254',
        '    ovs_type OVSBridge',
        '    ovs_ports eth1',
        '    ovs_extra set Bridge ${IFACE} datapath_type=netdev -- set Bridge ${IFACE} '
        'other_config:hwaddr=%s' % MAC,
        '    up ip route add 10.99.0.0/16 via 192.168.182.200 dev br-ex metric 50',
        '',
        'allow-br-ex eth1',
        'iface eth1 inet manual',
        '    ovs_bridge br-ex',
        '    ovs_type OVSPort',
        '    pre-up sysctl -q -w net.ipv4.conf.eth1.rp_filter=1',
        '    pre-up sysctl -q -w net.ipv4.conf.eth1.arp_ignore=1',
        '    pre-up sysctl -q -w net.ipv6.conf.eth1.disable_ipv6=1',
    ]


def test_render_ifcfg_as_in_the_guide():
    addresses = AFTER_LINKS['br-ex']['addresses']
    files = ovs.render_ifcfg('br-ex', 'eth1', 'system', None, addresses, AFTER_ROUTES)
    base = '/etc/sysconfig/network-scripts/'
    assert sorted(files) == [base + 'ifcfg-br-ex', base + 'ifcfg-eth1', base + 'route-br-ex']
    bridge = files[base + 'ifcfg-br-ex'].splitlines()
    for line in ('DEVICE=br-ex', 'TYPE=OVSBridge', 'DEVICETYPE=ovs', 'BOOTPROTO=static',
                 'IPADDR=192.168.182.151', 'PREFIX=25', 'GATEWAY=192.168.182.254', 'ONBOOT=yes'):
        assert line in bridge
    assert 'OVS_BRIDGE=br-ex' in files[base + 'ifcfg-eth1'].splitlines()
    assert files[base + 'route-br-ex'].splitlines()[1] == '10.99.0.0/16 via 192.168.182.200 dev br-ex metric 50'


def test_describe_for_the_diff():
    view = ovs.describe('br-ex', NODE, AFTER_LINKS, AFTER_ROUTES, ['br-ex', 'eth1'])
    assert view['bridge']['ports'] == {'eth1': {'type': 'system', 'options': {}, 'tag': None}}
    assert view['addresses'] == {'br-ex': ['192.168.182.151/25'], 'eth1': []}
    assert view['routes'] == ['default via 192.168.182.254 dev br-ex',
                              '10.99.0.0/16 via 192.168.182.200 dev br-ex metric 50']
    assert ovs.describe('br-x', EMPTY, {}, [], ['br-x'])['bridge'] is None
