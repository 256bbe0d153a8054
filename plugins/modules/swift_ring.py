#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, cloudlab.openstack developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: swift_ring
short_description: Build, change and rebalance a swift ring declaratively
version_added: 0.1.0
description:
  - Creates a swift ring builder file (the guide's C(swift-ring-builder X.builder create 18 3 1)),
    makes its devices match O(devices) and rebalances it, with swift's own C(RingBuilder) (the code
    behind C(swift-ring-builder)), then writes the distributable C(.ring.gz).
  - Devices are identified by O(devices[].ip), O(devices[].port) and O(devices[].device).
    New ones are added; region, zone, weight, replication address and meta are updated in place.
  - A device that is no longer listed is drained first (weight set to 0, its partitions move away
    at the rebalance); it is removed on a later run, once it holds no partition, or at once with
    O(force=true).
  - Part power is never changed; a different O(replicas) is refused unless O(change_replicas=true).
  - Rebalances only when something is due, and respects C(min_part_hours). When a rebalance is due
    but C(min_part_hours) stops every partition move, the module does not fail and does not stay
    silent, it returns RV(rebalance.blocked=true) with the time to wait and warns.
  - Every builder and ring file written is also copied to C(backups/<unix time>.<name>) next to
    the builder, as C(swift-ring-builder) does; files are replaced atomically.
  - Needs swift's Python library on the target (Debian/Ubuntu package C(python3-swift)).
author:
  - cloudlab.openstack contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
requirements:
  - swift (Debian/Ubuntu package C(python3-swift)) on the target
attributes:
  check_mode:
    support: full
    details:
      - Computes the plan and runs the rebalance in memory to tell whether it would move partitions
        or be blocked; nothing is written. Partition counts of a predicted rebalance are random
        unless O(seed) is set.
  diff_mode:
    support: full
    details:
      - Shows ring settings and the device table before and after.
  platform:
    platforms: posix
options:
  builder:
    description:
      - Path of the builder file, for example C(/etc/swift/object.builder). The ring file is the
        same path with C(.ring.gz) instead of C(.builder).
      - Exactly one of O(builder) and O(ring) is required.
    type: path
  ring:
    description:
      - Name of the ring (C(account), C(container), C(object) or C(object-N) for a storage
        policy); the builder is O(path)/O(ring)C(.builder).
    type: str
  path:
    description:
      - Directory of the builder and ring files when O(ring) is used.
    type: path
    default: /etc/swift
  part_power:
    description:
      - Partition power (the ring has 2^part_power partitions). Needed to create the builder.
      - Checked against an existing builder; a difference is an error, never a silent change
        (increasing part power needs C(swift-ring-builder prepare_increase_partition_power) and
        relinking on every storage node).
    type: int
  replicas:
    description:
      - Replica count. Needed to create the builder.
      - Checked against an existing builder; a difference is an error unless O(change_replicas=true).
    type: float
  change_replicas:
    description:
      - Allow changing the replica count of an existing builder (C(swift-ring-builder set_replicas)
        followed by a rebalance). Off by default because it moves a large share of the data.
    type: bool
    default: false
  min_part_hours:
    description:
      - Hours during which a partition is not moved again after a move. Needed to create the
        builder; an existing builder takes the new value (C(swift-ring-builder set_min_part_hours)).
    type: int
  devices:
    description:
      - The devices the ring must hold. Omit to leave the devices as they are.
      - Devices in the builder that are not listed are drained, then removed (see O(force)).
    type: list
    elements: dict
    suboptions:
      region:
        description: Region of the device.
        type: int
        default: 1
      zone:
        description: Zone of the device.
        type: int
        required: true
      ip:
        description: IP address (or host name) the storage server listens on.
        type: str
        required: true
      port:
        description: Port of the account, container or object server.
        type: int
        required: true
      replication_ip:
        description: Address of the replication network; defaults to O(devices[].ip).
        type: str
      replication_port:
        description: Replication port; defaults to O(devices[].port).
        type: int
      device:
        description: Device name under the server's C(devices) directory, for example C(loop0).
        type: str
        required: true
      weight:
        description: Relative weight (how many partitions the device gets); 0 drains it.
        type: float
        required: true
      meta:
        description: Free text kept with the device.
        type: str
        default: ''
  force:
    description:
      - Remove devices that are no longer listed at once, without draining them first. Their
        partitions are reassigned at the next rebalance regardless of C(min_part_hours), as
        C(swift-ring-builder remove) does for a failed device.
    type: bool
    default: false
  rebalance:
    description:
      - V(auto) rebalances when something is due (new devices, changed weights or zones, devices
        being drained or removed, a ring never balanced, or a balance swift itself flags) and saves
        the result only when partitions moved, as C(swift-ring-builder rebalance) does.
      - V(never) only edits the builder; the result tells whether a rebalance is due.
      - V(force) rebalances and saves even when less than 1% changed (C(rebalance --force)).
        It still cannot move a partition twice within C(min_part_hours).
    type: str
    choices: [auto, never, force]
    default: auto
  seed:
    description:
      - Seed of the rebalance's random choices, for reproducible rings. The same value as
        C(swift-ring-builder rebalance --seed) gives the same ring.
    type: str
  state:
    description:
      - V(absent) deletes the builder and ring files (copied to C(backups/) first when O(backup)).
    type: str
    choices: [present, absent]
    default: present
  backup:
    description:
      - Copy every builder and ring file written (and files deleted by O(state=absent)) to
        C(backups/<unix time>.<name>) next to the builder, like C(swift-ring-builder).
    type: bool
    default: true
notes:
  - Copy the ring files to every swift node when RV(ring_changed) is true, or compare
    RV(ring_sha256) with the nodes' copies.
  - After a rebalance, push the rings and let replication settle before the next one;
    C(min_part_hours) enforces this.
seealso:
  - name: swift-ring-builder
    description: The CLI this module follows.
    link: https://docs.openstack.org/swift/latest/admin/objectstorage-ringbuilder.html
'''

EXAMPLES = r'''
- name: Build the guide's object ring (3 nodes x 3 loop devices, replication network)
  cloudlab.openstack.swift_ring:
    ring: object
    path: /etc/swift
    part_power: 18
    replicas: 3
    min_part_hours: 1
    devices: "{{ swift_object_devices }}"
  register: object_ring
  # swift_object_devices:
  #   - {zone: 1, ip: 192.168.182.144, port: 6000, replication_ip: 10.0.100.139,
  #      replication_port: 6003, device: loop0, weight: 100}
  #   - ...

- name: Drain and later remove osswift2 (just leave its devices out)
  cloudlab.openstack.swift_ring:
    builder: /etc/swift/account.builder
    devices: "{{ swift_account_devices | rejectattr('ip', 'eq', '192.168.182.146') }}"

- name: Plan only
  cloudlab.openstack.swift_ring:
    ring: container
    devices: "{{ swift_container_devices }}"
    rebalance: never
  check_mode: true
  register: plan

- name: Fetch the object ring to the controller when it changed (then copy it to every node)
  ansible.builtin.fetch:
    src: "{{ object_ring.ring_file }}"
    dest: "{{ playbook_dir }}/rings/"
    flat: true
  when: object_ring.ring_changed
'''

RETURN = r'''
builder:
  description: Path of the builder file.
  returned: always
  type: str
  sample: /etc/swift/object.builder
ring_file:
  description: Path of the ring file.
  returned: always
  type: str
  sample: /etc/swift/object.ring.gz
created:
  description: Whether the builder was created.
  returned: always
  type: bool
builder_changed:
  description: Whether the builder file was (or in check mode would be) written.
  returned: always
  type: bool
ring_changed:
  description: Whether the ring file was (or in check mode would be) written.
  returned: always
  type: bool
ring_md5:
  description: MD5 of the ring file after the run (before it, in check mode); null if there is none.
  returned: always
  type: str
  sample: 5d41402abc4b2a76b9719d911017c592
ring_sha256:
  description: SHA-256 of the ring file after the run (before it, in check mode); null if there is none.
  returned: always
  type: str
plan:
  description: Device changes, each entry naming the device as ip:port/device.
  returned: when state is present
  type: dict
  contains:
    add:
      description: Devices added.
      type: list
      elements: dict
    update:
      description: Devices changed in place, with C(changes) as field -> [old, new].
      type: list
      elements: dict
    drain:
      description: Devices no longer listed whose weight is set to 0.
      type: list
      elements: dict
    draining:
      description: Devices no longer listed, at weight 0, still holding partitions.
      type: list
      elements: dict
    remove:
      description: Devices removed (drained, or O(force)).
      type: list
      elements: dict
settings:
  description: Ring settings after the run.
  returned: when state is present
  type: dict
  sample: {part_power: 18, replicas: 3.0, min_part_hours: 1, overload: 0.0}
settings_changed:
  description: Settings changed on an existing builder, as setting -> [old, new].
  returned: when state is present
  type: dict
  sample: {min_part_hours: [1, 24]}
rebalance:
  description: What happened about rebalancing.
  returned: when state is present
  type: dict
  contains:
    due:
      description: Whether a rebalance was due.
      type: bool
    reasons:
      description: Why it was due.
      type: list
      elements: str
    attempted:
      description: Whether the builder ran a rebalance (in memory in check mode).
      type: bool
    done:
      description: Whether a rebalance result was (or would be) saved.
      type: bool
    blocked:
      description: Due, but min_part_hours allows no partition to move yet.
      type: bool
    wait_seconds:
      description: Seconds until min_part_hours allows moving partitions again.
      type: int
    wait:
      description: The same as H:MM:SS.
      type: str
    parts_moved:
      description: Partition replicas reassigned.
      type: int
    balance:
      description: Balance of the ring after the run (swift-ring-builder's figure).
      type: float
    dispersion:
      description: Dispersion of the ring after the run.
      type: float
    message:
      description: One line saying what happened and what to do next.
      type: str
devices:
  description: The devices after the run, with their partition counts.
  returned: when state is present
  type: list
  elements: dict
backup_files:
  description: Backup copies written.
  returned: always
  type: list
  elements: str
msg:
  description: Summary of the run.
  returned: always
  type: str
'''

import copy
import os
import pickle
import re
import shutil
import tempfile
import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.cloudlab.openstack.plugins.module_utils.swift_ring import (
    INFO_FIELDS, apply_plan, backup_name, balance_needs_work, describe_wait, dev_key, device_table,
    facts_from_data, file_checksums, format_key, judge_rebalance, normalize_devices, only_balance_reason,
    plan_changes_builder, plan_devices, rebalance_facts, rebalance_reasons, ring_paths)

try:
    from importlib.util import find_spec
    # Only located here: importing swift costs 0.4 s (eventlet, dns, pkg_resources), and a run
    # that finds nothing to change does not need it (see load_swift).
    HAS_SWIFT = find_spec('swift') is not None
except (ImportError, ValueError):
    HAS_SWIFT = False

RING_NAME = re.compile(r'^(account|container|object(-[0-9]+)?)$')
DEVICE_KEYS = ('id', 'region', 'zone', 'ip', 'port', 'replication_ip', 'replication_port', 'device', 'weight',
               'meta', 'parts')
EMPTY_PLAN = {'add': [], 'update': [], 'drain': [], 'remove': [], 'draining': []}


class Swift(object):
    """swift's RingBuilder and its error class, imported on first need."""

    def __init__(self, module):
        try:
            from swift.common.ring import RingBuilder
            from swift.common.exceptions import RingBuilderError
        except ImportError:
            module.fail_json(msg=missing_required_lib('swift', reason='to build rings (Debian/Ubuntu: '
                                                      'apt-get install python3-swift)'),
                             exception=traceback.format_exc())
        self.RingBuilder = RingBuilder
        self.RingBuilderError = RingBuilderError


def write_atomic(module, dest, save):
    """save(path) writes the file; it lands on dest with one rename (module.atomic_move).

    The temporary file has dest's own name, in a private directory next to dest: gzip records the
    file name in its header, so a ring saved this way is byte-identical to swift-ring-builder's.
    """
    tmpdir = tempfile.mkdtemp(prefix='.swift_ring.', dir=os.path.dirname(dest) or '.')
    try:
        tmp = os.path.join(tmpdir, os.path.basename(dest))
        save(tmp)
        module.atomic_move(tmp, dest)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def backup_copy(src, backups_dir, when):
    if not os.path.isdir(backups_dir):
        os.mkdir(backups_dir)
    dest = backup_name(backups_dir, src, when)
    shutil.copyfile(src, dest)
    return dest


def settings_of(data):
    return dict((k, data[k]) for k in ('part_power', 'replicas', 'min_part_hours', 'overload'))


def device_list(devs):
    return [dict((k, d[k]) for k in DEVICE_KEYS) for d in sorted((d for d in devs if d is not None), key=dev_key)]


def new_report(mode, reasons):
    report = dict(mode=mode, due=bool(reasons), reasons=reasons, attempted=False, done=False,
                  blocked=False, wait_seconds=0, wait=describe_wait(0), parts_moved=0,
                  parts_moved_percent=0.0, removed_devices=0, message='no rebalance due')
    if mode == 'never' and reasons:
        report['message'] = 'rebalance due (%s), not run: rebalance is never' % '; '.join(reasons)
    return report


def block(module, report, reasons, seconds_left, min_part_hours):
    report.update(blocked=True, wait_seconds=seconds_left, wait=describe_wait(seconds_left))
    report['message'] = ('rebalance due (%s) but min_part_hours=%d allows no partition move for '
                         'another %s: run again after that'
                         % ('; '.join(reasons), min_part_hours, report['wait']))
    module.warn(report['message'])


def summary(builder_path, plan, changed_settings, report):
    counts = dict((k, len(v)) for k, v in plan.items())
    return ('%s: %d added, %d updated, %d drained, %d removed, %d still draining%s; %s'
            % (builder_path, counts['add'], counts['update'], counts['drain'], counts['remove'],
               counts['draining'], ', settings changed' if changed_settings else '', report['message']))


def run_absent(module, builder_path, ring_file, backups_dir):
    existing = [p for p in (builder_path, ring_file) if os.path.exists(p)]
    result = dict(changed=bool(existing), builder=builder_path, ring_file=ring_file, created=False,
                  builder_changed=os.path.exists(builder_path), ring_changed=os.path.exists(ring_file),
                  ring_md5=None, ring_sha256=None, backup_files=[],
                  msg='removed %s' % ', '.join(existing) if existing else 'nothing to remove')
    if module._diff and existing:
        result['diff'] = dict(before_header=builder_path, after_header=builder_path,
                              before='%s\n' % '\n'.join(existing), after='')
    if existing and not module.check_mode:
        when = time.time()
        for path in existing:
            if module.params['backup']:
                result['backup_files'].append(backup_copy(path, backups_dir, when))
            os.unlink(path)
    module.exit_json(**result)


def read_builder_data(path):
    """The dict a .builder file holds (what RingBuilder.load unpickles too), or None when the
    file is in an older format that only swift itself reads."""
    try:
        with open(path, 'rb') as handle:
            data = pickle.load(handle)
    except Exception:  # an unreadable builder is reported by swift's own loader below
        return None
    return data if isinstance(data, dict) and 'devs' in data else None


def converged_result(module, data, builder_path, ring_file):
    """The result when the builder already matches the task and no rebalance is due; None when
    swift must look (anything to change, to check or to refuse goes the full way)."""
    params = module.params
    if data.get('next_part_power') or params['rebalance'] == 'force':
        return None
    if any(d is not None and not all(k in d for k in DEVICE_KEYS) for d in data['devs']):
        return None  # an old builder without replication fields: RingBuilder.load fills them in
    for option in ('part_power', 'replicas', 'min_part_hours'):
        if params[option] is not None and float(params[option]) != float(data[option]):
            return None
    facts = facts_from_data(data)
    plan = EMPTY_PLAN
    if params['devices'] is not None:
        try:
            want = normalize_devices(params['devices'])
        except ValueError:
            return None
        plan = plan_devices(data['devs'], want, force=params['force'], pending_removal=facts['pending_removal'])
        if plan_changes_builder(plan) or facts['pending_removal']:
            return None
    reasons = rebalance_reasons(facts)
    if reasons and params['rebalance'] == 'auto' and not (only_balance_reason(facts) and facts['min_part_seconds_left']):
        return None
    if facts['ever_rebalanced'] and not os.path.exists(ring_file):
        return None
    report = new_report(params['rebalance'], reasons)
    if reasons and params['rebalance'] == 'auto':
        block(module, report, reasons, facts['min_part_seconds_left'], data['min_part_hours'])
    report.update(balance=round(facts['balance'], 2), dispersion=round(data.get('dispersion') or 0.0, 2))
    sums = file_checksums(ring_file) or {}
    result = dict(changed=False, builder=builder_path, ring_file=ring_file, created=False,
                  builder_changed=False, ring_changed=False, ring_md5=sums.get('md5'),
                  ring_sha256=sums.get('sha256'), plan=plan, settings=settings_of(data),
                  settings_changed={}, rebalance=report, devices=device_list(data['devs']),
                  backup_files=[], msg=summary(builder_path, plan, {}, report))
    if module._diff:
        table = device_table(settings_of(data), data['devs'], facts['pending_removal'])
        result['diff'] = dict(before_header=builder_path, after_header=builder_path, before=table, after=table)
    return result


def load_or_create(module, swift, builder_path):
    """The builder, whether it is new, and what settings changed (fails on forbidden changes)."""
    params = module.params
    changed_settings = {}
    if not os.path.exists(builder_path):
        missing = [o for o in ('part_power', 'replicas', 'min_part_hours') if params[o] is None]
        if missing:
            module.fail_json(msg='%s does not exist: set %s to create it (the guide uses part_power 18, '
                                 'replicas 3, min_part_hours 1)' % (builder_path, ', '.join(missing)))
        try:
            return swift.RingBuilder(params['part_power'], params['replicas'], params['min_part_hours']), True, {}
        except ValueError as err:
            module.fail_json(msg='cannot create %s: %s' % (builder_path, err))
    try:
        builder = swift.RingBuilder.load(builder_path)
    except Exception as err:  # swift raises several types here, the CLI catches them all too
        module.fail_json(msg='cannot read builder file %s: %s' % (builder_path, err))
    if builder.next_part_power:
        module.fail_json(msg='%s has a partition power increase in progress; finish or cancel it with '
                             'swift-ring-builder before managing it with this module' % builder_path)
    if params['part_power'] is not None and params['part_power'] != builder.part_power:
        module.fail_json(msg='%s has part_power %d, not %d: this module never changes part power '
                             '(that takes swift-ring-builder prepare_increase_partition_power and '
                             'relinking on every storage node); set part_power: %d'
                             % (builder_path, builder.part_power, params['part_power'], builder.part_power))
    if params['replicas'] is not None and float(params['replicas']) != float(builder.replicas):
        if not params['change_replicas']:
            module.fail_json(msg='%s has %s replicas, not %s: set change_replicas: true to change the '
                                 'replica count (moves data) or replicas: %s'
                                 % (builder_path, builder.replicas, params['replicas'], builder.replicas))
        changed_settings['replicas'] = [builder.replicas, float(params['replicas'])]
        builder.set_replicas(float(params['replicas']))
    if params['min_part_hours'] is not None and params['min_part_hours'] != builder.min_part_hours:
        changed_settings['min_part_hours'] = [builder.min_part_hours, params['min_part_hours']]
        builder.change_min_part_hours(params['min_part_hours'])
    return builder, False, changed_settings


def run_rebalance(module, swift, builder, builder_path):
    """Rebalance when due, keep the result only when swift-ring-builder would save it.

    Returns the builder to keep (the rebalanced one, or the one from before the attempt) and the
    rebalance report.
    """
    mode = module.params['rebalance']
    facts = rebalance_facts(builder)
    reasons = rebalance_reasons(facts)
    report = new_report(mode, reasons)
    attempt = facts['devices'] > 0 and (mode == 'force' or (mode == 'auto' and bool(reasons)))
    seconds_left = facts['min_part_seconds_left']
    if attempt and mode == 'auto' and only_balance_reason(facts) and seconds_left > 0:
        # swift's own advice for an unfinished balance: wait min_part_hours, then rebalance again.
        block(module, report, reasons, seconds_left, builder.min_part_hours)
        attempt = False
    if attempt:
        kept = copy.deepcopy(builder)
        last_balance, last_dispersion = builder.get_balance(), builder.dispersion
        try:
            parts, balance, removed = builder.rebalance(seed=module.params['seed'])
        except swift.RingBuilderError as err:
            module.fail_json(msg='rebalance of %s failed, nothing written: %s. A ring needs at least as '
                                 'many devices with weight > 0 as replicas; list more devices, or use '
                                 'rebalance: never until they are all listed' % (builder_path, err))
        verdict = judge_rebalance(parts, removed, facts['devs_changed'], last_balance, balance,
                                  last_dispersion, builder.dispersion, seconds_left,
                                  force=(mode == 'force'))
        report.update(attempted=True, parts_moved=parts, removed_devices=removed,
                      parts_moved_percent=round(100.0 * parts / builder.parts, 2))
        if verdict == 'save':
            try:
                builder.validate()
            except swift.RingBuilderError as err:
                module.fail_json(msg='the rebalanced ring does not validate, nothing written: %s' % err)
            report['done'] = True
        else:
            builder = kept
            if verdict == 'blocked':
                block(module, report, reasons, seconds_left, builder.min_part_hours)
            elif verdict == 'unimproved':
                report['message'] = 'rebalance changed balance and dispersion by less than 1%: not saved'
            else:
                report['message'] = 'rebalance found no partition to move: not saved'
    report['balance'] = round(builder.get_balance(), 2) if builder.ever_rebalanced else 0.0
    report['dispersion'] = round(builder.dispersion, 2)
    if report['done']:
        report['message'] = ('reassigned %d (%.2f%%) partitions; balance is now %.2f, dispersion %.2f'
                             % (report['parts_moved'], report['parts_moved_percent'],
                                report['balance'], report['dispersion']))
        if builder.dispersion > 0:
            module.warn('dispersion of %.6f: some partitions are not optimally dispersed; adjust '
                        'weights or review `swift-ring-builder dispersion`' % builder.dispersion)
        elif balance_needs_work(builder.get_balance(), builder.overload):
            report['message'] += ('; push this ring, wait min_part_hours (%d) and run again'
                                  % builder.min_part_hours)
    return builder, report


def main():
    device_spec = dict(
        region=dict(type='int', default=1),
        zone=dict(type='int', required=True),
        ip=dict(type='str', required=True),
        port=dict(type='int', required=True),
        replication_ip=dict(type='str'),
        replication_port=dict(type='int'),
        device=dict(type='str', required=True),
        weight=dict(type='float', required=True),
        meta=dict(type='str', default=''),
    )
    module = AnsibleModule(
        argument_spec=dict(
            builder=dict(type='path'),
            ring=dict(type='str'),
            path=dict(type='path', default='/etc/swift'),
            part_power=dict(type='int'),
            replicas=dict(type='float'),
            change_replicas=dict(type='bool', default=False),
            min_part_hours=dict(type='int'),
            devices=dict(type='list', elements='dict', options=device_spec),
            force=dict(type='bool', default=False),
            rebalance=dict(type='str', default='auto', choices=['auto', 'never', 'force']),
            seed=dict(type='str'),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            backup=dict(type='bool', default=True),
        ),
        mutually_exclusive=[('builder', 'ring')],
        required_one_of=[('builder', 'ring')],
        supports_check_mode=True,
    )
    params = module.params
    if params['ring'] is not None and not RING_NAME.match(params['ring']):
        module.fail_json(msg='ring must be account, container, object or object-N, not %r; or give '
                             'the builder path' % params['ring'])
    builder_path, ring_file, backups_dir = ring_paths(params['builder'], params['ring'], params['path'])
    if params['state'] == 'absent':
        run_absent(module, builder_path, ring_file, backups_dir)
    if not os.path.isdir(os.path.dirname(builder_path) or '.'):
        module.fail_json(msg='directory %s does not exist: create it first (the guide uses /etc/swift)'
                             % os.path.dirname(builder_path))
    if not HAS_SWIFT:
        module.fail_json(msg=missing_required_lib('swift', reason='to build rings (Debian/Ubuntu: apt-get '
                                                  'install python3-swift)'))

    data = read_builder_data(builder_path) if os.path.exists(builder_path) else None
    if data is not None:
        result = converged_result(module, data, builder_path, ring_file)
        if result is not None:
            module.exit_json(**result)

    swift = Swift(module)
    builder, created, changed_settings = load_or_create(module, swift, builder_path)
    before_settings = None if created else settings_of(builder.to_dict())
    if changed_settings:
        before_settings.update((k, v[0]) for k, v in changed_settings.items())
    before_devs = [dict(d) if d is not None else None for d in builder.devs]
    before_pending = rebalance_facts(builder)['pending_removal']

    plan = EMPTY_PLAN
    if params['devices'] is not None:
        try:
            want = normalize_devices(params['devices'])
        except ValueError as err:
            module.fail_json(msg=str(err))
        pending_keys = set(dev_key(builder.devs[i]) for i in before_pending)
        clash = [format_key(dev_key(d)) for d in want if dev_key(d) in pending_keys]
        if clash:
            module.fail_json(msg='devices %s are marked for removal in %s: rebalance first (rebalance: '
                                 'auto) so they leave the ring, then add them again'
                                 % (', '.join(clash), builder_path))
        plan = plan_devices(builder.devs, want, force=params['force'], pending_removal=before_pending)
        try:
            apply_plan(builder, plan)
        except (ValueError, swift.RingBuilderError) as err:
            module.fail_json(msg='cannot apply the device changes to %s: %s' % (builder_path, err), plan=plan)

    builder, report = run_rebalance(module, swift, builder, builder_path)

    info_changed = any(set(u['changes']) & set(INFO_FIELDS) for u in plan['update'])
    write_builder = created or bool(changed_settings) or plan_changes_builder(plan) or report['done']
    write_ring = builder.ever_rebalanced and (report['done'] or info_changed or not os.path.exists(ring_file))

    backups = []
    if not module.check_mode:
        when = time.time()
        if write_builder:
            write_atomic(module, builder_path, builder.save)
            if params['backup']:
                backups.append(backup_copy(builder_path, backups_dir, when))
        if write_ring:
            write_atomic(module, ring_file, builder.get_ring().save)
            if params['backup']:
                backups.append(backup_copy(ring_file, backups_dir, when))
    sums = file_checksums(ring_file) or {}

    result = dict(
        changed=bool(write_builder or write_ring), builder=builder_path, ring_file=ring_file,
        created=created, builder_changed=bool(write_builder), ring_changed=bool(write_ring),
        ring_md5=sums.get('md5'), ring_sha256=sums.get('sha256'), plan=plan,
        settings=settings_of(builder.to_dict()), settings_changed=changed_settings, rebalance=report,
        devices=device_list(builder.devs), backup_files=backups,
        msg=summary(builder_path, plan, changed_settings, report))
    if module._diff:
        result['diff'] = dict(
            before_header=builder_path, after_header=builder_path,
            before=device_table(before_settings, before_devs, before_pending),
            after=device_table(settings_of(builder.to_dict()), builder.devs,
                               rebalance_facts(builder)['pending_removal']))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
