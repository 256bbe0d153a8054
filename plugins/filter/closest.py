# -*- coding: utf-8 -*-
# Copyright (c) 2026, cloudlab.openstack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The known name closest to a misspelt one (Python's difflib), for messages that suggest it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: closest
short_description: The name of a list closest to a given one, for a "did you mean" message
version_added: 0.1.0
description:
  - Returns the candidate most similar to the input by Python's C(difflib.get_close_matches) (the
    similarity ratio of C(difflib.SequenceMatcher)), or an empty string when none reaches O(cutoff).
  - The prechecks (cloudlab.openstack.prechecks) name an inventory group the collection does not know
    with the node type or service group it is probably a misspelling of (C(contoller) - C(controller)).
positional: candidates
options:
  _input:
    description: The name, as written.
    type: str
    required: true
  candidates:
    description: The known names.
    type: list
    elements: str
    required: true
  cutoff:
    description: The least similarity ratio (0 to 1) a candidate needs to be returned.
    type: float
    default: 0.6
"""

EXAMPLES = r"""
- name: Suggest the group meant
  ansible.builtin.debug:
    msg: "{{ 'contoller' | cloudlab.openstack.closest(['infra', 'controller', 'compute']) }}"
  # controller; 'rack1' gives ''
"""

RETURN = r"""
_value:
  description: The closest candidate, or an empty string when no candidate is close enough.
  type: str
"""

import difflib

from ansible.errors import AnsibleFilterError


def closest(name, candidates, cutoff=0.6):
    """The candidate closest to `name` (difflib), or '' (see DOCUMENTATION)."""
    if isinstance(candidates, str) or not all(isinstance(candidate, str) for candidate in candidates or []):
        raise AnsibleFilterError("closest: the candidates must be a list of names, not %r" % (candidates,))
    matches = difflib.get_close_matches(str(name), list(candidates or []), n=1, cutoff=float(cutoff))
    return matches[0] if matches else ""


class FilterModule(object):
    """cloudlab.openstack.closest"""

    def filters(self):
        return {"closest": closest}
