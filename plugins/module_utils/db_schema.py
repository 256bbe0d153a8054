# -*- coding: utf-8 -*-
# Copyright (c) 2026, cloudlab.openstack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Logic of the db_schema module: is an OpenStack service's database schema behind the code installed
on this node? Read-only.

For each supported service, one ``load_<service>(config_file)`` loads the service's configuration
the way the service's own manage command does (its oslo.config options, its engine code) and returns
its databases as ``Database`` objects: where the URL comes from, how to read the head revision the
installed code ships and the revision the database is at. They replaced the per-role scripts the roles
once ran with ``python3 -c`` and follow what those did; they import the service's packages
inside the functions, so this file imports on a machine without OpenStack (unit tests, sanity).

Everything that decides (comparison, heat's newest script, URL masking, the overall verdict) is a pure
function below, unit-tested in tests/unit/plugins/module_utils/test_db_schema.py.

Written against Zed as Debian 12 packages it (nova 26, placement 8, cinder 21, heat 19, aodh 15).
The private helpers used are the ones the services' own manage commands call; each is named where it
is used, so a release that renames one breaks here, loudly, in one place.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import configparser
import importlib.machinery
import logging
import os
import re

from urllib.parse import unquote

from ansible_collections.cloudlab.openstack.plugins.module_utils import forked

DEFAULT_CONFIG_FILE = '/etc/{0}/{0}.conf'

# The databases of each service, in the order they are read. nova names its two as nova-manage does
# (`api_db sync` = api, `db sync` = main, the cell database of [database] connection); the others
# have one, named after the service.
DATABASES = {
    'aodh': ('aodh',),
    'cinder': ('cinder',),
    'heat': ('heat',),
    'nova': ('api', 'main'),
    'placement': ('placement',),
}
SERVICES = tuple(sorted(DATABASES))

# The Python package whose presence means "the service's code is installed on this node".
PACKAGES = dict((name, name) for name in SERVICES)

_URL = re.compile(r'^(?P<scheme>[A-Za-z][\w+.-]*)://'
                  r'(?:(?P<user>[^:/@]*)(?::(?P<password>.*))?@)?'
                  r'(?P<rest>[^@]*)$', re.DOTALL)
# A sqlalchemy-migrate change script: NNN_description.py (or its .pyc, in a sourceless install).
_MIGRATE_SCRIPT = re.compile(r'^(\d+)_.*\.pyc?$')


class DbSchemaError(Exception):
    """A failure to report as it is: the message says what failed and what to check."""


class Database(object):
    """One database of a service.

    ``option`` names where its URL comes from (``[api_database] connection``), ``url`` is that URL as
    the service read it (it holds the password), ``head()`` returns ``(head, known)``: the newest
    revision the installed code ships and the set of all revisions it ships (None when unknown), and
    ``current()`` returns the revision the database is at, None for an empty database.
    """

    def __init__(self, name, option, url, head, current):
        self.name = name
        self.option = option
        self.url = url
        self.head = head
        self.current = current


# ------------------------------------------------------------------------------------ pure logic

def default_config_file(service):
    """The configuration file a service reads by default: /etc/<service>/<service>.conf."""
    return DEFAULT_CONFIG_FILE.format(service)


def find_on_sys_path(name):
    """The spec of a top-level package found in sys.path's directories, or None.

    Only the path finder is asked, not every finder of sys.meta_path: under Mitogen the module runs
    in an interpreter whose meta_path holds Mitogen's importer, which answers "found" for a package
    it could fetch from the controller later, so importlib.util.find_spec said aodh was installed on
    a node without it (molecule/site's test_db_schema, clean-clone CI of 0057dab).
    """
    return importlib.machinery.PathFinder.find_spec(name)


def is_installed(service, find_spec=None):
    """Whether the service's Python package is installed on this node, without importing it."""
    find_spec = find_spec or find_on_sys_path
    try:
        return find_spec(PACKAGES[service]) is not None
    except (ImportError, ValueError):
        return False


def parse_url(url):
    """A database URL's parts: dict(scheme, user, password, rest), or None when it is not a URL.

    ``rest`` is what follows the credentials (host, port, /database, ?query). The password is
    everything between the user's colon and the last ``@`` before the host, as SQLAlchemy reads it.
    """
    match = _URL.match(url or '')
    return match.groupdict() if match else None


def describe_url(url):
    """The URL without its password and query, for messages: mysql+pymysql://nova@10.0.100.149/nova."""
    parts = parse_url(url)
    if parts is None:
        return '(a value that is not a database URL)'
    user = '%s@' % parts['user'] if parts['user'] else ''
    return '%s://%s%s' % (parts['scheme'], user, parts['rest'].split('?', 1)[0])


def url_secrets(url):
    """The strings to hide from the task result: the URL and its password, raw and %-decoded."""
    found = set()
    if url:
        found.add(url)
        parts = parse_url(url)
        if parts and parts['password']:
            found.update([parts['password'], unquote(parts['password'])])
    return set(s for s in found if s)


def migrate_head(names):
    """The newest sqlalchemy-migrate version in a versions/ directory listing: the highest NNN of the
    NNN_name.py scripts (heat: 073_newton.py ... 086_drop_watch_rule_watch_data_tables.py -> 86)."""
    numbers = [int(match.group(1)) for match in (_MIGRATE_SCRIPT.match(name) for name in names) if match]
    if not numbers:
        raise ValueError('no NNN_*.py migration script in the listing')
    return max(numbers)


def migrate_settings(text):
    """repository_id and version_table of a sqlalchemy-migrate repository's migrate.cfg."""
    parser = configparser.ConfigParser()
    parser.read_string(text)
    return (parser.get('db_settings', 'repository_id'),
            parser.get('db_settings', 'version_table', fallback='migrate_version'))


def compare(current, head, known=None):
    """One database's verdict: dict(current, head, behind, ahead).

    - current None: an empty database (no version table yet): behind, the sync creates the schema.
    - equal: up to date.
    - numbers (sqlalchemy-migrate versions, heat): ordered; lower is behind, higher is ahead.
    - alembic revisions are not ordered by their names: a revision the installed code ships (in
      ``known``) is behind; one it does not ship is ahead (a newer release migrated the database:
      the installed code cannot sync it). Without ``known`` any difference is behind, which is
      what the roles compared before this module.
    """
    if current is None:
        behind, ahead = True, False
    elif current == head:
        behind, ahead = False, False
    elif isinstance(current, int) and isinstance(head, int):
        behind, ahead = current < head, current > head
    elif known is not None and current not in known:
        behind, ahead = False, True
    else:
        behind, ahead = True, False
    return dict(current=current, head=head, behind=behind, ahead=ahead)


def summarize(service, databases, installed=True):
    """The module's result (without changed) from {name: compare(...)}."""
    return dict(
        service=service,
        installed=installed,
        databases=databases,
        behind=any(db['behind'] for db in databases.values()),
        ahead=any(db['ahead'] for db in databases.values()),
    )


def not_installed(service):
    """The result on a node without the service's code (check mode before the install): every
    database unknown and behind, so that a role plans its sync."""
    databases = dict((name, dict(current=None, head=None, behind=True, ahead=False))
                     for name in DATABASES[service])
    return summarize(service, databases, installed=False)


def read_databases(service, config_file, hide=None, loaders=None):
    """Load the service's databases and compare each with the installed code: {name: compare(...)}.

    ``hide`` is called with the secret strings of every URL (module.no_log_values.update) before any
    database is read, so that no message can leak one. Raises DbSchemaError saying what failed.
    """
    loader = (loaders or LOADERS)[service]
    try:
        databases = loader(config_file)
    except ImportError as exc:
        raise DbSchemaError('the installed %s cannot be imported (%s): check that its packages and their '
                            'dependencies are installed for this Python' % (service, _text(exc)))
    except Exception as exc:
        raise DbSchemaError("cannot load %s's configuration from %s as %s does: %s"
                            % (service, config_file, service, _text(exc)))

    for database in databases:
        if hide is not None:
            hide(url_secrets(database.url))
    result = {}
    for database in databases:
        if not database.url:
            raise DbSchemaError('%s sets no %s: %s cannot reach its %s database'
                                % (config_file, database.option, service, database.name))
        try:
            head, known = database.head()
        except Exception as exc:
            raise DbSchemaError('cannot read the %s schema revision the installed %s ships: %s'
                                % (database.name, service, _text(exc)))
        try:
            current = database.current()
        except Exception as exc:
            raise DbSchemaError("cannot read the schema revision of %s's %s database at %s (%s in %s): %s"
                                % (service, database.name, describe_url(database.url), database.option,
                                   config_file, _text(exc)))
        result[database.name] = compare(current, head, known)
    return result


def read_databases_in_child(service, config_file, hide=None, loaders=None, timeout=None):
    """read_databases() in a forked child process (module_utils/forked.py), so that the service's code
    is imported and its options registered there, never in the calling interpreter. Under Mitogen that
    interpreter runs the host's next modules: a second service's read in it would fail with "duplicate
    option: enable_new_services" (nova and cinder both register it on oslo.config's global CONF).

    The child collects the strings read_databases hides and sends them with its answer, an error
    included; ``hide`` gets them before anything else happens. Raises DbSchemaError: read_databases'
    own messages as they are, or one naming the service when the child failed in another way or ended
    without an answer (its exit status or signal). ``timeout`` (seconds, None: none) bounds the read.
    """
    try:
        answer = forked.run_in_child(_read_in_child, (service, config_file, loaders), timeout=timeout)
    except forked.ChildError as exc:
        raise DbSchemaError("the child process that reads %s's database schema revisions failed: %s"
                            % (service, exc))
    if hide is not None and answer['secrets']:
        hide(set(answer['secrets']))
    if 'error' in answer:
        raise DbSchemaError(answer['error'])
    return answer['databases']


def _read_in_child(service, config_file, loaders):
    """What read_databases_in_child's child runs: plain data for the pipe, the secrets always."""
    secrets = set()
    try:
        databases = read_databases(service, config_file, hide=secrets.update, loaders=loaders)
    except DbSchemaError as exc:
        return dict(secrets=sorted(secrets), error=str(exc))
    except Exception as exc:  # any failure is the task's message
        return dict(secrets=sorted(secrets), error="cannot read %s's database schema revisions: %s: %s"
                    % (service, exc.__class__.__name__, _text(exc)))
    return dict(secrets=sorted(secrets), databases=databases)


def _text(exc):
    """An exception as one readable line (SQLAlchemy adds a background link on a second line)."""
    text = ' '.join(str(exc).split())
    return text or exc.__class__.__name__


# ------------------------------------------------------------ readers shared by the services
# They run on the node, against the service's own objects; imports stay inside.

def _alembic_head(config):
    """(head, every revision shipped) of an alembic.config.Config, without touching a database."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(config)
    return script.get_current_head(), set(rev.revision for rev in script.walk_revisions())


def _alembic_ini_head(path):
    from alembic.config import Config

    return _alembic_head(Config(path))


def _alembic_current(engine):
    """The alembic revision of the database behind an engine; None without an alembic_version table.
    Only reads: MigrationContext.get_current_revision is what `<service>-manage db version` prints."""
    from alembic.runtime import migration

    # Alembic says "Context impl MySQLImpl." at INFO: not for the task output.
    logging.getLogger('alembic').setLevel(logging.WARNING)
    with engine.connect() as conn:
        return migration.MigrationContext.configure(conn).get_current_revision()


def _migrate_current(engine, repository):
    """The sqlalchemy-migrate version of the database behind an engine; None when the database is not
    under version control (no version table, or no row for this repository).

    Reads the version table directly: `heat-manage db_version` (oslo.db's db_version) writes - it
    puts an empty database under version control - and sqlalchemy-migrate's own db_version turns
    every error, a refused connection included, into "not under version control"."""
    import sqlalchemy

    with open(os.path.join(repository, 'migrate.cfg')) as handle:
        repository_id, table = migrate_settings(handle.read())
    with engine.connect() as conn:
        if table not in sqlalchemy.inspect(conn).get_table_names():
            return None
        version_table = sqlalchemy.table(table, sqlalchemy.column('repository_id'), sqlalchemy.column('version'))
        row = conn.execute(sqlalchemy.select(version_table.c.version)
                           .where(version_table.c.repository_id == repository_id)).first()
    return None if row is None else int(row[0])


def _migrate_head(repository):
    return migrate_head(os.listdir(os.path.join(repository, 'versions'))), None


# ------------------------------------------------------------------------- the services
# Each returns [Database]; config_file is passed as the service's default configuration file, so
# its configuration directories (/etc/<service>/<service>.conf.d) are read as the service reads them.

def load_nova(config_file):
    """nova's own parse_args, then per database the
    alembic.ini and engine nova-manage's `api_db sync` / `db sync` use (nova.db.migration)."""
    from nova import config
    from nova.db import migration

    config.parse_args(['db_schema'], default_config_files=[config_file], init_rpc=False)

    def database(name, option, url):
        return Database(name, option, url,
                        head=lambda: _alembic_head(migration._find_alembic_conf(name)),
                        current=lambda: _alembic_current(migration._get_engine(name)))

    return [database('api', '[api_database] connection', config.CONF.api_database.connection),
            database('main', '[database] connection', config.CONF.database.connection)]


def load_placement(config_file):
    """placement-manage's configuration (its own ConfigOpts and options) and engine; the head from the
    alembic.ini placement's `db sync` uses."""
    from oslo_config import cfg
    from placement import conf as placement_conf
    from placement import db_api
    from placement.db.sqlalchemy import migration

    conf = cfg.ConfigOpts()
    placement_conf.register_opts(conf)
    conf([], project='placement', default_config_files=[config_file])
    db_api.configure(conf)
    return [Database('placement', '[placement_database] connection', conf.placement_database.connection,
                     head=lambda: _alembic_head(migration._alembic_config()),
                     current=lambda: _alembic_current(migration.get_engine()))]


def load_cinder(config_file):
    """cinder-manage's configuration (global CONF with cinder's options) and engine; the head from the
    alembic.ini cinder's `db sync` uses."""
    from oslo_config import cfg
    from cinder.common import config as cinder_config  # noqa: F401 - cinder's global options, as cinder-manage
    from cinder.db import migration
    from cinder.db.sqlalchemy import api as db_api

    cfg.CONF([], project='cinder', default_config_files=[config_file])
    return [Database('cinder', '[database] connection', cfg.CONF.database.connection,
                     head=lambda: _alembic_head(migration._find_alembic_conf()),
                     current=lambda: _alembic_current(db_api.get_engine()))]


def load_heat(config_file):
    """heat-manage's configuration and engine. Heat (Zed) still migrates with sqlalchemy-migrate:
    the head is the highest script number of its repository,
    the database's version is read from the version table that repository names."""
    from oslo_config import cfg
    from heat.db.sqlalchemy import api as db_api
    from heat.db.sqlalchemy import migration

    cfg.CONF([], project='heat', prog='heat-manage', default_config_files=[config_file])
    repository = os.path.join(os.path.dirname(os.path.abspath(migration.__file__)), 'migrate_repo')
    return [Database('heat', '[database] connection', cfg.CONF.database.connection,
                     head=lambda: _migrate_head(repository),
                     current=lambda: _migrate_current(db_api.get_engine(), repository))]


def load_aodh(config_file):
    """aodh's prepare_service and storage connection, as aodh-dbsync reads the revision before it
    upgrades; the head from the alembic.ini that upgrade uses."""
    from aodh import service
    from aodh import storage
    from aodh.storage import impl_sqlalchemy

    conf = service.prepare_service([], config_files=[config_file])
    ini = os.path.join(os.path.dirname(os.path.abspath(storage.__file__)), 'sqlalchemy', 'alembic', 'alembic.ini')

    def current():
        # impl_sqlalchemy.Connection sets max_retries=0 (aodh retries around it); _engine_facade is
        # the engine aodh's upgrade() reads its revision from.
        connection = impl_sqlalchemy.Connection(conf, conf.database.connection)
        try:
            return _alembic_current(connection._engine_facade.get_engine())
        finally:
            connection.disconnect()

    return [Database('aodh', '[database] connection', conf.database.connection,
                     head=lambda: _alembic_ini_head(ini), current=current)]


LOADERS = dict(aodh=load_aodh, cinder=load_cinder, heat=load_heat, nova=load_nova, placement=load_placement)
