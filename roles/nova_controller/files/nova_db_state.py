# Prints, as JSON, the alembic revision of nova's API and main (cell) databases and the head
# revision the installed nova ships for each, so the role runs `api_db sync` / `db sync` only
# when a schema is behind. Reads /etc/nova/nova.conf; changes nothing.
import json

from alembic.runtime import migration as alembic_migration
from alembic.script import ScriptDirectory
from nova import config
from nova.db import migration

config.parse_args(["nova-db-state"], init_rpc=False)
state = {}
for database in ("api", "main"):
    head = ScriptDirectory.from_config(migration._find_alembic_conf(database)).get_current_head()
    with migration._get_engine(database).connect() as conn:
        current = alembic_migration.MigrationContext.configure(conn).get_current_revision()
    state[database] = {"current": current, "head": head}
print(json.dumps(state))
