"""Shared bench plumbing: a separate database, a production server on 127.0.0.1, helpers to time things.

Benchmarks run against their own database (`revops_bench` on the embedded server, or
BENCH_DATABASE_URL) so they never touch development data, and start the app the way
production does (gunicorn, DEBUG off).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bench_env(db_name: str = "revops_bench") -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "revops.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": os.environ.get("BENCH_SECRET_KEY", secrets.token_urlsafe(50)),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
    }
    if os.environ.get("BENCH_DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    else:
        env.pop("DATABASE_URL", None)
        env["REVOPS_DB_NAME"] = db_name
    env.pop("CELERY_BROKER_URL", None)
    return env


def setup_django(db_name: str = "revops_bench") -> None:
    os.environ.update(bench_env(db_name))
    import django

    django.setup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def production_server(
    *, workers: int, port: int | None = None, worker_class: str = "sync", db_name: str = "revops_bench"
):
    """gunicorn serving revops on 127.0.0.1; yields the base URL and stops the server afterwards."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "gunicorn", "revops.wsgi", "--bind", f"127.0.0.1:{port}"]
    cmd += ["--workers", str(workers), "--worker-class", worker_class, "--log-level", "warning", "--backlog", "256"]
    server = subprocess.Popen(cmd, cwd=ROOT, env=bench_env(db_name))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _postmaster_pid() -> int | None:
    """The embedded server's postmaster (first line of its postmaster.pid), or None with BENCH_DATABASE_URL."""
    if os.environ.get("BENCH_DATABASE_URL"):
        return None
    pid_file = Path(os.environ.get("REVOPS_PGDATA", ROOT / ".data" / "pg")) / "postmaster.pid"
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def cpu_seconds() -> dict[str, float]:
    """CPU time used so far by this bench's PostgreSQL server processes and by gunicorn processes.

    With the embedded server only its own postmaster and children count, so other PostgreSQL servers on the
    machine do not inflate the figure; with BENCH_DATABASE_URL every local postgres process counts.
    """
    import psutil

    totals = {"postgres": 0.0, "gunicorn": 0.0}
    postmaster = _postmaster_pid()
    for proc in psutil.process_iter(["name", "cmdline", "pid", "ppid"]):
        try:
            kind = None
            if proc.info["name"] == "postgres":
                if postmaster is None or postmaster in (proc.info["pid"], proc.info["ppid"]):
                    kind = "postgres"
            elif "gunicorn" in " ".join(proc.info["cmdline"] or []) and Path(proc.cwd()) == ROOT:
                kind = "gunicorn"  # this checkout's server only (cwd is ROOT), not another checkout's
            if kind:
                times = proc.cpu_times()
                totals[kind] += times.user + times.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return totals


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n{title}")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
