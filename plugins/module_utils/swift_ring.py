# -*- coding: utf-8 -*-
# Copyright (c) 2026, cloudlab.openstack developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Planning logic of the swift_ring module.

Pure functions over plain device dicts, plus two thin helpers that drive an object with swift's
``RingBuilder`` interface (``apply_plan``, ``rebalance_facts``). Nothing here imports swift or
Ansible, so unit tests import it directly and the module's import sanity test never needs swift.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import time
from datetime import timedelta

# Fields a device is matched by (as swift-ring-builder's `add` refuses duplicates of them), and
# fields updated in place. Region/zone/weight move partitions (rebalance); replication address and
# meta only change the ring file's device table (swift-ring-builder set_info + write_ring).
KEY_FIELDS = ('ip', 'port', 'device')
PLACEMENT_FIELDS = ('region', 'zone', 'weight')
INFO_FIELDS = ('replication_ip', 'replication_port', 'meta')

# swift-ring-builder prints this for a ring that holds a weight-0 device with partitions.
MAX_BALANCE = 999.99


def dev_key(dev):
    """The identity of a device: (ip, port, device)."""
    return (dev['ip'], int(dev['port']), dev['device'])


def format_key(key):
    return '%s:%d/%s' % key


def format_device(dev):
    """One device the way swift-ring-builder's `add` spells it, plus its weight."""
    text = 'r%sz%s-%s:%sR%s:%s/%s' % (
        dev['region'], dev['zone'], dev['ip'], dev['port'],
        dev['replication_ip'], dev['replication_port'], dev['device'])
    if dev.get('meta'):
        text += '_%s' % dev['meta']
    return '%s %s' % (text, _num(dev['weight']))


def _num(value):
    """100.0 -> '100', 12.5 -> '12.5': weights read like the guide writes them."""
    value = float(value)
    return ('%d' % value) if value == int(value) else ('%s' % value)


def normalize_devices(devices):
    """Validate the `devices` option and fill swift-ring-builder's defaults.

    Returns new dicts with exactly the keys swift's RingBuilder.add_dev stores, typed the way the
    CLI types them (so a ring built here serializes like one built with the CLI). Raises ValueError
    with a message that says what to fix.
    """
    result = []
    seen = {}
    for index, dev in enumerate(devices):
        missing = [f for f in ('zone', 'ip', 'port', 'device', 'weight') if dev.get(f) in (None, '')]
        if missing:
            raise ValueError('devices[%d] lacks %s' % (index, ', '.join(missing)))
        clean = {
            'region': int(dev['region']) if dev.get('region') is not None else 1,
            'zone': int(dev['zone']),
            'ip': str(dev['ip']),
            'port': int(dev['port']),
            'replication_ip': str(dev.get('replication_ip') or dev['ip']),
            'replication_port': int(dev.get('replication_port') or dev['port']),
            'device': str(dev['device']),
            'weight': float(dev['weight']),
            'meta': str(dev.get('meta') or ''),
        }
        if clean['weight'] < 0:
            raise ValueError('devices[%d] (%s) has a negative weight' % (index, format_key(dev_key(clean))))
        if '/' in clean['device']:
            raise ValueError('devices[%d]: device %r must be a name under the devices directory, '
                             'not a path' % (index, clean['device']))
        key = dev_key(clean)
        if key in seen:
            raise ValueError('devices[%d] and devices[%d] are both %s: a device is identified by '
                             'ip, port and device, list it once' % (seen[key], index, format_key(key)))
        seen[key] = index
        result.append(clean)
    return result


def _changes(have, want, fields):
    changes = {}
    for field in fields:
        old, new = have.get(field), want[field]
        if field == 'weight':
            differ = float(old) != float(new)
        else:
            differ = old != new
        if differ:
            changes[field] = [old, new]
    return changes


def plan_devices(have, want, force=False, pending_removal=()):
    """Compare the builder's devices with the wanted ones.

    have: the builder's device dicts (None holes allowed, as in RingBuilder.devs), with 'id' and
    'parts'. want: normalized wanted devices. pending_removal: ids already marked for removal
    (they leave the ring at the next rebalance and are not matched).

    A device that is no longer wanted is first drained (weight set to 0, partitions move away at
    the next rebalance); it is removed once it holds no partition, or at once with force=True.
    """
    pending = set(pending_removal)
    current = {}
    for dev in have:
        if dev is None or dev['id'] in pending:
            continue
        current[dev_key(dev)] = dev
    plan = {'add': [], 'update': [], 'drain': [], 'remove': [], 'draining': []}
    for dev in want:
        key = dev_key(dev)
        old = current.pop(key, None)
        if old is None:
            plan['add'].append(dict(dev))
            continue
        changes = _changes(old, dev, PLACEMENT_FIELDS + INFO_FIELDS)
        if changes:
            plan['update'].append({'id': old['id'], 'key': format_key(key), 'changes': changes})
    for key in sorted(current, key=lambda k: current[k]['id']):
        dev = current[key]
        entry = {'id': dev['id'], 'key': format_key(key), 'weight': float(dev['weight']),
                 'parts': int(dev.get('parts') or 0)}
        if force or (entry['weight'] == 0 and entry['parts'] == 0):
            plan['remove'].append(entry)
        elif entry['weight'] > 0:
            plan['drain'].append(entry)
        else:
            plan['draining'].append(entry)
    return plan


def plan_changes_builder(plan):
    """True when applying the plan changes the builder file."""
    return bool(plan['add'] or plan['update'] or plan['drain'] or plan['remove'])


def plan_moves_partitions(plan):
    """True when the plan changes where partitions belong (so a rebalance becomes due)."""
    if plan['add'] or plan['drain'] or plan['remove']:
        return True
    return any(set(u['changes']) & set(PLACEMENT_FIELDS) for u in plan['update'])


def plan_changes_info_only(plan):
    """Only replication address or meta change: the ring file is rewritten, nothing moves."""
    return bool(plan['update']) and not plan_moves_partitions(plan)


def apply_plan(builder, plan):
    """Apply a plan to a RingBuilder with the calls swift-ring-builder uses for the same commands."""
    for entry in plan['update']:
        dev = builder.devs[entry['id']]
        for field, (dummy, new) in sorted(entry['changes'].items()):
            if field == 'weight':
                builder.set_dev_weight(entry['id'], new)
            elif field == 'zone':
                builder.set_dev_zone(entry['id'], new)
            elif field == 'region':
                builder.set_dev_region(entry['id'], new)
            else:
                # set_info edits the dict too: these fields do not move partitions.
                dev[field] = new
    for entry in plan['drain']:
        builder.set_dev_weight(entry['id'], 0.0)
    for entry in plan['remove']:
        builder.remove_dev(entry['id'])
    for dev in plan['add']:
        builder.add_dev(dict(dev))


def rebalance_facts(builder, now=None):
    """What decides whether a rebalance is due, read from a RingBuilder."""
    return facts_from_data(builder.to_dict(), now)


def facts_from_data(data, now=None):
    """The same facts from the dict a .builder file holds (RingBuilder.to_dict(), pickled).

    This lets the module answer "nothing to do" without importing swift (0.4 s of eventlet and
    friends per run). The formulas are swift's own: RingBuilder.min_part_seconds_left,
    ever_rebalanced and get_balance; the unit tests check them against the real RingBuilder.
    """
    now = time.time() if now is None else now
    devs = [d for d in data['devs'] if d is not None]
    # _remove_devs is the builder's own list of devices marked for removal; swift's CLI has no
    # public accessor for it either, and it is part of the pickled builder state.
    pending = [d['id'] for d in data.get('_remove_devs') or []]
    ever_rebalanced = data.get('_replica2part2dev') is not None
    elapsed = int(now - (data.get('_last_part_moves_epoch') or 0))
    return {
        'devices': len(devs),
        'ever_rebalanced': ever_rebalanced,
        'devs_changed': bool(data.get('devs_changed')),
        'pending_removal': pending,
        'draining': [d['id'] for d in devs if float(d['weight']) == 0 and d.get('parts') and d['id'] not in pending],
        'balance': ring_balance(devs, data['parts'], data['replicas']) if ever_rebalanced else 0.0,
        'overload': data.get('overload') or 0.0,
        'min_part_hours': data['min_part_hours'],
        'min_part_seconds_left': max(data['min_part_hours'] * 3600 - elapsed, 0),
    }


def ring_balance(devs, parts, replicas):
    """RingBuilder.get_balance: the worst device's % off the partitions its weight asks for."""
    total = sum(float(d['weight']) for d in devs)
    balances = []
    for dev in devs:
        if not dev['weight']:
            balances.append(MAX_BALANCE if dev.get('parts') else 0.0)
        else:
            balances.append(100.0 * dev.get('parts', 0) / (dev['weight'] * parts * replicas / total) - 100.0)
    return max(abs(b) for b in balances) if balances else 0.0


def rebalance_reasons(facts):
    """Why a rebalance is due (empty list: it is not)."""
    reasons = []
    if not facts['devices']:
        return reasons
    if not facts['ever_rebalanced']:
        reasons.append('the ring has never been balanced')
    elif facts['devs_changed']:
        reasons.append('device changes are not balanced into the ring yet')
    if facts['pending_removal']:
        reasons.append('devices %s are marked for removal' % _ids(facts['pending_removal']))
    if facts['draining']:
        reasons.append('devices %s have weight 0 but still hold partitions' % _ids(facts['draining']))
    if facts['ever_rebalanced'] and not reasons and balance_needs_work(facts['balance'], facts['overload']):
        reasons.append('balance is %.2f: swift advises rebalancing again after min_part_hours'
                       % facts['balance'])
    return reasons


def balance_needs_work(balance, overload):
    """swift-ring-builder's own threshold for 'push this ring, wait, and rebalance again'."""
    return balance > 5 and balance / 100.0 > overload


def _ids(ids):
    return ', '.join(str(i) for i in ids)


def only_balance_reason(facts):
    """A rebalance due only to balance waits for min_part_hours (swift's advice) without trying."""
    reasons = rebalance_reasons(facts)
    return len(reasons) == 1 and reasons[0].startswith('balance is')


def judge_rebalance(parts, removed, devs_changed, last_balance, balance, last_dispersion,
                    dispersion, seconds_left, force=False):
    """Decide what to do with a rebalance result, as swift-ring-builder's `rebalance` does.

    Returns 'save', 'blocked' (min_part_hours stops every move), 'nothing' (no move needed) or
    'unimproved' (< 1% change in balance and dispersion: the CLI's "cowardly refusing to save").
    """
    if not (parts or removed or force):
        if seconds_left > 0:
            return 'blocked'
        # The CLI does not save here, which leaves devs_changed set forever; a declarative
        # module must converge, so pending device changes that need no move are saved.
        return 'save' if devs_changed else 'nothing'
    if force or devs_changed or removed:
        return 'save'
    balance_changed = (abs(last_balance - balance) >= 1
                       or (last_balance == MAX_BALANCE and balance == MAX_BALANCE))
    dispersion_changed = last_dispersion is None or abs(last_dispersion - dispersion) >= 1
    return 'save' if (balance_changed or dispersion_changed) else 'unimproved'


def describe_wait(seconds):
    """Seconds as swift-ring-builder prints the time left: 0:42:10."""
    return str(timedelta(seconds=int(seconds)))


def device_rows(devs, pending_removal=()):
    """Device table lines, sorted by key, for the diff and the result (no partition counts:
    they are random per rebalance, and check mode must predict the diff exactly)."""
    pending = set(pending_removal)
    rows = []
    for dev in sorted((d for d in devs if d is not None), key=dev_key):
        row = 'id %-3d %s' % (dev['id'], format_device(dev))
        if dev['id'] in pending:
            row += ' (removed at next rebalance)'
        rows.append(row)
    return rows


def device_table(settings, devs, pending_removal=()):
    """The text the diff shows for one state of the builder."""
    if settings is None:
        return ''
    head = 'part_power %(part_power)s, replicas %(replicas)s, min_part_hours %(min_part_hours)s\n' % settings
    return head + ''.join(row + '\n' for row in device_rows(devs, pending_removal))


def ring_paths(builder=None, ring=None, directory=None):
    """builder path, ring file path, backups directory (swift-ring-builder's naming)."""
    if builder is None:
        builder = os.path.join(directory, '%s.builder' % ring)
    if builder.endswith('.builder'):
        ring_file = builder[:-len('.builder')] + '.ring.gz'
    else:
        ring_file = builder + '.ring.gz'
    return builder, ring_file, os.path.join(os.path.dirname(builder) or '.', 'backups')


def file_checksums(path):
    """md5 and sha256 of a file, or None when it does not exist."""
    if not os.path.exists(path):
        return None
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            md5.update(block)
            sha256.update(block)
    return {'md5': md5.hexdigest(), 'sha256': sha256.hexdigest()}


def backup_name(backups_dir, path, when):
    """backups/<unix time>.<file name>, the name swift-ring-builder gives its backups."""
    return os.path.join(backups_dir, '%d.%s' % (when, os.path.basename(path)))
