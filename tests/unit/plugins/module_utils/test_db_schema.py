# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_schema's decisions, as pure functions: the verdict per database, heat's newest migrate script,
URL masking, the result on a node without the service, and read_databases() driven by fake loaders
(the real loaders import nova, cinder, ...: they are proven on a lab node, not here).

Revisions and listings are the real ones of Zed (nova 26, heat 19)."""
import importlib.machinery
import importlib.util
import os
import signal
import sys
import time

import pytest

from ansible_collections.cloudlab.openstack.plugins.module_utils import db_schema

# nova Zed: the api database's head; the main database's head, initial revision and all its revisions.
NOVA_API_HEAD = 'b30f573d3377'
NOVA_MAIN_HEAD = 'ccb0fa1a2252'
NOVA_MAIN_INIT = '8f2f1571d55b'
NOVA_MAIN_KNOWN = {NOVA_MAIN_INIT, '16f1fbcab42b', NOVA_MAIN_HEAD}

# heat Zed: heat/db/sqlalchemy/migrate_repo/versions/ as installed (with Python's cache directory).
HEAT_VERSIONS = ['073_newton.py', '074_placeholder.py', '075_placeholder.py', '076_placeholder.py',
                 '077_placeholder.py', '078_placeholder.py', '079_resource_properties_data.py',
                 '080_resource_attrs_data.py', '081_placeholder.py', '082_placeholder.py',
                 '083_placeholder.py', '084_placeholder.py', '085_placeholder.py',
                 '086_drop_watch_rule_watch_data_tables.py', '__init__.py', '__pycache__']

HEAT_MIGRATE_CFG = """[db_settings]
# Used to identify which repository this database is versioned under.
repository_id=heat
version_table=migrate_version
required_dbs=[]
use_timestamp_numbering=False
"""

PASSWORD = 'Sup3r-Secr3t'
URL = 'mysql+pymysql://nova:%s@10.0.100.149/nova_api' % PASSWORD


# ------------------------------------------------------------------------------ compare

@pytest.mark.parametrize('current, head, known, behind, ahead', [
    pytest.param(None, NOVA_MAIN_HEAD, NOVA_MAIN_KNOWN, True, False, id='empty database'),
    pytest.param(None, 86, None, True, False, id='empty heat database'),
    pytest.param(NOVA_MAIN_HEAD, NOVA_MAIN_HEAD, NOVA_MAIN_KNOWN, False, False, id='at head'),
    pytest.param(NOVA_MAIN_INIT, NOVA_MAIN_HEAD, NOVA_MAIN_KNOWN, True, False, id='older, shipped'),
    pytest.param('0123abcdef99', NOVA_MAIN_HEAD, NOVA_MAIN_KNOWN, False, True, id='unknown revision: newer'),
    pytest.param('0123abcdef99', NOVA_MAIN_HEAD, None, True, False, id='no revision list: any difference'),
    pytest.param(86, 86, None, False, False, id='heat at head'),
    pytest.param(72, 86, None, True, False, id='heat stamped, empty'),
    pytest.param(80, 86, None, True, False, id='heat older'),
    pytest.param(87, 86, None, False, True, id='heat newer'),
])
def test_compare(current, head, known, behind, ahead):
    assert db_schema.compare(current, head, known) == dict(current=current, head=head, behind=behind, ahead=ahead)


# ------------------------------------------------------------------- heat's migrate repository

@pytest.mark.parametrize('names, head', [
    pytest.param(HEAT_VERSIONS, 86, id='heat zed'),
    pytest.param(reversed(HEAT_VERSIONS), 86, id='any order'),
    pytest.param(['073_newton.pyc', '074_placeholder.pyc', '__init__.pyc'], 74, id='sourceless'),
    pytest.param(['073_newton.py', '100_next.py', '099_last.py'], 100, id='numbers, not names'),
    pytest.param(['073_newton.py', '999_notes.txt', '1000.py', 'README'], 73, id='only NNN_*.py'),
])
def test_migrate_head(names, head):
    assert db_schema.migrate_head(names) == head


@pytest.mark.parametrize('names', [[], ['__init__.py', '__pycache__'], ['README']])
def test_migrate_head_without_scripts(names):
    with pytest.raises(ValueError, match='no NNN_'):
        db_schema.migrate_head(names)


@pytest.mark.parametrize('text, settings', [
    pytest.param(HEAT_MIGRATE_CFG, ('heat', 'migrate_version'), id='heat zed'),
    pytest.param('[db_settings]\nrepository_id = keystone\n', ('keystone', 'migrate_version'),
                 id='default table'),
    pytest.param('[db_settings]\nrepository_id=x\nversion_table=my_version\n', ('x', 'my_version'),
                 id='own table'),
])
def test_migrate_settings(text, settings):
    assert db_schema.migrate_settings(text) == settings


# ------------------------------------------------------------------------- URLs and secrets

@pytest.mark.parametrize('url, described, secrets', [
    pytest.param(URL, 'mysql+pymysql://nova@10.0.100.149/nova_api', {URL, PASSWORD}, id='pymysql'),
    pytest.param('mysql+pymysql://nova:p%40ss%2Fw@db:3306/nova?charset=utf8',
                 'mysql+pymysql://nova@db:3306/nova',
                 {'mysql+pymysql://nova:p%40ss%2Fw@db:3306/nova?charset=utf8', 'p%40ss%2Fw', 'p@ss/w'},
                 id='encoded password, port, query'),
    pytest.param('mysql://aodh:pa@ss:w@10.0.100.149/aodh', 'mysql://aodh@10.0.100.149/aodh',
                 {'mysql://aodh:pa@ss:w@10.0.100.149/aodh', 'pa@ss:w'}, id='raw @ and : in password'),
    pytest.param('mysql+pymysql://heat@db/heat', 'mysql+pymysql://heat@db/heat',
                 {'mysql+pymysql://heat@db/heat'}, id='no password'),
    pytest.param('sqlite:////var/lib/cinder/cinder.sqlite', 'sqlite:////var/lib/cinder/cinder.sqlite',
                 {'sqlite:////var/lib/cinder/cinder.sqlite'}, id='sqlite path'),
    pytest.param('not a url', '(a value that is not a database URL)', {'not a url'}, id='not a URL'),
    pytest.param(None, '(a value that is not a database URL)', set(), id='unset'),
])
def test_describe_url_and_secrets(url, described, secrets):
    assert db_schema.describe_url(url) == described
    assert db_schema.url_secrets(url) == secrets
    if url and PASSWORD in url:
        assert PASSWORD not in described


# ----------------------------------------------------------------- installed or not, results

def test_default_config_file():
    assert [db_schema.default_config_file(s) for s in db_schema.SERVICES] == [
        '/etc/aodh/aodh.conf', '/etc/cinder/cinder.conf', '/etc/heat/heat.conf', '/etc/nova/nova.conf',
        '/etc/placement/placement.conf']


def test_services_have_loaders_and_databases():
    assert db_schema.SERVICES == ('aodh', 'cinder', 'heat', 'nova', 'placement')
    assert sorted(db_schema.LOADERS) == sorted(db_schema.DATABASES) == list(db_schema.SERVICES)


def _raise(exc):
    def find_spec(name):
        raise exc
    return find_spec


@pytest.mark.parametrize('find_spec, installed', [
    pytest.param(lambda name: object(), True, id='found'),
    pytest.param(lambda name: None, False, id='not found'),
    pytest.param(_raise(ImportError('broken')), False, id='import error'),
    pytest.param(_raise(ValueError('no spec')), False, id='half-imported'),
])
def test_is_installed(find_spec, installed):
    assert db_schema.is_installed('nova', find_spec=find_spec) is installed


def test_is_installed_does_not_import():
    """The real check on this machine, which has no nova: False, and nova is not imported."""
    assert db_schema.is_installed('nova') is False


@pytest.mark.parametrize('service, names', [
    ('nova', ['api', 'main']),
    ('placement', ['placement']),
    ('heat', ['heat']),
])
def test_not_installed_plans_every_sync(service, names):
    result = db_schema.not_installed(service)
    assert result['installed'] is False and result['behind'] is True and result['ahead'] is False
    assert sorted(result['databases']) == names
    for database in result['databases'].values():
        assert database == dict(current=None, head=None, behind=True, ahead=False)


@pytest.mark.parametrize('verdicts, behind, ahead', [
    ([(False, False), (False, False)], False, False),
    ([(False, False), (True, False)], True, False),
    ([(False, True), (False, False)], False, True),
])
def test_summarize(verdicts, behind, ahead):
    databases = dict(('db%d' % i, dict(current='x', head='y', behind=b, ahead=a))
                     for i, (b, a) in enumerate(verdicts))
    result = db_schema.summarize('nova', databases)
    assert result == dict(service='nova', installed=True, databases=databases, behind=behind, ahead=ahead)


# ----------------------------------------------------- read_databases with fake loaders

def fake_database(name, url=URL, head=(NOVA_API_HEAD, {NOVA_API_HEAD, 'd67eeaabee36'}), current=NOVA_API_HEAD,
                  log=None):
    def read(value, what):
        def reader():
            if log is not None:
                log.append((what, name))
            if isinstance(value, Exception):
                raise value
            return value
        return reader
    return db_schema.Database(name, '[api_database] connection' if name == 'api' else '[database] connection',
                              url, head=read(head, 'head'), current=read(current, 'current'))


def loaders(*databases):
    return dict(nova=lambda config_file: list(databases))


# The failures read the same in this interpreter and through the forked child.
READS = [pytest.param(db_schema.read_databases, id='in process'),
         pytest.param(db_schema.read_databases_in_child, id='in a child')]


def test_read_databases_verdicts_and_hides_first():
    log = []

    def hide(secrets):
        log.append(('hide', sorted(secrets)))

    main_url = 'mysql+pymysql://nova:Other-Pw@10.0.100.149/nova'
    result = db_schema.read_databases('nova', '/etc/nova/nova.conf', hide=hide, loaders=loaders(
        fake_database('api', log=log, current='d67eeaabee36'),
        fake_database('main', url=main_url, head=(NOVA_MAIN_HEAD, NOVA_MAIN_KNOWN), current=NOVA_MAIN_HEAD,
                      log=log)))
    assert result == {
        'api': dict(current='d67eeaabee36', head=NOVA_API_HEAD, behind=True, ahead=False),
        'main': dict(current=NOVA_MAIN_HEAD, head=NOVA_MAIN_HEAD, behind=False, ahead=False),
    }
    # Both URLs are hidden before any database is read.
    assert log[:2] == [('hide', sorted([URL, PASSWORD])), ('hide', sorted([main_url, 'Other-Pw']))]
    assert log[2:] == [('head', 'api'), ('current', 'api'), ('head', 'main'), ('current', 'main')]


def test_read_databases_empty_database_is_behind():
    result = db_schema.read_databases('nova', '/etc/nova/nova.conf', loaders=loaders(fake_database('api', current=None)))
    assert result['api'] == dict(current=None, head=NOVA_API_HEAD, behind=True, ahead=False)


@pytest.mark.parametrize('database, message', [
    pytest.param(fake_database('main', url=None),
                 '/etc/nova/nova.conf sets no [database] connection: nova cannot reach its main database',
                 id='no URL'),
    pytest.param(fake_database('api', head=RuntimeError('Multiple heads are present')),
                 'cannot read the api schema revision the installed nova ships: Multiple heads are present',
                 id='head'),
    pytest.param(fake_database('api', current=RuntimeError(
        '(pymysql.err.OperationalError) (2003, "Can\'t connect to MySQL server on \'10.0.100.149\'")\n'
        '(Background on this error at: https://sqlalche.me/e/14/e3q8)')),
        "cannot read the schema revision of nova's api database at mysql+pymysql://nova@10.0.100.149/nova_api "
        "([api_database] connection in /etc/nova/nova.conf): (pymysql.err.OperationalError) (2003, "
        "\"Can't connect to MySQL server on '10.0.100.149'\") (Background on this error at: "
        "https://sqlalche.me/e/14/e3q8)", id='connection'),
])
@pytest.mark.parametrize('read', READS)
def test_read_databases_failures(read, database, message):
    with pytest.raises(db_schema.DbSchemaError) as caught:
        read('nova', '/etc/nova/nova.conf', loaders=loaders(database))
    assert str(caught.value) == message
    assert PASSWORD not in str(caught.value)


def _failing_loader(exc):
    def load(config_file):
        raise exc
    return dict(nova=load)


@pytest.mark.parametrize('exc, message', [
    pytest.param(ImportError("No module named 'migrate'"),
                 "the installed nova cannot be imported (No module named 'migrate'): check that its packages "
                 "and their dependencies are installed for this Python", id='import'),
    pytest.param(ValueError('Failed to parse /etc/nova/nova.conf: at line 3, No \':\' or \'=\' found'),
                 "cannot load nova's configuration from /etc/nova/nova.conf as nova does: Failed to parse "
                 "/etc/nova/nova.conf: at line 3, No ':' or '=' found", id='config'),
])
@pytest.mark.parametrize('read', READS)
def test_read_databases_load_failures(read, exc, message):
    with pytest.raises(db_schema.DbSchemaError) as caught:
        read('nova', '/etc/nova/nova.conf', loaders=_failing_loader(exc))
    assert str(caught.value) == message


@pytest.mark.parametrize('read', READS)
@pytest.mark.parametrize('service', db_schema.SERVICES)
def test_real_loaders_import_the_service_only_when_called(service, read):
    """This machine has none of the services: each real loader fails on its import, as a message."""
    with pytest.raises(db_schema.DbSchemaError, match='the installed %s cannot be imported' % service):
        read(service, db_schema.default_config_file(service))


# ------------------------------------------ read_databases_in_child: each read in a forked child
# What the module calls. The fake services below touch global state the way the real ones do
# (oslo.config's global CONF); the child's stdout, exit and secrets are proven with them. The
# fork-and-return helper itself is tested in test_forked.py.

class DuplicateOptError(Exception):
    """oslo.config's error when an option is registered again with other attributes."""


OPTIONS = {}  # a global registry of option name -> help text, as oslo.config's cfg.CONF


def register_option(name, help_text):
    """oslo.config's register_opt: the same option again is fine, the same name with another help
    is "duplicate option" (nova's and cinder's enable_new_services)."""
    if OPTIONS.get(name, help_text) != help_text:
        raise DuplicateOptError('duplicate option: %s' % name)
    OPTIONS[name] = help_text


CINDER_URL = 'mysql+pymysql://cinder:Cinder-Pw@10.0.100.149/cinder'


def registering_loaders():
    """A fake nova and a fake cinder that each register enable_new_services, with their own help."""
    def nova(config_file):
        register_option('enable_new_services', 'nova: enable new nova-compute services')
        return [fake_database('api', current='d67eeaabee36')]

    def cinder(config_file):
        register_option('enable_new_services', 'cinder: enable new cinder-volume services')
        return [fake_database('cinder', url=CINDER_URL, head=('89aa6f9639f9', None), current='89aa6f9639f9')]

    return dict(nova=nova, cinder=cinder)


NOVA_VERDICT = dict(api=dict(current='d67eeaabee36', head=NOVA_API_HEAD, behind=True, ahead=False))
CINDER_VERDICT = dict(cinder=dict(current='89aa6f9639f9', head='89aa6f9639f9', behind=False, ahead=False))


@pytest.fixture
def options():
    """The fake registry, empty before and after the test."""
    OPTIONS.clear()
    yield OPTIONS
    OPTIONS.clear()


def test_one_interpreter_fails_the_second_service(options):
    """The premise of the next test: nova's read then cinder's in one interpreter (Mitogen's, before
    the fork) fails as it did on the lab."""
    both = registering_loaders()
    assert db_schema.read_databases('nova', '/etc/nova/nova.conf', loaders=both) == NOVA_VERDICT
    with pytest.raises(db_schema.DbSchemaError, match='duplicate option: enable_new_services$'):
        db_schema.read_databases('cinder', '/etc/cinder/cinder.conf', loaders=both)


def test_reads_in_children_leave_this_interpreter_alone(options, deadline):
    both = registering_loaders()
    for dummy in range(2):
        assert db_schema.read_databases_in_child('nova', '/etc/nova/nova.conf', loaders=both) == NOVA_VERDICT
        assert db_schema.read_databases_in_child('cinder', '/etc/cinder/cinder.conf', loaders=both) == CINDER_VERDICT
    assert options == {}


def test_the_services_modules_are_imported_in_the_child_only(tmp_path, monkeypatch, deadline):
    (tmp_path / 'fake_service_code.py').write_text('LOADED = True\n')
    monkeypatch.syspath_prepend(str(tmp_path))

    def load(config_file):
        import fake_service_code  # pylint: disable=import-outside-toplevel,import-error,unused-import
        return [fake_database('api')]

    assert sorted(db_schema.read_databases_in_child('nova', '/etc/nova/nova.conf', loaders=dict(nova=load))) == ['api']
    assert 'fake_service_code' not in sys.modules


def test_a_service_error_reads_the_same(deadline):
    """A DbSchemaError of the read comes back as its message, the one this interpreter would give."""
    def load(config_file):
        raise db_schema.DbSchemaError('nova.conf names no cell')

    with pytest.raises(db_schema.DbSchemaError) as in_process:
        db_schema.read_databases('nova', '/etc/nova/nova.conf', loaders=dict(nova=load))
    with pytest.raises(db_schema.DbSchemaError) as caught:
        db_schema.read_databases_in_child('nova', '/etc/nova/nova.conf', loaders=dict(nova=load))
    assert str(caught.value) == str(in_process.value)
    assert str(caught.value).endswith('as nova does: nova.conf names no cell')


def test_an_unexpected_failure_names_the_service(deadline):
    """What read_databases does not expect (here a URL that is not a string) still says where."""
    with pytest.raises(db_schema.DbSchemaError) as caught:
        db_schema.read_databases_in_child('nova', '/etc/nova/nova.conf', loaders=loaders(fake_database('api', url=42)))
    assert str(caught.value).startswith("cannot read nova's database schema revisions: TypeError: ")


def _exits(code):
    def load(config_file):
        os._exit(code)  # pylint: disable=protected-access
    return load


def _killed(config_file):
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize('load, how', [
    pytest.param(_exits(3), 'exited with status 3', id='os._exit(3)'),
    pytest.param(_killed, 'was killed by signal 9 (SIGKILL)', id='SIGKILL'),
])
def test_a_crash_is_a_clear_failure(load, how, deadline):
    with pytest.raises(db_schema.DbSchemaError) as caught:
        db_schema.read_databases_in_child('heat', '/etc/heat/heat.conf', loaders=dict(heat=load))
    assert str(caught.value) == ("the child process that reads heat's database schema revisions failed: "
                                 "the child process %s without an answer" % how)


def test_a_read_that_hangs_is_killed(deadline):
    def load(config_file):
        time.sleep(30)

    with pytest.raises(db_schema.DbSchemaError) as caught:
        db_schema.read_databases_in_child('aodh', '/etc/aodh/aodh.conf', loaders=dict(aodh=load), timeout=0.5)
    assert str(caught.value) == ("the child process that reads aodh's database schema revisions failed: "
                                 "the child process gave no answer within 0.5 seconds and was killed")


@pytest.mark.parametrize('current, error', [
    pytest.param(NOVA_API_HEAD, None, id='read'),
    pytest.param(RuntimeError('cannot connect to %s' % URL), "cannot read the schema revision of nova's api", id='failed'),
])
def test_secrets_of_the_child_reach_hide(current, error, capfd, deadline):
    """The URLs the child hid come back to hide before the answer or the error, and are never printed."""
    main_url = 'mysql+pymysql://nova:Other-Pw@10.0.100.149/nova'
    hidden = []

    def hide(secrets):
        hidden.append(set(secrets))

    read = loaders(fake_database('api', current=current), fake_database('main', url=main_url, current=NOVA_API_HEAD))
    if error is None:
        assert sorted(db_schema.read_databases_in_child('nova', '/etc/nova/nova.conf', hide=hide, loaders=read)) == [
            'api', 'main']
    else:
        with pytest.raises(db_schema.DbSchemaError, match=error) as caught:
            db_schema.read_databases_in_child('nova', '/etc/nova/nova.conf', hide=hide, loaders=read)
        assert PASSWORD in str(caught.value)  # the driver's text quotes the URL: the module's no_log masks it
    assert hidden == [{URL, PASSWORD, main_url, 'Other-Pw'}]
    out, err = capfd.readouterr()
    assert PASSWORD not in out + err and 'Other-Pw' not in out + err


def test_the_services_stdout_stays_off_stdout(capfd, deadline):
    """oslo.log writes to stdout when no log file is set: in the child, stdout is stderr."""
    def load(config_file):
        print('INFO nova.db.migration [-] printed')
        os.write(1, b'INFO written to fd 1\n')
        return [fake_database('api')]

    assert sorted(db_schema.read_databases_in_child('nova', '/etc/nova/nova.conf', loaders=dict(nova=load))) == ['api']
    out, err = capfd.readouterr()
    assert out == ''
    assert 'INFO nova.db.migration [-] printed' in err and 'INFO written to fd 1' in err


class _ClaimsEverything(object):
    """A sys.meta_path finder that answers for any name, as Mitogen's importer does on a node (it
    can fetch a module from the controller when it is imported)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        return importlib.machinery.ModuleSpec(name, loader=None)


def test_is_installed_asks_only_the_disk(monkeypatch):
    """Under Mitogen, importlib.util.find_spec said aodh was there on a node without it."""
    assert importlib.util.find_spec('os') is not None
    monkeypatch.setattr(sys, 'meta_path', [_ClaimsEverything()] + sys.meta_path)
    assert importlib.util.find_spec('aodh') is not None
    assert db_schema.is_installed('aodh') is False
    monkeypatch.setitem(db_schema.PACKAGES, 'aodh', 'json')
    assert db_schema.is_installed('aodh') is True
