# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_schema main(): arguments, the installed=false path (a fake failed import), the configuration
file checks, the result and its secrets, that the services' stdout noise stays out of the JSON, and
that the read runs in a forked child (two services in one process, a child that dies).
The service is replaced by a fake loader; the decisions are tested in
../module_utils/test_db_schema.py and the real services are read on a lab node."""
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cloudlab.openstack.plugins.module_utils import db_schema as utils
from ansible_collections.cloudlab.openstack.plugins.modules import db_schema

PASSWORD = 'Sup3r-Secr3t'
API_URL = 'mysql+pymysql://nova:%s@10.0.100.149/nova_api' % PASSWORD
MAIN_URL = 'mysql+pymysql://nova:%s@10.0.100.149/nova' % PASSWORD


def run(args, capfd, check=False):
    """Run main() and return its JSON result (stdout must hold only that) and stderr. capfd, not
    capsys: the read runs in a forked child, whose output only a capture of the descriptors sees."""
    if check:
        args['_ansible_check_mode'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            db_schema.main()
    captured = capfd.readouterr()
    return json.loads(captured.out), captured.err


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / 'nova.conf'
    path.write_text('[database]\nconnection = %s\n' % MAIN_URL)
    return path


REAL_FIND_SPEC = utils.find_on_sys_path


def fake_find_spec(answers, asked=None):
    """find_spec that answers for the services' packages and asks Python for everything else
    (Ansible's own imports)."""
    def find_spec(name, *args):
        if name in answers:
            if asked is not None:
                asked.append(name)
            return answers[name]
        return REAL_FIND_SPEC(name, *args)
    return find_spec


@pytest.fixture
def installed(monkeypatch):
    monkeypatch.setattr(utils, 'find_on_sys_path',
                        fake_find_spec(dict((name, object()) for name in utils.SERVICES)))


class Calls(object):
    """The configuration files a fake loader was called with. The loader runs in the module's forked
    child, whose memory dies with it: the calls are lines of a file."""

    def __init__(self, path):
        self.path = path

    def append(self, config_file):
        with open(str(self.path), 'a') as handle:
            handle.write(config_file + '\n')

    def read(self):
        return self.path.read_text().splitlines() if self.path.exists() else []


@pytest.fixture
def calls(tmp_path):
    return Calls(tmp_path / 'calls')


def nova_loader(calls, api_current='d67eeaabee36', fail=None):
    """A fake nova: the config file it was given is recorded; it prints as oslo.log would."""
    def load(config_file):
        if calls is not None:
            calls.append(config_file)
        print('2026-12-05 10:00:00.000 1234 INFO nova.db.migration [-] noise on stdout')

        def current(value):
            def read():
                if fail:
                    raise RuntimeError(fail)
                return value
            return read

        return [
            utils.Database('api', '[api_database] connection', API_URL,
                           head=lambda: ('b30f573d3377', {'d67eeaabee36', 'b30f573d3377'}),
                           current=current(api_current)),
            utils.Database('main', '[database] connection', MAIN_URL,
                           head=lambda: ('ccb0fa1a2252', {'8f2f1571d55b', '16f1fbcab42b', 'ccb0fa1a2252'}),
                           current=current('ccb0fa1a2252')),
        ]
    return load


@pytest.mark.parametrize('check', [False, True], ids=['run', 'check mode'])
def test_not_installed_plans_the_sync(monkeypatch, capfd, check):
    """A fresh node in check mode: no nova to import. Not a failure: everything is behind."""
    asked = []
    monkeypatch.setattr(utils, 'find_on_sys_path', fake_find_spec({'nova': None}, asked))
    monkeypatch.setitem(utils.LOADERS, 'nova', lambda config_file: pytest.fail('nothing may be read'))
    result, dummy = run({'service': 'nova'}, capfd, check=check)
    assert asked == ['nova']
    assert result['changed'] is False and 'failed' not in result
    assert result['installed'] is False and result['behind'] is True and result['ahead'] is False
    assert result['config_file'] == '/etc/nova/nova.conf' and result['service'] == 'nova'
    assert result['databases'] == {
        'api': dict(current=None, head=None, behind=True, ahead=False),
        'main': dict(current=None, head=None, behind=True, ahead=False),
    }


@pytest.mark.parametrize('check', [False, True], ids=['run', 'check mode'])
def test_reads_and_reports(installed, conf, calls, monkeypatch, capfd, check):
    monkeypatch.setitem(utils.LOADERS, 'nova', nova_loader(calls))
    result, err = run({'service': 'nova', 'config_file': str(conf)}, capfd, check=check)
    assert calls.read() == [str(conf)]
    assert result['changed'] is False and result['installed'] is True
    assert result['behind'] is True and result['ahead'] is False
    assert result['databases'] == {
        'api': dict(current='d67eeaabee36', head='b30f573d3377', behind=True, ahead=False),
        'main': dict(current='ccb0fa1a2252', head='ccb0fa1a2252', behind=False, ahead=False),
    }
    # The service's stdout went to stderr; stdout held only the JSON (json.loads above).
    assert 'noise on stdout' in err


def test_up_to_date(installed, conf, monkeypatch, capfd):
    monkeypatch.setitem(utils.LOADERS, 'nova', nova_loader(None, api_current='b30f573d3377'))
    result, dummy = run({'service': 'nova', 'config_file': str(conf)}, capfd)
    assert result['behind'] is False and result['ahead'] is False


def test_default_config_file(installed, calls, monkeypatch, capfd):
    monkeypatch.setitem(utils.LOADERS, 'placement', lambda config_file: calls.append(config_file) or [])
    monkeypatch.setattr(db_schema, 'config_file_problem', lambda path: None)
    result, dummy = run({'service': 'placement'}, capfd)
    assert calls.read() == ['/etc/placement/placement.conf']
    assert result['config_file'] == '/etc/placement/placement.conf'


def test_password_never_in_the_result(installed, conf, monkeypatch, capfd):
    """A driver error that quotes the whole URL: the message names it, the password is masked."""
    monkeypatch.setitem(utils.LOADERS, 'nova', nova_loader(None, fail='cannot connect to %s' % API_URL))
    result, dummy = run({'service': 'nova', 'config_file': str(conf)}, capfd)
    assert result['failed'] is True
    assert result['msg'].startswith("cannot read the schema revision of nova's api database at "
                                    "mysql+pymysql://nova@10.0.100.149/nova_api ([api_database] connection in %s): "
                                    % conf)
    assert PASSWORD not in json.dumps(result)


@pytest.mark.parametrize('setup, message', [
    pytest.param(lambda tmp: tmp / 'missing.conf',
                 'missing.conf does not exist: configure the service first, or name its file with config_file',
                 id='missing'),
    pytest.param(lambda tmp: tmp, 'is a directory: config_file must name the configuration file', id='directory'),
])
def test_config_file_problems(installed, tmp_path, monkeypatch, capfd, setup, message):
    monkeypatch.setitem(utils.LOADERS, 'nova', lambda config_file: pytest.fail('nothing may be read'))
    result, dummy = run({'service': 'nova', 'config_file': str(setup(tmp_path))}, capfd)
    assert result['failed'] is True and result['installed'] is True
    assert result['msg'].endswith(message)


def test_config_file_unreadable(installed, conf, monkeypatch, capfd):
    monkeypatch.setattr(db_schema.os, 'access', lambda path, mode: False)
    result, dummy = run({'service': 'nova', 'config_file': str(conf)}, capfd)
    assert result['failed'] is True
    assert result['msg'] == '%s is not readable by %s: run the task as root (become: true, no become_user)' % (
        conf, db_schema.pwd.getpwuid(db_schema.os.geteuid()).pw_name)


def test_unknown_service(capfd):
    result, dummy = run({'service': 'keystone'}, capfd)
    assert result['failed'] is True
    assert 'value of service must be one of: aodh, cinder, heat, nova, placement' in result['msg']


def test_real_loader_without_the_service(installed, conf, capfd):
    """find_spec says nova is there but its import fails (a broken install): a clear failure."""
    result, dummy = run({'service': 'nova', 'config_file': str(conf)}, capfd)
    assert result['failed'] is True
    assert result['msg'].startswith('the installed nova cannot be imported (')


# The module under Mitogen runs in the host's long-lived interpreter: reads of two services in one
# process, each registering an option of the same name on a global registry (oslo.config's CONF),
# and a child that dies. The read's own tests are in ../module_utils/test_db_schema.py.
OPTIONS = {}


def registering_loader(service, database):
    def load(config_file):
        help_text = '%s: enable new services' % service
        if OPTIONS.setdefault('enable_new_services', help_text) != help_text:
            raise ValueError('duplicate option: enable_new_services')
        return [utils.Database(database, '[database] connection', MAIN_URL,
                               head=lambda: ('ccb0fa1a2252', None), current=lambda: 'ccb0fa1a2252')]
    return load


def test_two_services_in_one_interpreter(installed, conf, monkeypatch, capfd, deadline):
    monkeypatch.setitem(utils.LOADERS, 'nova', registering_loader('nova', 'main'))
    monkeypatch.setitem(utils.LOADERS, 'cinder', registering_loader('cinder', 'cinder'))
    for service in ('nova', 'cinder', 'nova'):
        result, dummy = run({'service': service, 'config_file': str(conf)}, capfd)
        assert 'failed' not in result, result
        assert result['service'] == service and result['behind'] is False
    assert OPTIONS == {}


def test_a_crashed_read_fails_the_task(installed, conf, monkeypatch, capfd, deadline):
    monkeypatch.setitem(utils.LOADERS, 'cinder', lambda config_file: db_schema.os._exit(3))
    result, dummy = run({'service': 'cinder', 'config_file': str(conf)}, capfd)
    assert result['failed'] is True and result['service'] == 'cinder' and result['installed'] is True
    assert result['msg'] == ("the child process that reads cinder's database schema revisions failed: "
                             "the child process exited with status 3 without an answer")
