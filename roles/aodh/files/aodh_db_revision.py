# Prints the alembic revision of aodh's database (last line; None for an empty database), without
# changing it: aodh has no `db version` command, so this reads the revision the way `aodh-dbsync`
# does before it upgrades (aodh.storage.impl_sqlalchemy.Connection.upgrade), with aodh's own
# configuration (/etc/aodh/aodh.conf) and connection code. Run as the aodh user (aodh.conf is
# root:aodh 0640). oslo.log writes aodh's log lines to stdout when no log file is set: the
# revision is the last line.
import logging

from alembic import migration
from aodh import service
from aodh.storage import impl_sqlalchemy

conf = service.prepare_service([])
logging.getLogger("alembic").setLevel(logging.WARNING)
connection = impl_sqlalchemy.Connection(conf, conf.database.connection)
with connection._engine_facade.get_engine().connect() as database:
    revision = migration.MigrationContext.configure(database).get_current_revision()
connection.disconnect()
print(revision)
