# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""forked.run_in_child: the value comes back, the parent's state stays as it was, every way a child
can end without an answer is a ChildError saying how (never a hang: each test runs under the
deadline fixture), the child's stdout never reaches the parent's stdout and it never runs the
parent's atexit handlers."""
import atexit
import faulthandler
import os
import signal
import sys
import time

import pytest

from ansible_collections.cloudlab.openstack.plugins.module_utils import forked

pytestmark = pytest.mark.usefixtures('deadline')

STATE = {}


def test_value_comes_back_state_stays():
    def work(a, b, c=None):
        STATE['touched'] = os.getpid()
        return dict(sum=a + b, c=c, pid=os.getpid(), items=[1, 'two', None, True])

    value = forked.run_in_child(work, (1, 2), dict(c='x'))
    assert value['sum'] == 3 and value['c'] == 'x' and value['items'] == [1, 'two', None, True]
    assert value['pid'] != os.getpid()
    assert STATE == {}


@pytest.mark.parametrize('exc, message', [
    pytest.param(ValueError('boom\n  on two lines'), 'ValueError: boom on two lines', id='exception'),
    pytest.param(SystemExit(2), 'SystemExit: 2', id='sys.exit'),
    pytest.param(KeyboardInterrupt(), 'KeyboardInterrupt', id='no text'),
])
def test_raised_in_child(exc, message):
    def work():
        raise exc

    with pytest.raises(forked.ChildError) as caught:
        forked.run_in_child(work)
    assert str(caught.value) == message


def test_value_not_json():
    with pytest.raises(forked.ChildError, match='^the value is not JSON data: .*set'):
        forked.run_in_child(lambda: {1, 2})


def _exit(code):
    def work():
        os._exit(code)  # pylint: disable=protected-access
    return work


def _kill(signum):
    def work():
        faulthandler.disable()  # pytest's, which would print the child's stack on SIGSEGV
        os.kill(os.getpid(), signum)
        time.sleep(30)
    return work


@pytest.mark.parametrize('work, message', [
    pytest.param(_exit(3), 'the child process exited with status 3 without an answer', id='exit 3'),
    pytest.param(_exit(0), 'the child process exited with status 0 without an answer', id='exit 0'),
    pytest.param(_kill(signal.SIGKILL), 'the child process was killed by signal 9 (SIGKILL) without an answer',
                 id='SIGKILL'),
    pytest.param(_kill(signal.SIGSEGV), 'the child process was killed by signal 11 (SIGSEGV) without an answer',
                 id='SIGSEGV'),
])
def test_child_dies_without_answer(work, message):
    with pytest.raises(forked.ChildError) as caught:
        forked.run_in_child(work)
    assert str(caught.value) == message


def test_timeout_kills_the_child():
    started = time.monotonic()
    with pytest.raises(forked.ChildError, match='^the child process gave no answer within 0.5 seconds and was killed$'):
        forked.run_in_child(time.sleep, (30,), timeout=0.5)
    assert time.monotonic() - started < 5


class Interrupted(Exception):
    pass


def test_an_interrupted_parent_leaves_no_child(tmp_path):
    """A signal handler that raises in the parent while it waits (a timeout of the caller's): the
    child is killed and reaped before the exception goes on."""
    pid_file = tmp_path / 'child'

    def work():
        pid_file.write_text(str(os.getpid()))
        os.kill(os.getppid(), signal.SIGUSR1)
        time.sleep(30)

    def interrupt(signum, frame):
        raise Interrupted()

    previous = signal.signal(signal.SIGUSR1, interrupt)
    try:
        with pytest.raises(Interrupted):
            forked.run_in_child(work)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    with pytest.raises(ProcessLookupError):  # gone, not even a zombie
        os.kill(int(pid_file.read_text()), 0)


def test_an_unreadable_answer():
    """A child that sends a cut answer (json.dumps replaced in the child's memory only)."""
    def work():
        forked.json.dumps = lambda obj: '{"val'
        return 'never seen'

    with pytest.raises(forked.ChildError) as caught:
        forked.run_in_child(work)
    assert str(caught.value) == 'the child process sent an unreadable answer (5 bytes) and exited with status 0'
    assert forked.json.dumps('x') == '"x"'


def test_too_much_is_refused():
    with pytest.raises(forked.ChildError, match='^the child process sent more than 1000 bytes and was killed$'):
        forked.run_in_child(lambda: 'x' * 5000, limit=1000)


def test_a_grandchild_holding_the_pipe_cannot_hold_the_parent(tmp_path):
    """The work forks a process that keeps every inherited descriptor (the answer's pipe too) and
    lives on: the parent stops reading once the child is gone and the pipe is drained."""
    pid_file = tmp_path / 'grandchild'

    def work():
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)  # pylint: disable=protected-access
        pid_file.write_text(str(pid))
        return 'answer'

    started = time.monotonic()
    try:
        assert forked.run_in_child(work) == 'answer'
        assert time.monotonic() - started < 10
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_stdout_goes_to_stderr(capfd):
    """print() and writes to fd 1 in the child land on stderr; the parent's stdout gets nothing."""
    def work():
        print('printed by the child')
        sys.stdout.write('written to sys.stdout\n')
        os.write(1, b'written to fd 1\n')
        return 'done'

    print('the parent before', flush=True)
    assert forked.run_in_child(work) == 'done'
    print('the parent after')
    out, err = capfd.readouterr()
    assert out == 'the parent before\nthe parent after\n'
    for line in ('printed by the child', 'written to sys.stdout', 'written to fd 1'):
        assert line in err


def test_stdout_when_fd_2_is_read_only(capfd):
    """Mitogen's interpreter has a read-only pipe on fd 2 (seen with mitogen 0.3.54): the child's
    fd 1 then goes to /dev/null, and writing to it does not fail."""
    read_end, write_end = os.pipe()
    saved = os.dup(2)
    os.dup2(read_end, 2)
    try:
        written = forked.run_in_child(os.write, (1, b'written to fd 1\n'))
    finally:
        os.dup2(saved, 2)
        for fd in (saved, read_end, write_end):
            os.close(fd)
    assert written == len(b'written to fd 1\n')
    out, err = capfd.readouterr()
    assert out == '' and 'written to fd 1' not in err


def test_parent_output_not_written_twice(capfd):
    """What the parent buffered before the fork is written once, by the parent."""
    sys.stdout.write('buffered in the parent\n')
    forked.run_in_child(lambda: None)
    out, dummy = capfd.readouterr()
    assert out == 'buffered in the parent\n'


def test_child_skips_the_parents_atexit_handlers(tmp_path):
    marker = tmp_path / 'atexit-ran'

    def handler():
        marker.write_text(str(os.getpid()))

    atexit.register(handler)
    try:
        assert forked.run_in_child(lambda: 'fine') == 'fine'
        with pytest.raises(forked.ChildError):
            forked.run_in_child(_exit(1))
    finally:
        atexit.unregister(handler)
    assert not marker.exists()


@pytest.mark.parametrize('status, text', [
    (None, None),
    (3 << 8, 'exited with status 3'),
    (signal.SIGTERM, 'was killed by signal 15 (SIGTERM)'),
])
def test_describe_status(status, text):
    assert forked.describe_status(status) == text
