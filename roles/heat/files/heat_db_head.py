# Prints the newest schema version that the installed heat ships (one line): the highest number of
# its sqlalchemy-migrate scripts, so the role can compare it with `heat-manage db_version` and run
# `db_sync` only when they differ.
import os

from heat.db.sqlalchemy import migration

versions = os.path.join(os.path.dirname(os.path.abspath(migration.__file__)), "migrate_repo", "versions")
print(max(int(name.split("_", 1)[0]) for name in os.listdir(versions) if name[:3].isdigit()))
