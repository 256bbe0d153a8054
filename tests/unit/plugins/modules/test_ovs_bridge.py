# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovs_bridge main(): which commands run, in which order, what check mode returns, the guard and
the rollback. The node is simulated with output recorded from a real OVS and kernel
(../module_utils/fixtures/ovs/); the real thing is exercised by tests/integration/test_ovs_bridge.py."""
import json
from pathlib import Path
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cloudlab.openstack.plugins.modules import ovs_bridge

FIX = Path(__file__).parents[1] / 'module_utils' / 'fixtures' / 'ovs'


class Done(Exception):
    """Raised instead of exit_json/fail_json, keeping their keyword arguments."""

    def __init__(self, ok, kwargs):
        super(Done, self).__init__(kwargs.get('msg'))
        self.ok = ok
        self.kwargs = kwargs


def _exit(self, **kwargs):
    raise Done(True, kwargs)


def _fail(self, **kwargs):
    raise Done(False, kwargs)


class FakeNode:
    """Answers the module's commands from recorded output and logs every change command."""

    def __init__(self, recording, ping_ok=True, batch_rc=0):
        self.vsctl_out = (FIX / ('vsctl_empty.txt' if recording == 'before' else
                                 'vsctl_network_node.txt')).read_text()
        self.ip = dict((k, (FIX / ('ip_%s_%s.json' % (recording, k))).read_text())
                       for k in ('addr', 'route4', 'route6'))
        self.ping_ok = ping_ok
        self.batch_rc = batch_rc
        self.changes = []

    def run_command(self, argv, data=None):
        name = Path(argv[0]).name
        if name == 'ovs-vsctl' and '--format=json' in argv:
            return 0, self.vsctl_out, ''
        if name == 'ip' and argv[1] == '-j':
            if argv[2] == 'address':
                return 0, self.ip['addr'], ''
            if argv[3] == 'route' and argv[4] == 'get':
                return 0, (FIX / 'ip_route_get_via_eth1.json').read_text(), ''
            return 0, self.ip['route4' if argv[2] == '-4' else 'route6'], ''
        if name == 'ping':
            return (0 if self.ping_ok else 1), '', ''
        self.changes.append((name, argv[1:], data))
        if name == 'ip' and '-force' not in argv:
            return self.batch_rc, '', 'RTNETLINK answers: File exists' if self.batch_rc else ''
        return 0, '', ''


def execute(args, node, sysctls=None, env=None, files=None, missing=()):
    """Run main() against node; returns (ok, result, the write_file mock)."""
    environ = dict((k, v) for k, v in ovs_bridge.os.environ.items() if k != 'SSH_CONNECTION')
    environ.update(env or {})
    files = files or {}

    def run_command(dummy_module, argv, data=None, **dummy_kwargs):
        return node.run_command(argv, data)

    def get_bin_path(module, name, required=False, **dummy_kwargs):
        if name in missing:
            if required:
                module.fail_json(msg='Failed to find required executable "%s"' % name)
            return None
        return '/usr/bin/' + name

    with patch_module_args(dict(args)), \
            mock.patch.object(basic.AnsibleModule, 'run_command', run_command), \
            mock.patch.object(basic.AnsibleModule, 'get_bin_path', get_bin_path), \
            mock.patch.object(basic.AnsibleModule, 'exit_json', _exit), \
            mock.patch.object(basic.AnsibleModule, 'fail_json', _fail), \
            mock.patch.object(ovs_bridge, 'read_sysctls', lambda uplink: dict(sysctls or {})), \
            mock.patch.object(ovs_bridge, 'read_file', files.get), \
            mock.patch.object(ovs_bridge, 'write_file') as write, \
            mock.patch.object(ovs_bridge.time, 'sleep'), \
            mock.patch.dict('os.environ', environ, clear=True):
        with pytest.raises(Done) as caught:
            ovs_bridge.main()
    return caught.value.ok, caught.value.kwargs, write


BR_EX = {'bridge': 'br-ex', 'datapath_type': 'netdev', 'uplink': 'eth1'}
NETDEV_SYSCTLS_ON = {'net.ipv4.conf.eth1.rp_filter': '1', 'net.ipv4.conf.eth1.arp_ignore': '1',
                     'net.ipv6.conf.eth1.disable_ipv6': '1'}
FORWARD = [
    'route del default via 192.168.182.254 dev eth1',
    'route del 10.99.0.0/16 via 192.168.182.200 dev eth1 metric 50',
    'address del 192.168.182.151/25 dev eth1',
    'link set dev br-ex up',
    'address add 192.168.182.151/25 dev br-ex',
    'route add 10.99.0.0/16 via 192.168.182.200 dev br-ex metric 50',
    'route add default via 192.168.182.254 dev br-ex',
]


def test_check_mode_returns_the_exact_commands_and_changes_nothing():
    node = FakeNode('before')
    ok, result, write = execute(dict(BR_EX, _ansible_check_mode=True), node)
    assert ok and result['changed']
    mac = json.loads(node.ip['addr'])[1]['address']  # eth1's MAC in the recording
    assert result['commands'] == [
        'ovs-vsctl -t 5 -- --may-exist add-br br-ex -- set Bridge br-ex datapath_type=netdev '
        '\'other_config:hwaddr="%s"\' -- --may-exist add-port br-ex eth1' % mac,
    ] + ['ip ' + line for line in FORWARD] + [
        'sysctl -w net.ipv4.conf.eth1.rp_filter=1',
        'sysctl -w net.ipv4.conf.eth1.arp_ignore=1',
        'sysctl -w net.ipv6.conf.eth1.disable_ipv6=1',
    ]
    assert result['moved']['addresses'] == ['192.168.182.151/25']
    assert node.changes == []
    write.assert_not_called()


def test_converged_node_reports_no_change():
    node = FakeNode('after')
    ok, result, dummy = execute(dict(BR_EX, _ansible_check_mode=True), node, sysctls=NETDEV_SYSCTLS_ON)
    assert ok and not result['changed'] and result['commands'] == []
    ok, result, dummy = execute(BR_EX, node, sysctls=NETDEV_SYSCTLS_ON)
    assert ok and not result['changed'] and node.changes == []


def test_apply_runs_one_transaction_one_batch_then_probes():
    node = FakeNode('before')
    ok, result, dummy = execute(BR_EX, node)
    assert ok and result['changed']
    names = [c[0] for c in node.changes]
    assert names == ['ovs-vsctl', 'ip', 'sysctl', 'sysctl', 'sysctl']
    assert node.changes[1] == ('ip', ['-batch', '-'], '\n'.join(FORWARD) + '\n')
    assert result['probe']['address'] == '192.168.182.254' and result['probe']['answered']


def test_failed_probe_rolls_everything_back():
    node = FakeNode('before', ping_ok=False)
    ok, result, dummy = execute(dict(BR_EX, probe='192.168.182.253', probe_timeout=0), node)
    assert not ok and result['rolled_back']
    assert 'probe: 192.168.182.253 did not answer' in result['msg']
    undo = node.changes[5:]
    # The sysctls had no value before (None): nothing to put back. The addresses go back while
    # the uplink is still a port, then the bridge goes.
    assert [c[0] for c in undo] == ['ip', 'ovs-vsctl']
    assert undo[0] == ('ip', ['-force', '-batch', '-'],
                       'route del default via 192.168.182.254 dev br-ex\n'
                       'route del 10.99.0.0/16 via 192.168.182.200 dev br-ex metric 50\n'
                       'address del 192.168.182.151/25 dev br-ex\n'
                       'address add 192.168.182.151/25 dev eth1\n'
                       'route add 10.99.0.0/16 via 192.168.182.200 dev eth1 metric 50\n'
                       'route add default via 192.168.182.254 dev eth1\n')
    assert undo[-1] == ('ovs-vsctl', ['-t', '5', '--', '--if-exists', 'del-br', 'br-ex'], None)


def test_rollback_puts_the_old_sysctl_values_back():
    node = FakeNode('before', ping_ok=False)
    old = {'net.ipv4.conf.eth1.rp_filter': '2', 'net.ipv4.conf.eth1.arp_ignore': '0',
           'net.ipv6.conf.eth1.disable_ipv6': '0'}
    ok, result, dummy = execute(dict(BR_EX, probe_timeout=0), node, sysctls=old)
    assert not ok and 'probe: 192.168.182.254 did not answer' in result['msg']
    assert [c for c in node.changes if c[0] == 'sysctl'][3:] == [
        ('sysctl', ['-w', '%s=%s' % item], None) for item in old.items()]


def test_missing_ping_fails_before_anything_changes():
    node = FakeNode('before')
    ok, result, dummy = execute(BR_EX, node, missing=('ping',))
    assert not ok and 'ping' in result['msg'] and node.changes == []


def test_failed_batch_rolls_back_without_probing():
    node = FakeNode('before', batch_rc=2)
    ok, result, dummy = execute(BR_EX, node)
    assert not ok and result['rolled_back'] and 'ip -batch failed' in result['msg']
    assert [c[0] for c in node.changes] == ['ovs-vsctl', 'ip', 'ip', 'ovs-vsctl']


@pytest.mark.parametrize('ssh,allowed,refused', [
    ('10.0.100.1 40000 192.168.182.151 22', False, True),
    ('10.0.100.1 40000 192.168.182.151 22', True, False),
    ('192.168.182.10 40000 10.0.100.146 22', False, True),  # route back via eth1 (recorded)
])
def test_connection_interface_guard(ssh, allowed, refused):
    node = FakeNode('before')
    ok, result, dummy = execute(dict(BR_EX, allow_connection_interface=allowed, _ansible_check_mode=True),
                                node, env={'SSH_CONNECTION': ssh})
    assert ok is not refused
    if refused:
        assert result['msg'].startswith('Refusing to move the addresses of eth1')
        assert 'allow_connection_interface=true' in result['msg']


def test_guard_ignores_an_uplink_already_attached():
    """eth1 keeps its address on br-ex (migrate_ip=false) and Ansible connects to it: changing
    the bridge's columns moves nothing, so nothing is refused."""
    node = FakeNode('before')
    node.vsctl_out = (FIX / 'vsctl_network_node.txt').read_text()
    ok, result, dummy = execute(dict(BR_EX, migrate_ip=False, external_ids={'k': 'v'},
                                     _ansible_check_mode=True),
                                node, env={'SSH_CONNECTION': '10.0.100.1 40000 192.168.182.151 22'},
                                sysctls=NETDEV_SYSCTLS_ON)
    assert ok and result['commands'] == ['ovs-vsctl -t 5 -- set Bridge br-ex external_ids:k=v']


def test_missing_uplink_is_a_clear_failure():
    ok, result, dummy = execute(dict(BR_EX, uplink='eth9'), FakeNode('before'))
    assert not ok and result['msg'].startswith('uplink eth9 does not exist on this node')


def test_absent_gives_the_addresses_back_to_the_uplink():
    node = FakeNode('after')
    ok, result, dummy = execute({'bridge': 'br-ex', 'uplink': 'eth1', 'state': 'absent',
                                 '_ansible_check_mode': True}, node)
    assert ok and result['commands'] == [
        'ovs-vsctl -t 5 -- --if-exists del-br br-ex',
        'ip address add 192.168.182.151/25 dev eth1',
        'ip route add 10.99.0.0/16 via 192.168.182.200 dev eth1 metric 50',
        'ip route add default via 192.168.182.254 dev eth1',
    ]


def test_diff_and_persist_in_check_mode():
    node = FakeNode('after')
    path = '/etc/network/interfaces.d/br-ex'
    ok, result, write = execute(dict(BR_EX, persist='ifupdown', _ansible_check_mode=True,
                                     _ansible_diff=True), node, sysctls=NETDEV_SYSCTLS_ON)
    assert ok and result['changed'] and result['commands'] == [] and result['persisted'] == [path]
    bridge_diff, file_diff = result['diff']
    assert bridge_diff['before'] == bridge_diff['after']
    assert file_diff['before'] == '' and 'address 192.168.182.151/25' in file_diff['after']
    write.assert_not_called()
    # the same file already there: nothing to do
    ok, result, write = execute(dict(BR_EX, persist='ifupdown'), node, sysctls=NETDEV_SYSCTLS_ON,
                                files={path: file_diff['after']})
    assert ok and not result['changed']
    write.assert_not_called()
