# Prints the alembic head revision that the installed aodh ships (one line), without touching the
# database, so the role can compare it with the database's revision (aodh_db_revision.py) and run
# `aodh-dbsync` only when they differ. The alembic.ini is the one aodh's own upgrade reads
# (aodh.storage.impl_sqlalchemy.Connection._get_alembic_config: aodh/storage/sqlalchemy/alembic/).
import os

from alembic.config import Config
from alembic.script import ScriptDirectory
from aodh import storage

ini = os.path.join(os.path.dirname(os.path.abspath(storage.__file__)), "sqlalchemy", "alembic", "alembic.ini")
print(ScriptDirectory.from_config(Config(ini)).get_current_head())
