# -*- coding: utf-8 -*-
# Copyright (c) 2026, cloudlab.openstack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Call one function in a forked child process and bring back what it returns.

Why: some work leaves global state behind in the interpreter that does it. The db_schema module
imports an OpenStack service's code, which registers its options on oslo.config's global
``cfg.CONF``; a second service registering an option of the same name with another help text fails
("duplicate option: enable_new_services", nova and cinder). With plain Ansible each module runs in a
new interpreter, but under Mitogen (ansible.cfg's strategy) a host's modules run one after the other
in one long-lived interpreter. A child forked for the work gets a copy of the interpreter, does the
work, sends the answer back over a pipe and exits: whatever it imported or registered dies with it,
under any strategy.

Why fork and not multiprocessing: multiprocessing's spawn and forkserver start a new interpreter
that re-imports the caller's main module - here the module's payload (an AnsiballZ file, or the
module Mitogen runs from memory), which a fresh interpreter cannot re-import as it was started, and
its fork start method is this same fork plus pickling, helper threads and its own exit handling.
A bare fork is also what Mitogen's own isolation (``mitogen_task_isolation: fork``) does per task.

What the child does differently from the parent:

- its stdout is the parent's stderr, at both levels: ``sys.stdout`` is ``sys.stderr`` and fd 1 is a
  copy of fd 2 (or /dev/null when fd 2 is not open for writing, as in Mitogen's interpreter), so
  nothing the work prints can mix with the module's JSON on stdout;
- it leaves with ``os._exit``: never back into the caller's stack, never the parent's ``atexit``
  handlers (AnsibleModule's temporary directory cleanup) nor buffered output of the parent's;
- the answer travels as JSON, so only plain data comes back (dicts, lists, strings, numbers,
  booleans, None) and the parent never unpickles, and so never imports, a class of the child's.

The parent reads the answer from the pipe until the child closes it, checking whether the child is
still alive (a grandchild that kept the pipe open cannot hold it), never more than ``limit`` bytes
and, with ``timeout``, for at most that many seconds (then the child is killed); it always reaps the
child. No answer (the child crashed, was killed, or exited early) raises ChildError saying how the
child ended.

The usual caveat of fork applies: only the calling thread exists in the child, so the work must not
rely on another thread of the parent (such as Mitogen's broker).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fcntl
import json
import os
import selectors
import signal
import sys
import time

# The most the parent reads from the child (bytes of JSON): a db_schema answer is well under 4 KiB.
LIMIT = 1024 * 1024
# How often the parent checks whether the child is still alive while the pipe stays silent.
POLL = 0.5


class ChildError(Exception):
    """The child gave no return value: the function raised (the message is the exception's type and
    text, which may hold anything the exception said), or the child ended without an answer (the
    message says how: its exit status or the signal that killed it), timed out or sent too much."""


def describe_status(status):
    """How a child ended, from os.waitpid's status: 'exited with status 3',
    'was killed by signal 9 (SIGKILL)', or None when unknown."""
    if status is None:
        return None
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = 'unknown'
        return 'was killed by signal %d (%s)' % (number, name)
    if os.WIFEXITED(status):
        return 'exited with status %d' % os.WEXITSTATUS(status)
    return 'ended with wait status %d' % status


def run_in_child(function, args=(), kwargs=None, timeout=None, limit=LIMIT):
    """Return ``function(*args, **kwargs)`` called in a forked child; the value must be JSON data.

    Raises ChildError when the child gives no value (see the module's docstring). ``timeout`` (seconds,
    None for no limit) bounds the whole call; ``limit`` bounds the answer's size.
    """
    read_fd, write_fd = os.pipe()
    # Nothing buffered in the parent may be written a second time by the child.
    for stream in (sys.stdout, sys.stderr):
        _flush(stream)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected; the tests prove what it does
        os.close(read_fd)
        _child(write_fd, function, args, kwargs or {})
    child = _Child(pid)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        os.close(write_fd)
        data = _collect(child, read_fd, deadline, timeout, limit)
        child.wait(deadline)
    except BaseException:  # the parent interrupted (a signal, a ChildError): no child left behind
        child.kill()
        raise
    finally:
        os.close(read_fd)

    ended = describe_status(child.status)
    if not data:
        raise ChildError('the child process %s without an answer' % (ended or 'ended (how is unknown)'))
    try:
        answer = json.loads(data.decode('utf-8'))
        if 'value' in answer:
            return answer['value']
        message = answer['error']
    except (ValueError, TypeError, KeyError):
        raise ChildError('the child process sent an unreadable answer (%d bytes) and %s'
                         % (len(data), ended or 'ended (how is unknown)'))
    raise ChildError(message)


def _child(write_fd, function, args, kwargs):
    """The child's whole life: the call, the answer on write_fd, os._exit. Never returns."""
    code = 1
    try:
        _stdout_to_stderr()
        try:
            answer = dict(value=function(*args, **kwargs))
        except BaseException as exc:  # SystemExit included: reported, not raised
            text = ' '.join(str(exc).split())
            answer = dict(error='%s: %s' % (exc.__class__.__name__, text) if text else exc.__class__.__name__)
        try:
            data = json.dumps(answer).encode('utf-8')
        except (TypeError, ValueError) as exc:
            data = json.dumps(dict(error='the value is not JSON data: %s' % exc)).encode('utf-8')
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view):]
        code = 0
    except BaseException:  # the parent reports the exit status
        pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            _flush(stream)
        os._exit(code)


def _stdout_to_stderr():
    """In the child: print() writes to sys.stderr, and fd 1 becomes a copy of fd 2 when fd 2 is open
    for writing, /dev/null otherwise (Mitogen's interpreter has a read-only pipe on fd 2: a copy of it
    would fail every write to fd 1 with EBADF)."""
    target = None
    try:
        if (fcntl.fcntl(2, fcntl.F_GETFL) & getattr(os, 'O_ACCMODE', 3)) in (os.O_WRONLY, os.O_RDWR):
            target = 2
    except OSError:  # no fd 2
        pass
    if target is None:
        target = os.open(os.devnull, os.O_WRONLY)
        os.dup2(target, 1)
        os.close(target)
    else:
        os.dup2(target, 1)
    sys.stdout = sys.stderr


class _Child(object):
    """The parent's handle on the forked child. It is reaped once and killed only while not reaped:
    after that its pid may be another process's."""

    def __init__(self, pid):
        self.pid = pid
        self.ended = False
        self.status = None  # os.waitpid's status; None when unknown

    def poll(self):
        """Whether the child has ended, reaping it if so, without waiting."""
        if not self.ended:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): gone, how is unknown
                self.ended = True
            else:
                if pid:
                    self.ended, self.status = True, status
        return self.ended

    def wait(self, deadline):
        """Reap the child; with a deadline (time.monotonic()), kill it if it still runs then."""
        while not self.poll():
            if deadline is None:
                try:
                    self.status = os.waitpid(self.pid, 0)[1]
                except ChildProcessError:
                    pass
                self.ended = True
            elif time.monotonic() >= deadline:
                self.kill()
                raise ChildError('the child process closed its answer but did not exit in time and was killed')
            else:
                time.sleep(0.05)

    def kill(self):
        """SIGKILL and reap, unless already reaped."""
        if not self.ended:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait(None)


def _collect(child, fd, deadline, timeout, limit):
    """What the child wrote. Reads until end of file, or until the child has ended and the pipe is
    drained (a grandchild may hold the pipe open); kills the child on timeout or when it sends too much."""
    chunks = []
    size = 0
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    try:
        while True:
            wait = POLL
            if child.ended:
                wait = 0  # the child is gone: take what is in the pipe, do not wait for more
            elif deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    child.kill()
                    raise ChildError('the child process gave no answer within %s seconds and was killed' % timeout)
                wait = min(wait, left)
            if selector.select(wait):
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    child.kill()
                    raise ChildError('the child process sent more than %d bytes and was killed' % limit)
                chunks.append(chunk)
            elif child.ended:
                break
            else:
                child.poll()
    finally:
        selector.close()
    return b''.join(chunks)


def _flush(stream):
    try:
        stream.flush()
    except Exception:  # a closed or odd stream: nothing to flush
        pass
