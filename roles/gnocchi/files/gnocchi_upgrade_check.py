# Prints what `gnocchi-upgrade` would still have to do, as one JSON line
# {"head": ..., "indexer": ..., "sacks": ..., "todo": [...]}, reading only: gnocchi-upgrade itself always writes
# (it rewrites the file storage's settings file on every run), so the role runs it only when
# "todo" is not empty. Run as the gnocchi user, with gnocchi's own configuration
# (/etc/gnocchi/gnocchi.conf) and driver classes, so it sees what gnocchi-upgrade would see.
# The drivers are built directly, not through gnocchi's get_driver() functions: those retry a
# driver they cannot build forever, this fails at once.
import json
import os

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import url as sa_url

from gnocchi import incoming, service, utils
from gnocchi.indexer import sqlalchemy as sql_indexer

conf = service.prepare_service(args=[], log_to_std=True, skip_log_opts=True)
todo = []

# The indexer: its alembic revision against the head this gnocchi ships (no alembic_version table
# yet: None), then the default archive policies and rule that gnocchi-upgrade creates when the
# indexer holds neither a policy nor a rule. Only MySQL and PostgreSQL URLs are gnocchi's (Debian's
# sample gnocchi.conf has a SQLite one: a check-mode run before the role wrote its own).
alembic_ini = os.path.join(os.path.dirname(sql_indexer.__file__), "alembic", "alembic.ini")
head = ScriptDirectory.from_config(Config(alembic_ini)).get_current_head()
backend = sa_url.make_url(conf.indexer.url).get_backend_name()
current = None
if backend not in ("mysql", "postgresql"):
    todo.append("indexer URL is %s, not MySQL or PostgreSQL" % backend)
else:
    index = sql_indexer.SQLAlchemyIndexer(conf)
    with index.facade.reader_connection() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        todo.append("indexer at revision %s, this gnocchi ships %s" % (current, head))
    elif not index.list_archive_policies() and not index.list_archive_policy_rules():
        todo.append("indexer without archive policies and rules")
    index.disconnect()

# The storage: the file driver's upgrade creates <basepath>/tmp and its settings file there
# (swift's, ceph's and redis's upgrade do nothing; s3, which makes a bucket, is not the role's).
if conf.storage.driver == "file":
    store = utils.get_driver_class("gnocchi.storage", conf.storage)(conf.storage)
    if not os.path.isfile(os.path.join(store.basepath_tmp, store.CFG_PREFIX)):
        todo.append("storage not initialised in %s" % store.basepath)

# The incoming storage: its number of sacks (a settings file for file, an object for swift).
# gnocchi-upgrade creates the sacks only when that number is missing, so nothing else is asked
# here: a check it would not act on would make it run on every pass.
inbox = utils.get_driver_class("gnocchi.incoming", conf.incoming)(conf.incoming, conf.metricd.greedy)
try:
    sacks = inbox.NUM_SACKS
except incoming.SackDetectionError:
    sacks = None
    todo.append("incoming storage without sacks")

print(json.dumps({"head": head, "indexer": current, "sacks": sacks, "todo": todo}))
