# -*- coding: utf-8 -*-
# Copyright (c) 2026, cloudlab.openstack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parse, edit and write oslo.config INI files (nova.conf, neutron.conf, ml2_conf.ini, ...).

Pure functions, no Ansible and no I/O, so unit tests call them directly.

The grammar is the one oslo.config's own ``iniparser`` reads, because that is what the services read:
- ``[section]`` starts a section; a section may appear more than once (oslo merges them);
- ``#`` or ``;`` at the start of a line is a comment; there are no inline comments, so a value may
  contain ``#`` or ``=``;
- ``key = value`` or ``key: value``, spaces optional, split at the first ``=`` or ``:``;
- a line that starts with a space or tab continues the value above it (joined with a newline);
  a blank line or a comment ends that value;
- a key that appears several times in a section is a MultiStrOpt: its values in order.

A document is a list of nodes that keep their raw text, so ``render(parse(text)) == text`` byte for
byte; edits only touch the nodes they change.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fnmatch
import re

MASK = '********'
MASK_CHANGED = '******** (changed)'

# The secret options of the OpenStack services: passwords, keys, and URLs that embed credentials
# (connection, slave_connection: database URLs; transport_url: the RabbitMQ URL).
DEFAULT_SECRET_OPTIONS = ['*password*', '*secret*', '*connection', 'transport_url', '*_key']

BLANK, COMMENT, SECTION, OPTION = 'blank', 'comment', 'section', 'option'

# A commented-out option of a distro sample file, as oslo-config-generator writes it: "#key = value".
# No space after the '#': "# key = value" is more often prose than a sample.
_SAMPLE_RE = re.compile(r'^[#;](?P<key>[^\s=:#;\[][^=:]*?)\s*[=:]')
# The part of an option line up to the start of its value, to mask the value and keep the rest.
_PREFIX_RE = re.compile(r'^(?P<prefix>[#;]?[^=:]*[=:][ \t]*)')


class ParseError(ValueError):
    """The text is not an oslo.config INI file; says which line and why."""

    def __init__(self, lineno, line, reason):
        self.lineno = lineno
        self.line = line
        self.reason = reason
        super(ParseError, self).__init__('line %d: %s: %r' % (lineno, reason, line))


class Node(object):
    """One logical line: its raw text (an option's raw text includes its continuation lines)."""

    __slots__ = ('kind', 'raw', 'lineno', 'section', 'key', 'value')

    def __init__(self, kind, raw, lineno, section=None, key=None, value=None):
        self.kind = kind
        self.raw = raw
        self.lineno = lineno
        self.section = section
        self.key = key
        self.value = value

    def __repr__(self):
        return 'Node(%s, %r)' % (self.kind, self.raw)


def split_lines(text):
    """Lines with their endings; only '\\n' ends a line (str.splitlines also splits on \\x0c etc.)."""
    parts = text.split('\n')
    lines = [p + '\n' for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _eol(line):
    """The line without its line ending."""
    return line.rstrip('\r\n')


def parse(text):
    """Parse the text of an oslo.config INI file into a list of nodes. Raises ParseError."""
    nodes = []
    section = None
    current = None  # the option node that continuation lines extend
    for lineno, raw in enumerate(split_lines(text), 1):
        line = _eol(raw).rstrip()
        if not line:
            nodes.append(Node(BLANK, raw, lineno, section))
            current = None
            continue
        if line[0] in ' \t':
            if current is not None:
                current.raw += raw
                current.value += '\n' + line.lstrip()
                continue
            if line.lstrip()[0] in '#;':
                # oslo would reject an indented comment here; harmless to keep it as a comment.
                nodes.append(Node(COMMENT, raw, lineno, section))
                continue
            raise ParseError(lineno, _eol(raw), 'indented line that continues no option '
                             '(remove the leading spaces or join it to the option above)')
        current = None
        if line[0] == '[':
            if not line.endswith(']'):
                raise ParseError(lineno, _eol(raw), "section header without a closing ']'")
            if len(line) <= 2:
                raise ParseError(lineno, _eol(raw), 'section header without a name')
            section = line[1:-1]
            nodes.append(Node(SECTION, raw, lineno, section))
        elif line[0] in '#;':
            nodes.append(Node(COMMENT, raw, lineno, section))
        else:
            key, value = split_key_value(line)
            if key is None:
                raise ParseError(lineno, _eol(raw), "neither 'key = value', a [section] header nor a comment")
            if not key:
                raise ParseError(lineno, _eol(raw), 'option without a name')
            if section is None:
                raise ParseError(lineno, _eol(raw), 'option before the first [section] header')
            current = Node(OPTION, raw, lineno, section, key, value)
            nodes.append(current)
    return nodes


def decode(data):
    """The text of a file's bytes; bad UTF-8 is a ParseError naming the line."""
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as exc:
        lineno = data[:exc.start].count(b'\n') + 1
        raise ParseError(lineno, '', 'byte 0x%02x is not UTF-8 (save the file as UTF-8)'
                         % bytearray(data[exc.start:exc.start + 1])[0])


def describe_error(path, exc, patterns):
    """A message that names the line and what is wrong, without echoing a line that may hold a secret."""
    text = exc.line.strip().lstrip('#;')
    key = split_key_value(text)[0] or (text.split() or [''])[0]
    shown = ': %r' % exc.line if exc.line else ''
    if key and is_secret('', key, patterns):
        shown = ' (line not shown: it may hold a secret)'
    return ('%s cannot be parsed as an oslo.config INI file, nothing was changed: line %d: %s%s'
            % (path, exc.lineno, exc.reason, shown))


def split_key_value(line):
    """Split at the first '=' or ':' as oslo.config does; (None, None) if there is neither."""
    equal, colon = line.find('='), line.find(':')
    if equal < 0 and colon < 0:
        return None, None
    cut = equal if colon < 0 or 0 <= equal < colon else colon
    return line[:cut].strip(), line[cut + 1:].strip()


def render(nodes):
    """The text of a list of nodes."""
    return ''.join(n.raw for n in nodes)


def to_text_value(value):
    """A scalar as oslo.config writes it: booleans as True/False, numbers as written.

    Each line is stripped, because oslo.config strips what it reads: a value written with spaces
    around it would never read back equal, and the task would never converge.
    """
    if isinstance(value, bool):
        return 'True' if value else 'False'
    if isinstance(value, (dict, list, tuple)):
        raise TypeError('a value must be a scalar or a list of scalars, got %r' % (value,))
    if value is None:
        raise TypeError('a list item must not be null')
    lines = [line.strip() for line in ('%s' % (value,)).split('\n')]
    if not all(lines[1:]):
        raise TypeError('a multi-line value cannot hold an empty line (it would end the value): %r' % (value,))
    return '\n'.join(lines)


def check_name(section, key=None):
    """A message if a section or option name cannot be written as one, else None."""
    if not section or section != section.strip() or '\n' in section or '\r' in section or ']' in section:
        return 'section name %r: must be non-empty, without newlines, "]" or surrounding spaces' % (section,)
    if key is not None:
        if (not key or key != key.strip() or key[0] in '#;[' or
                any(c in key for c in '=:\n\r')):
            return ('option name %r in [%s]: must be non-empty, without "=", ":", newlines or surrounding '
                    'spaces, and not start with "#", ";" or "["' % (key, section))
    return None


def normalize(value):
    """A desired value as the list of values the file should hold; None means remove."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [to_text_value(v) for v in value]
    return [to_text_value(value)]


def option_lines(key, value, newline='\n'):
    """The raw text of one 'key = value' line; a multi-line value becomes continuation lines."""
    first, _sep, rest = value.partition('\n')
    text = '%s = %s' % (key, first) if first else '%s =' % key
    text += newline
    for more in rest.split('\n') if rest else []:
        text += '    %s%s' % (more, newline)
    return text


def values(nodes):
    """{section: {key: [values...]}} in file order, duplicate sections merged."""
    result = {}
    for node in nodes:
        if node.kind == SECTION:
            result.setdefault(node.section, {})
        elif node.kind == OPTION:
            result.setdefault(node.section, {}).setdefault(node.key, []).append(node.value)
    return result


def flatten(values_map):
    """One value as a string, a repeated key as a list: the shape `state: get` returns."""
    return dict((s, dict((k, v[0] if len(v) == 1 else list(v)) for k, v in opts.items()))
                for s, opts in values_map.items())


def select(nodes, selection, patterns):
    """The values of a file as {section: {key: value or [values]}}, secrets masked.

    `selection` ({section: {key: anything}} or {section: None} for a whole section) limits the result
    to those options; an option asked for that the file does not hold reads None.
    """
    found = flatten(values(nodes))
    if selection:
        wanted = {}
        for section, opts in selection.items():
            have = found.get(section, {})
            wanted[section] = dict(have) if opts is None else dict((key, have.get(key)) for key in opts)
        found = wanted
    return mask_values(found, patterns)


def is_secret(section, key, patterns):
    """Whether an option is secret: a pattern matches the option name, or 'section.option'."""
    for pattern in patterns:
        pattern = pattern.lower()
        target = ('%s.%s' % (section, key)) if '.' in pattern else key
        if fnmatch.fnmatchcase(target.lower(), pattern):
            return True
    return False


def mask_values(values_map, patterns):
    """A copy of a {section: {key: value}} map with the secret values replaced by MASK."""
    masked = {}
    for section, opts in values_map.items():
        if opts is None:
            masked[section] = None
            continue
        masked[section] = {}
        for key, value in opts.items():
            if value is not None and is_secret(section, key, patterns):
                value = [MASK] * len(value) if isinstance(value, list) else MASK
            masked[section][key] = value
    return masked


def mask_text(nodes, patterns, changed=()):
    """The text of the nodes with the value of every secret option masked, the rest unchanged.

    Commented-out samples of secret options ("#password = x") are masked too: a value someone
    commented out may still be a live password. The active lines of the options named in
    `changed` ('section.key') read MASK_CHANGED, so a diff still shows that a secret changed.
    """
    out = []
    for node in nodes:
        key = node.key if node.kind == OPTION else None
        if node.kind == COMMENT:
            match = _SAMPLE_RE.match(node.raw)
            key = match.group('key').strip() if match else None
        if key is None or not is_secret(node.section, key, patterns):
            out.append(node.raw)
            continue
        first = split_lines(node.raw)[0]
        line = _eol(first)
        newline = first[len(line):]
        prefix = _PREFIX_RE.match(line).group('prefix')
        mask = MASK if line[len(prefix):].strip() else ''
        if node.kind == OPTION and '%s.%s' % (node.section, key) in changed:
            mask = MASK_CHANGED
        out.append(prefix + mask + newline)
    return ''.join(out)


def _newline_of(nodes):
    """The file's line ending: '\\r\\n' if its first line uses it, else '\\n'."""
    for node in nodes:
        if node.raw.endswith('\r\n'):
            return '\r\n'
        if node.raw.endswith('\n'):
            return '\n'
    return '\n'


class _Index(object):
    """Where things are: the nodes of each section, the options of each section, the samples."""

    def __init__(self, nodes):
        self.blocks = {}     # section -> list of [first, last] node indexes, one per [section] block
        self.options = {}    # (section, key) -> node indexes of the active option lines
        self.keys = {}       # section -> keys in file order
        self.samples = {}    # (section, key) -> index of the first "#key = x" comment
        for i, node in enumerate(nodes):
            if node.kind == SECTION:
                self.blocks.setdefault(node.section, []).append([i, i])
                continue
            if node.section is None:
                continue
            self.blocks[node.section][-1][1] = i
            if node.kind == OPTION:
                idx = self.options.setdefault((node.section, node.key), [])
                if not idx:
                    self.keys.setdefault(node.section, []).append(node.key)
                idx.append(i)
            elif node.kind == COMMENT:
                match = _SAMPLE_RE.match(node.raw)
                if match:
                    self.samples.setdefault((node.section, match.group('key').strip()), i)

    def block_tail(self, nodes, section):
        """The index after which a new option of a section goes: its last non-blank node."""
        first, last = self.blocks[section][-1]
        while last > first and nodes[last].kind == BLANK:
            last -= 1
        return last


class Plan(object):
    """The edits to make, by node index, applied in one pass by `apply`."""

    def __init__(self):
        self.replace = {}      # index -> raw text that replaces the node ('' deletes it)
        self.after = {}        # index -> raw text inserted after the node
        self.new_sections = []  # (section, raw option text) appended at the end of the file
        self.changed = []      # 'section.key' names, in settings order

    def note(self, section, key):
        name = '%s.%s' % (section, key)
        if name not in self.changed:
            self.changed.append(name)


def plan_present(nodes, settings, exclusive=False, replace_samples=True):
    """Plan to make every option of the settings hold exactly its values (None: be absent)."""
    index = _Index(nodes)
    newline = _newline_of(nodes)
    plan = Plan()
    for section, opts in settings.items():
        opts = opts or {}
        if section not in index.blocks:
            text = ''.join(option_lines(k, v, newline) for k, want in opts.items()
                           for v in (normalize(want) or []))
            plan.new_sections.append((section, text))
            for key, want in opts.items():
                if normalize(want):
                    plan.note(section, key)
            continue
        for key, want in opts.items():
            _plan_option(nodes, index, plan, section, key, normalize(want), newline, replace_samples)
        if exclusive:
            for key in index.keys.get(section, []):
                if key not in opts:
                    for i in index.options[(section, key)]:
                        plan.replace[i] = ''
                    plan.note(section, key)
    return plan


def _plan_option(nodes, index, plan, section, key, want, newline, replace_samples):
    where = index.options.get((section, key), [])
    have = [nodes[i].value for i in where]
    if want is None:
        want = []
    if have == want:
        return
    plan.note(section, key)
    # Rewrite the existing lines in place, in order; drop the surplus; add the rest after the last.
    for pos, i in enumerate(where):
        if pos >= len(want):
            plan.replace[i] = ''
        elif have[pos] != want[pos]:
            plan.replace[i] = option_lines(key, want[pos], newline)
    extra = ''.join(option_lines(key, v, newline) for v in want[len(where):])
    if not extra:
        return
    if where:
        anchor = where[-1]
    elif replace_samples and (section, key) in index.samples:
        # The sample line "#key = default" becomes the setting, where the distro documented it.
        anchor = index.samples[(section, key)]
        plan.replace[anchor] = ''
    else:
        anchor = index.block_tail(nodes, section)
    plan.after[anchor] = plan.after.get(anchor, '') + extra


def plan_absent(nodes, settings):
    """Plan to remove options: all their lines (value None) or only the lines holding the given
    values; a section mapped to None is removed whole, header, comments and all."""
    index = _Index(nodes)
    plan = Plan()
    for section, opts in settings.items():
        if section not in index.blocks:
            continue
        if opts is None:
            for first, last in index.blocks[section]:
                for i in range(first, last + 1):
                    plan.replace[i] = ''
            for key in index.keys.get(section, []):
                plan.note(section, key)
            continue
        for key, unwanted in opts.items():
            unwanted = normalize(unwanted)
            for i in index.options.get((section, key), []):
                if unwanted is None or nodes[i].value in unwanted:
                    plan.replace[i] = ''
                    plan.note(section, key)
    return plan


def apply(nodes, plan):
    """The new text: the nodes with the plan's edits, in one pass."""
    newline = _newline_of(nodes)
    out = []

    def emit(text):
        if not text:
            return
        if out and not out[-1].endswith('\n'):
            out.append(newline)  # the file had no final newline: add one before adding lines
        out.append(text)

    for i, node in enumerate(nodes):
        emit(plan.replace.get(i, node.raw))
        emit(plan.after.get(i, ''))
    for section, text in plan.new_sections:
        so_far = ''.join(out)
        if so_far.strip() and not so_far.endswith(newline * 2):
            emit(newline)  # a blank line between the last section and the new one
        emit('[%s]%s%s' % (section, newline, text))
    return ''.join(out)


def edit(text, settings, state='present', exclusive=False, replace_samples=True):
    """Parse, plan and apply: returns (new_text, changed 'section.key' names). Raises ParseError."""
    nodes = parse(text)
    if state == 'absent':
        plan = plan_absent(nodes, settings)
    else:
        plan = plan_present(nodes, settings, exclusive=exclusive, replace_samples=replace_samples)
    return apply(nodes, plan), plan.changed
