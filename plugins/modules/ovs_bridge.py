#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudlab.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: ovs_bridge
short_description: Open vSwitch bridge, its ports, and moving the uplink's IP onto it safely
version_added: 0.1.0
description:
  - Creates, updates or removes an Open vSwitch bridge with its datapath type, fail mode,
    C(external_ids), C(other_config) and ports, in one C(ovs-vsctl) transaction.
  - With O(uplink), attaches a physical NIC and moves its addresses and routes (the default route
    included) onto the bridge in one C(ip -batch), so the node stays reachable, then checks
    connectivity with a probe and rolls everything back if the probe fails.
  - Refuses to move the interface that carries the Ansible connection unless
    O(allow_connection_interface=true).
  - Optionally writes the operating system's persistent network configuration.
author:
  - cloudlab.openstack contributors (!UNKNOWN)
requirements:
  - ovs-vsctl (Open vSwitch), ip (iproute2) on the managed node
  - ping (iputils) when a probe runs; sysctl (procps) for the netdev datapath uplink
attributes:
  check_mode:
    support: full
    description: Returns the exact commands it would run in RV(commands).
  diff_mode:
    support: full
    description: Bridge, ports, addresses and routes before and after; persisted files.
options:
  bridge:
    description: Name of the bridge.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the bridge, V(absent) deletes it.
      - With V(absent) and O(uplink) and O(migrate_ip), the bridge's addresses and routes are
        given back to the uplink after the bridge is deleted.
    type: str
    choices: [present, absent]
    default: present
  datapath_type:
    description:
      - V(system) is the kernel datapath; V(netdev) the userspace datapath (needed where the
        kernel has no openvswitch module, as in the lab's containers).
      - Left unset, an existing bridge keeps its type and a new one gets V(system).
    type: str
    choices: [system, netdev]
  fail_mode:
    description: The bridge's fail mode; unset leaves it as it is.
    type: str
    choices: [standalone, secure]
  external_ids:
    description:
      - Keys to set on the bridge's C(external_ids). A key with a null value is removed. Keys not
        named are left alone (the neutron agents add their own).
    type: dict
  other_config:
    description:
      - Keys to set on the bridge's C(other_config), with the semantics of O(external_ids).
      - With O(uplink), C(hwaddr) defaults to the uplink's MAC address, so the bridge answers with
        the MAC its neighbours already know.
    type: dict
  ports:
    description:
      - Ports to have on the bridge. A port that sits on another bridge is moved. Ports not
        listed are left alone.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Port (and interface) name.
        type: str
        required: true
      type:
        description: Interface type; unset means a system interface (an existing NIC).
        type: str
        choices: [internal, patch, gre, vxlan]
      options:
        description:
          - Interface options (C(peer) for patch ports, C(remote_ip), C(local_ip), C(key),
            C(dst_port) for tunnels). When given, the options are set exactly as listed.
        type: dict
      tag:
        description: VLAN tag of the port (access port); unset leaves it as it is.
        type: int
  uplink:
    description:
      - A physical NIC to attach to the bridge (for instance C(eth1) under C(br-ex)).
      - On the V(netdev) datapath the module also sets C(rp_filter=1), C(arp_ignore=1) and
        C(disable_ipv6=1) on it, else the kernel, which still sees its frames, answers too.
    type: str
  migrate_ip:
    description:
      - Move the uplink's global addresses and its routes in the main table (the default route
        included) onto the bridge.
      - Without it, an uplink that carries addresses is attached as it is, which is what leaves a
        node unreachable on the kernel datapath.
    type: bool
    default: true
  allow_connection_interface:
    description:
      - Allow moving the addresses of the interface that carries the Ansible connection, found
        from C(SSH_CONNECTION) (the address Ansible connected to, and the route back to it).
    type: bool
    default: false
  probe:
    description:
      - After addresses moved, ping this address until it answers or O(probe_timeout) passes;
        if it never answers, every change is rolled back and the task fails.
      - Defaults to the default gateway that moved. With no gateway and no probe, no probe runs.
    type: str
  probe_timeout:
    description: Seconds the probe may take.
    type: int
    default: 10
  persist:
    description:
      - Write the bridge's addresses and routes, and the uplink as its port, to the operating
        system's network configuration so they survive a reboot (the OVS database already keeps
        bridges and ports). V(ifupdown) writes C(/etc/network/interfaces.d/<bridge>) (Debian, with
        openvswitch-switch's ifupdown hooks); V(ifcfg) writes C(/etc/sysconfig/network-scripts/)
        files (RedHat family network-scripts, not proven by this collection's tests);
        V(auto) picks by the files present. With O(state=absent) the files are removed.
    type: str
    choices: [none, auto, ifupdown, ifcfg]
    default: none
  timeout:
    description: Seconds ovs-vsctl waits for ovsdb-server and ovs-vswitchd.
    type: int
    default: 5
notes:
  - Only the main routing table and single-path routes are moved; IPv4 and global IPv6 addresses.
  - Addresses given by DHCP are moved as static ones; the DHCP client must then run on the bridge.
'''

EXAMPLES = r'''
- name: Integration bridge on the userspace datapath
  cloudlab.openstack.ovs_bridge:
    bridge: br-int
    datapath_type: netdev
    fail_mode: secure

- name: External bridge on eth1, its IP and default route moved onto it, kept across reboots
  cloudlab.openstack.ovs_bridge:
    bridge: br-ex
    datapath_type: netdev
    uplink: eth1
    persist: auto

- name: Tunnel bridge with a patch port and a GRE port
  cloudlab.openstack.ovs_bridge:
    bridge: br-tun
    ports:
      - name: patch-int
        type: patch
        options: {peer: patch-tun}
      - name: gre-0a006493
        type: gre
        options: {remote_ip: 10.0.100.147, key: flow}

- name: Remove br-ex and give its address back to eth1
  cloudlab.openstack.ovs_bridge:
    bridge: br-ex
    uplink: eth1
    state: absent
'''

RETURN = r'''
commands:
  description:
    - The commands run (or, in check mode, that would run), in order. Consecutive C(ip ...)
      lines run as one C(ip -batch -); C(sysctl -w) lines write C(/proc/sys).
  returned: always
  type: list
  elements: str
  sample:
    - ovs-vsctl -t 5 -- --may-exist add-br br-ex -- set Bridge br-ex datapath_type=netdev
    - ip route del default via 192.168.182.254 dev eth1
    - ip address del 192.168.182.151/25 dev eth1
moved:
  description: Addresses (CIDR) and routes that moved between the uplink and the bridge.
  returned: always
  type: dict
  sample: {addresses: [192.168.182.151/25], routes: [default via 192.168.182.254 dev eth1]}
probe:
  description: The probe that ran (address, answered, attempts, seconds), or null.
  returned: always
  type: dict
persisted:
  description: Files written or removed by O(persist).
  returned: always
  type: list
  elements: str
rolled_back:
  description: Whether a failure made the module undo its changes (on failed tasks).
  returned: failure
  type: bool
rollback_errors:
  description: Errors met while undoing (empty when the rollback went through).
  returned: failure
  type: list
  elements: str
'''

import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cloudlab.openstack.plugins.module_utils.ovs import (
    VSCTL_READ,
    connection_interface_hit,
    default_gateway,
    describe,
    effective_other_config,
    parse_ip_addr,
    parse_ip_routes,
    parse_route_get_dev,
    parse_vsctl_tables,
    plan_move,
    plan_ovs,
    plan_ovs_rollback,
    plan_sysctls,
    predict_state,
    render_command,
    render_ifcfg,
    render_ifupdown,
    route_spec,
    sysctl_key,
    sysctl_path,
    vsctl_argv,
    NETDEV_UPLINK_SYSCTLS,
)


class Runner:
    """Runs commands through module.run_command and fails with what to fix."""

    def __init__(self, module):
        self.module = module
        self.vsctl = module.get_bin_path('ovs-vsctl', required=True)
        self.ip = module.get_bin_path('ip', required=True)

    def run(self, argv, what, data=None, fail=True):
        rc, out, err = self.module.run_command(argv, data=data, binary_data=False)
        if rc != 0 and fail:
            self.module.fail_json(msg='%s failed (rc=%d): %s' % (what, rc, (err or out).strip()),
                                  cmd=render_command(argv))
        return rc, out, err

    def read_ovs(self):
        rc, out, err = self.run([self.vsctl, '-t', str(self.module.params['timeout'])] + VSCTL_READ,
                                'reading the OVS database', fail=False)
        if rc != 0:
            self.module.fail_json(msg='Cannot read the OVS database: %s. Is openvswitch-switch '
                                      '(ovsdb-server and ovs-vswitchd) running?' % err.strip())
        return parse_vsctl_tables(out)

    def read_ip(self):
        links = parse_ip_addr(self.run([self.ip, '-j', 'address', 'show'], 'ip address show')[1])
        routes = []
        for family, flag in (('inet', '-4'), ('inet6', '-6')):
            out = self.run([self.ip, '-j', flag, 'route', 'show', 'table', 'main'],
                           'ip route show')[1]
            routes += parse_ip_routes(out, family)
        return links, routes

    def route_dev(self, address):
        rc, out, dummy = self.run([self.ip, '-j', 'route', 'get', address], 'ip route get', fail=False)
        return parse_route_get_dev(out) if rc == 0 else None


def read_sysctls(uplink):
    values = {}
    for template, dummy in NETDEV_UPLINK_SYSCTLS:
        key = sysctl_key(template, uplink)
        try:
            with open(sysctl_path(key)) as handle:
                values[key] = handle.read().strip()
        except (IOError, OSError):
            values[key] = None
    return values


def probe(module, ping, target, timeout):
    """Ping target until it answers or timeout seconds pass."""
    start = time.time()
    attempts = 0
    while True:
        attempts += 1
        rc, dummy, dummy_err = module.run_command([ping, '-c', '1', '-W', '1', '-n', target])
        elapsed = round(time.time() - start, 2)
        if rc == 0:
            return {'address': target, 'answered': True, 'attempts': attempts, 'seconds': elapsed}
        if elapsed >= timeout:
            return {'address': target, 'answered': False, 'attempts': attempts, 'seconds': elapsed}
        time.sleep(0.2)


def persist_format(choice):
    if choice != 'auto':
        return choice
    if os.path.exists('/etc/network/interfaces') or os.path.isdir('/etc/network/interfaces.d'):
        return 'ifupdown'
    if os.path.isdir('/etc/sysconfig/network-scripts'):
        return 'ifcfg'
    return None


def read_file(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def write_file(module, path, content):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.ovs_bridge.')
    with os.fdopen(fd, 'w') as handle:
        handle.write(content)
    os.chmod(tmp, 0o644)
    module.atomic_move(tmp, path)


def plan_changes(module, runner):
    """want + have -> everything that would change (nothing runs here but reads)."""
    p = module.params
    keys = ('bridge', 'state', 'datapath_type', 'fail_mode', 'external_ids', 'other_config',
            'ports', 'uplink')
    want = dict((k, p[k]) for k in keys)
    bridge, uplink = p['bridge'], p['uplink']
    if uplink and (uplink == bridge or uplink in [port['name'] for port in p['ports']]):
        module.fail_json(msg='uplink %s must be a NIC other than the bridge and not in ports' % uplink)
    state = runner.read_ovs()
    links, routes = runner.read_ip()
    present = p['state'] == 'present'
    if present and uplink and uplink not in links:
        module.fail_json(msg='uplink %s does not exist on this node (ip link shows: %s)'
                             % (uplink, ', '.join(sorted(links))))

    other_config = effective_other_config(want, links) if present else None
    after_state = predict_state(want, state, other_config)
    plan = dict(want=want, state=state, links=links, routes=routes, present=present,
                other_config=other_config, after_state=after_state,
                transaction=plan_ovs(want, state, other_config),
                datapath=(after_state['bridges'].get(bridge) or {}).get('datapath_type'),
                forward=[], reverse=[], moved={'addresses': [], 'routes': []})
    if uplink and p['migrate_ip']:
        if present:
            plan['forward'], plan['reverse'], plan['moved'] = plan_move(uplink, bridge, links, routes)
        elif bridge in state['bridges']:
            # del-br takes the bridge's device, addresses and routes with it: the batch only adds.
            plan['forward'], plan['reverse'], plan['moved'] = plan_move(bridge, uplink, links, routes,
                                                                        src_gone=True)
    plan['attaching'] = bool(present and uplink and state['port_bridge'].get(uplink) != bridge)
    if plan['attaching'] and links[uplink]['addresses'] and not p['migrate_ip']:
        module.warn('%s keeps its addresses; with migrate_ip=false they may stop working once it '
                    'is an OVS port' % uplink)
    if present and uplink and not links[uplink]['up'] \
            and not any('dev %s up' % uplink in line for line in plan['forward']):
        plan['forward'].insert(0, 'link set dev %s up' % uplink)
    plan['sysctls'] = plan_sysctls(uplink, plan['datapath'], read_sysctls(uplink)) if present and uplink else []
    plan['files'] = plan_files(module, plan)
    plan['target'] = p['probe'] or default_gateway(plan['moved']['routes'])
    plan['probing'] = bool(plan['target'] and (plan['forward'] or p['probe'] and plan['transaction'] and uplink))
    if plan['forward'] and not plan['target']:
        module.warn('no probe: no default gateway moved and no probe address given')
    return plan


def check_connection(module, runner, plan):
    """Refuse to cut the branch Ansible sits on: moving the addresses of the interface it is
    connected through (attaching an uplink that keeps its addresses cuts them too, on the kernel
    datapath)."""
    p = module.params
    if p['allow_connection_interface']:
        return
    if not (plan['moved']['addresses'] or (plan['attaching'] and not p['migrate_ip'])):
        return
    source = p['uplink'] if plan['present'] else p['bridge']
    ssh = os.environ.get('SSH_CONNECTION')
    client = ssh.split()[0] if ssh else None
    hit = connection_interface_hit(ssh, source, plan['links'], runner.route_dev(client) if client else None)
    if hit:
        module.fail_json(msg='Refusing to move the addresses of %s: %s. Connect through another '
                             'interface, or set allow_connection_interface=true if the '
                             'connection may drop.' % (source, hit))


def plan_files(module, plan):
    """{path: (old content or None, new content or None)} for persist."""
    p = module.params
    if p['persist'] == 'none':
        return {}
    fmt = persist_format(p['persist'])
    if fmt is None:
        module.fail_json(msg='persist=auto found neither /etc/network/interfaces (ifupdown) nor '
                             '/etc/sysconfig/network-scripts (ifcfg); choose persist explicitly')
    bridge, uplink, present = p['bridge'], p['uplink'], plan['present']
    moved = plan['moved'] if present else {'addresses': [], 'routes': []}
    addresses = plan['links'].get(bridge, {}).get('addresses', []) + moved['addresses']
    routes = [r for r in plan['routes'] if r['dev'] == bridge] + moved['routes']
    hwaddr = (plan['other_config'] or {}).get('hwaddr') if uplink else None
    render = render_ifupdown if fmt == 'ifupdown' else render_ifcfg
    files = {}
    for path, content in sorted(render(bridge, uplink, plan['datapath'] or 'system', hwaddr,
                                       addresses, routes).items()):
        old = read_file(path)
        if present and old != content:
            files[path] = (old, content)
        elif not present and old is not None:
            files[path] = (old, None)
    return files


def build_diff(module, plan):
    """Bridge, ports, and the addresses and routes of bridge and uplink, before and after."""
    bridge, uplink = module.params['bridge'], module.params['uplink']
    names = [bridge] + ([uplink] if uplink else [])
    links, routes, moved = plan['links'], plan['routes'], plan['moved']
    after_links, after_routes = dict(links), list(routes)
    if moved['addresses'] or moved['routes']:
        src, dst = (uplink, bridge) if plan['present'] else (bridge, uplink)
        after_links[src] = dict(links.get(src, {}), addresses=[])
        after_links[dst] = dict(links.get(dst, {}))
        after_links[dst]['addresses'] = after_links[dst].get('addresses', []) + moved['addresses']
        after_routes = [dict(r, dev=dst) if r['dev'] == src else r for r in routes]
    diffs = [{'before_header': 'ovs bridge %s' % bridge, 'after_header': 'ovs bridge %s' % bridge,
              'before': describe(bridge, plan['state'], links, routes, names),
              'after': describe(bridge, plan['after_state'], after_links, after_routes, names)}]
    for path, (old, new) in sorted(plan['files'].items()):
        diffs.append({'before_header': path, 'after_header': path, 'before': old or '', 'after': new or ''})
    return diffs


class Applier:
    """Runs the plan: OVS transaction, ip batch, sysctls, probe; undoes all of it on failure."""

    def __init__(self, module, runner, plan, result):
        self.module, self.runner, self.plan, self.result = module, runner, plan, result
        self.timeout = module.params['timeout']
        # Found before anything changes: a missing binary must not strike between change and rollback.
        self.ping = module.get_bin_path('ping', required=True) if plan['probing'] else None
        self.sysctl = module.get_bin_path('sysctl', required=True) if plan['sysctls'] else None
        self.done = []

    def run(self):
        plan, runner = self.plan, self.runner
        if plan['transaction']:
            rc, dummy, err = runner.run([runner.vsctl] + vsctl_argv(plan['transaction'], self.timeout),
                                        'ovs-vsctl', fail=False)
            if rc != 0:
                self.result['changed'] = False
                self.module.fail_json(msg='ovs-vsctl transaction failed, nothing changed: %s' % err.strip(),
                                      **self.result)
            self.done.append('ovs')
            if err.strip():
                self.module.warn('ovs-vsctl: %s' % err.strip())
        if plan['forward']:
            self.done.append('ip')
            rc, dummy, err = runner.run([runner.ip, '-batch', '-'], 'ip -batch',
                                        data='\n'.join(plan['forward']) + '\n', fail=False)
            if rc != 0:
                self.rollback('ip -batch failed: %s' % err.strip())
        if plan['sysctls']:
            self.done.append('sysctl')
            for key, value, dummy in plan['sysctls']:
                rc, dummy, err = runner.run([self.sysctl, '-w', '%s=%s' % (key, value)], 'sysctl', fail=False)
                if rc != 0:
                    self.rollback('sysctl %s failed: %s' % (key, err.strip()))
        if plan['probing']:
            timeout = self.module.params['probe_timeout']
            self.result['probe'] = probe(self.module, self.ping, plan['target'], timeout)
            if not self.result['probe']['answered']:
                self.rollback('probe: %s did not answer within %ss after the change' % (plan['target'], timeout))
        for path, (dummy, new) in sorted(plan['files'].items()):
            if new is None:
                os.remove(path)
            else:
                write_file(self.module, path, new)

    def rollback(self, reason):
        plan, runner, errors = self.plan, self.runner, []
        if 'sysctl' in self.done:
            for key, dummy, old in plan['sysctls']:
                if old is not None:
                    rc, dummy_out, err = runner.run([self.sysctl, '-w', '%s=%s' % (key, old)], 'sysctl',
                                                    fail=False)
                    if rc:
                        errors.append(err.strip())
        # present: addresses back while the uplink is still a port, then the bridge;
        # absent: the bridge recreated first, then its addresses back onto it.
        for step in (['ip', 'ovs'] if plan['present'] else ['ovs', 'ip']):
            if step == 'ip' and 'ip' in self.done and plan['reverse']:
                # -force: carry on past lines the failed batch never reached
                rc, dummy, err = runner.run([runner.ip, '-force', '-batch', '-'], 'ip -batch',
                                            data='\n'.join(plan['reverse']) + '\n', fail=False)
                if rc:
                    errors.append(err.strip())
            if step == 'ovs' and 'ovs' in self.done:
                undo = plan_ovs_rollback(plan['want'], plan['state'])
                if undo:
                    rc, dummy, err = runner.run([runner.vsctl] + vsctl_argv(undo, self.timeout), 'ovs-vsctl',
                                                fail=False)
                    if rc:
                        errors.append(err.strip())
        msg = '%s; rolled back to the previous state' % reason
        if errors:
            msg += ' (rollback errors: %s)' % '; '.join(errors)
        self.result.update(rolled_back=True, rollback_errors=errors)
        self.result.pop('diff', None)
        self.module.fail_json(msg=msg, **self.result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            bridge=dict(type='str', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            datapath_type=dict(type='str', choices=['system', 'netdev']),
            fail_mode=dict(type='str', choices=['standalone', 'secure']),
            external_ids=dict(type='dict'),
            other_config=dict(type='dict'),
            ports=dict(type='list', elements='dict', default=[], options=dict(
                name=dict(type='str', required=True),
                type=dict(type='str', choices=['internal', 'patch', 'gre', 'vxlan']),
                options=dict(type='dict'),
                tag=dict(type='int'),
            )),
            uplink=dict(type='str'),
            migrate_ip=dict(type='bool', default=True),
            allow_connection_interface=dict(type='bool', default=False),
            probe=dict(type='str'),
            probe_timeout=dict(type='int', default=10),
            persist=dict(type='str', default='none', choices=['none', 'auto', 'ifupdown', 'ifcfg']),
            timeout=dict(type='int', default=5),
        ),
        supports_check_mode=True,
    )
    runner = Runner(module)
    plan = plan_changes(module, runner)
    check_connection(module, runner, plan)

    # In the order they run; consecutive ip lines are one `ip -batch`.
    commands = []
    if plan['transaction']:
        commands.append(render_command(['ovs-vsctl'] + vsctl_argv(plan['transaction'], module.params['timeout'])))
    commands += ['ip ' + line for line in plan['forward']]
    commands += [render_command(['sysctl', '-w', '%s=%s' % (key, value)]) for key, value, dummy in plan['sysctls']]
    result = dict(changed=bool(commands or plan['files']), commands=commands, probe=None,
                  persisted=sorted(plan['files']),
                  moved={'addresses': [a['cidr'] for a in plan['moved']['addresses']],
                         'routes': [route_spec(r) for r in plan['moved']['routes']]})
    if module._diff:
        result['diff'] = build_diff(module, plan)
    if result['changed']:
        applier = Applier(module, runner, plan, result)  # finds ping/sysctl, in check mode too
        if not module.check_mode:
            applier.run()
    module.exit_json(**result)


if __name__ == '__main__':
    main()
