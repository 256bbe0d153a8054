# Prints the alembic head revision that the installed cinder ships (one line), so the role can
# compare it with `cinder-manage db version` and run `db sync` only when they differ.
from alembic.script import ScriptDirectory
from cinder.db import migration

print(ScriptDirectory.from_config(migration._find_alembic_conf()).get_current_head())
