# Prints the alembic head revision that the installed placement ships (one line), so the role can
# compare it with `placement-manage db version` and run `db sync` only when they differ.
from alembic.script import ScriptDirectory
from placement.db.sqlalchemy import migration

print(ScriptDirectory.from_config(migration._alembic_config()).get_current_head())
