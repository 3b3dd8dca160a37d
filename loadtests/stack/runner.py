"""Start and stop the loopback stack: processes started detached (loadtests/stack/processes.py),
recorded by pid in a state file.

    stack = Stack(StackConfig(folder=Path("results/stack"), ports=Ports.from_base(18600)))
    state = stack.up()        # schema + flag prefix, migrations, 2 portals, nginx, Prometheus
    stop(folder)              # every pid in folder/state.json, and nothing else

Every process is started in a session of its own (its pid is its process group id), so
stopping one stops its children (gunicorn workers, nginx workers) and nothing else. The
state file records each pid with the executable it runs; `stop` signals a pid only while
/proc still shows that executable there (a pid reused by another program is left alone).
The PostgreSQL schema and the Redis key prefix are the stack's own, created by `up` and
dropped by `stop` unless `keep_data`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from loadtests.stack import render
from loadtests.stack.processes import (
    Process,
    StackError,
    is_running,
    kill_process,
    start_detached,
    stop_process,
    wait_for,
    worker_pids,
)

__all__ = ["Ports", "Process", "Stack", "StackConfig", "StackError", "StackState", "describe", "kill_process", "stop",
           "stop_process", "worker_pids"]

HARNESS = Path(sys.executable).with_name("harness")
STATE_FILE = "state.json"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
ADMIN_ACTOR = "stack"
# After nginx reloads, its old workers finish the requests they hold; new ones use the new site.
DRAIN_S = 1.0


@dataclass(frozen=True)
class Ports:
    """The loopback ports: nginx, one per portal instance, Prometheus."""

    nginx: int
    portals: tuple[int, ...]
    prometheus: int

    @classmethod
    def from_base(cls, base: int, instances: int = 2) -> Ports:
        """nginx on `base`, the instances on base+1.., Prometheus on base+90."""
        return cls(base, tuple(base + 1 + n for n in range(instances)), base + 90)

    @classmethod
    def free(cls, instances: int = 2) -> Ports:
        """Ports the OS says are free now (tests, so parallel runs never collide)."""
        from loadtests.server import free_port

        return cls(free_port(), tuple(free_port() for _ in range(instances)), free_port())


@dataclass(frozen=True)
class StackConfig:
    """What to start and where: the folder holds every rendered file, log and the state file."""

    folder: Path
    ports: Ports
    name: str = "arb_stack"
    postgres_url: str = DEFAULT_POSTGRES
    redis_url: str = DEFAULT_REDIS
    workers: int = 2
    rules: Path = render.RULES
    scrape_interval: str = "5s"
    evaluation_interval: str = "5s"
    portal_env: dict[str, str] = field(default_factory=dict)


@dataclass
class StackState:
    """What `up` started and where to reach it; written to folder/state.json."""

    folder: str
    name: str
    nginx_url: str
    portal_urls: list[str]
    prometheus_url: str
    database_url: str
    schema: str
    postgres_url: str
    flag_store_url: str
    redis_url: str
    redis_prefix: str
    admin_token: str
    secret_key: str
    workers: int
    processes: list[Process] = field(default_factory=list)

    def portal_env(self) -> dict[str, str]:
        """The environment a `harness` command needs to act on this stack's data and flags."""
        return {"HARNESS_ENV": "production", "HARNESS_DATABASE_URL": self.database_url,
                "HARNESS_FLAG_STORE_URL": self.flag_store_url, "HARNESS_SECRET_KEY": self.secret_key}

    def process(self, role: str) -> Process:
        """The process started for `role` (nginx, prometheus, portal-1, ...)."""
        return next(p for p in self.processes if p.role == role)

    def save(self) -> None:
        """Write the state file (owner-only: it holds the admin token)."""
        path = Path(self.folder) / STATE_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(self), handle, indent=2)

    @classmethod
    def load(cls, folder: Path) -> StackState | None:
        """The state in `folder`, or None when no stack was started there."""
        path = Path(folder) / STATE_FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        data["processes"] = [Process(**p) for p in data["processes"]]
        return cls(**data)


def schema_url(base_url: str, schema: str) -> str:
    """`base_url` with every connection's search_path set to `schema`."""
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}options=-csearch_path%3D{schema}"


class Stack:
    """One loopback stack: `up()` starts it and writes the state file; `down()` stops it."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.folder = Path(config.folder).resolve()

    # -- data: a schema and a key prefix of the stack's own ------------------------------

    def _create_schema(self, schema: str) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.config.postgres_url)
        try:
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:  # noqa: BLE001 - any failure: the server is not usable
            raise StackError(f"PostgreSQL at {self.config.postgres_url.split('@')[-1]}: {str(exc).splitlines()[0]}") from None
        finally:
            engine.dispose()

    def _check_redis(self) -> None:
        import redis

        try:
            redis.Redis.from_url(self.config.redis_url, socket_timeout=2).ping()
        except Exception as exc:  # noqa: BLE001
            raise StackError(f"Redis at {self.config.redis_url}: {exc}") from None

    # -- processes ------------------------------------------------------------------------

    def _start(self, role: str, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[Process, subprocess.Popen]:
        log = self.folder / "logs" / f"{role}.log"
        popen = start_detached(argv, log, env, cwd or self.folder)
        return Process(role, popen.pid, argv[0], str(log)), popen

    def _portal_env(self, state: StackState, index: int, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_") and k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update(
            HARNESS_ENV="production",
            HARNESS_DATABASE_URL=state.database_url,
            HARNESS_FLAG_STORE_URL=state.flag_store_url,
            # Shared by the instances: a staged upload is reviewed on whichever one nginx picks.
            HARNESS_UPLOAD_FOLDER=str(self.folder / "uploads"),
            HARNESS_SECRET_KEY=state.secret_key,
            HARNESS_TRUST_USER_HEADER="true",
            HARNESS_ADMIN_TOKENS=f"{ADMIN_ACTOR}:rw:{state.admin_token}",
            HARNESS_HOST="127.0.0.1",
            HARNESS_PORT=str(port),
            HARNESS_WORKERS=str(self.config.workers),
            HARNESS_INSTANCE_PATH=str(self.folder / f"portal-{index}"),
        )
        env.update(self.config.portal_env)
        return env

    def drain(self, state: StackState, indexes: Iterable[int] = ()) -> None:
        """Mark the instances `indexes` (1-based) `down` in nginx's upstream and reload it
        (SIGHUP: new workers with the new site, the old ones finish their requests)."""
        ports = self.config.ports
        down = [f"127.0.0.1:{ports.portals[n - 1]}" for n in indexes]
        self._render_nginx(self.folder / "nginx", list(ports.portals), ports.nginx, down)
        nginx = state.process("nginx")
        if is_running(nginx):
            os.kill(nginx.pid, signal.SIGHUP)
        time.sleep(DRAIN_S)

    def restart_instance(self, state: StackState, index: int, drain: bool = True) -> Process:
        """Restart portal instance `index` as a rolling upgrade does: drained from nginx
        first (unless `drain=False`), stopped gracefully (SIGTERM: in-flight requests
        finish), started again on the same port, ready, and put back behind nginx."""
        role = f"portal-{index}"
        if drain:
            self.drain(state, [index])
        stop_process(state.process(role))
        port = self.config.ports.portals[index - 1]
        process, popen = self._start(role, [str(HARNESS), "serve"], self._portal_env(state, index, port))
        state.processes = [process if p.role == role else p for p in state.processes]
        state.save()
        wait_for(f"http://127.0.0.1:{port}/readyz", popen, role, Path(process.log))
        if drain:
            self.drain(state, [])
        return process

    def _start_nginx(self, role: str, conf: Path) -> tuple[Process, subprocess.Popen]:
        args = ["-p", str(conf.parent), "-c", str(conf), "-e", str(conf.parent / "error.log")]
        check = subprocess.run([shutil.which("nginx"), *args, "-t"], capture_output=True, text=True)
        if check.returncode != 0:
            raise StackError(f"nginx -t refused the rendered site: {check.stderr.strip()}")
        return self._start(role, [shutil.which("nginx"), *args, "-g", "daemon off;"])

    def add_balancer(self, state: StackState, role: str, port: int, instances: list[int]) -> str:
        """Another nginx from the same site, in front of only the listed instances (1-based);
        recorded in the state file like the rest. Returns its URL."""
        conf = self._render_nginx(self.folder / role, [self.config.ports.portals[n - 1] for n in instances], port)
        process, popen = self._start_nginx(role, conf)
        state.processes.append(process)
        state.save()
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/healthz", popen, role, Path(process.log))
        return url

    def _render_nginx(self, nginx_dir: Path, portal_ports: list[int], port: int, down: Iterable[str] = ()) -> Path:
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (nginx_dir / "temp" / name).mkdir(parents=True, exist_ok=True)
        # Started as root, nginx would run its workers as nobody, who cannot reach a folder
        # under a private temp directory to buffer upload bodies: on this loopback stack
        # they keep the starting user (a deployment uses the package's www-data).
        user = "root root" if os.geteuid() == 0 else None
        site = nginx_dir / "arb-portal.conf"
        site.write_text(render.nginx_site(render.NGINX_SITE.read_text(), [f"127.0.0.1:{p}" for p in portal_ports],
                                          f"127.0.0.1:{port}", down))
        main = nginx_dir / "nginx.conf"
        main.write_text(render.nginx_main(nginx_dir, site, user))
        return main

    def _render(self, state: StackState) -> tuple[Path, Path]:
        ports = self.config.ports
        main = self._render_nginx(self.folder / "nginx", list(ports.portals), ports.nginx)
        prom_dir = self.folder / "prometheus"
        prom_dir.mkdir(parents=True, exist_ok=True)
        config = prom_dir / "prometheus.yml"
        config.write_text(render.prometheus_config(
            render.PROMETHEUS_CONFIG.read_text(), [f"127.0.0.1:{port}" for port in ports.portals],
            [Path(self.config.rules).resolve()], self.config.scrape_interval, self.config.evaluation_interval))
        return main, config

    def up(self) -> StackState:
        """Start everything, wait until each part answers, write and return the state."""
        if StackState.load(self.folder) is not None:
            raise StackError(f"a stack is already recorded in {self.folder / STATE_FILE}; stop it first (make stack-down)")
        for tool in ("nginx", "prometheus"):
            if not shutil.which(tool):
                raise StackError(f"{tool} is not installed (Debian package {tool}; .ci/run installs both)")
        (self.folder / "logs").mkdir(parents=True, exist_ok=True)
        cfg, ports = self.config, self.config.ports
        schema, prefix = cfg.name, f"{cfg.name}:flags"
        self._check_redis()
        self._create_schema(schema)
        database_url = schema_url(cfg.postgres_url, schema)
        flag_url = f"{cfg.redis_url}{'&' if '?' in cfg.redis_url else '?'}prefix={prefix}"
        state = StackState(
            folder=str(self.folder), name=cfg.name, nginx_url=f"http://127.0.0.1:{ports.nginx}",
            portal_urls=[f"http://127.0.0.1:{port}" for port in ports.portals],
            prometheus_url=f"http://127.0.0.1:{ports.prometheus}", database_url=database_url, schema=schema,
            postgres_url=cfg.postgres_url, flag_store_url=flag_url, redis_url=cfg.redis_url, redis_prefix=prefix,
            admin_token=secrets.token_urlsafe(24), secret_key=secrets.token_urlsafe(48), workers=cfg.workers)
        state.save()  # from here on, whatever starts is recorded, so stop() can undo a failed start
        try:
            self._start_all(state)
        except BaseException:
            stop(self.folder, keep_data=False)
            raise
        return state

    def _start_all(self, state: StackState) -> None:
        ports = self.config.ports
        nginx_conf, prometheus_conf = self._render(state)
        # Migrate once, before any instance starts (each `harness serve` upgrade is then a no-op).
        upgrade = subprocess.run([str(HARNESS), "db", "upgrade"], env=self._portal_env(state, 1, ports.portals[0]),
                                 cwd=self.folder, capture_output=True, text=True, timeout=120)
        if upgrade.returncode != 0:
            raise StackError(f"harness db upgrade failed: {upgrade.stderr.strip() or upgrade.stdout.strip()}")
        started = []
        for index, port in enumerate(ports.portals, start=1):
            process, popen = self._start(f"portal-{index}", [str(HARNESS), "serve"], self._portal_env(state, index, port))
            state.processes.append(process)
            state.save()
            started.append((process, popen, f"http://127.0.0.1:{port}/readyz"))
        process, popen = self._start_nginx("nginx", nginx_conf)
        state.processes.append(process)
        state.save()
        started.append((process, popen, f"{state.nginx_url}/healthz"))
        process, popen = self._start("prometheus", [
            shutil.which("prometheus"), f"--config.file={prometheus_conf}",
            f"--storage.tsdb.path={self.folder / 'prometheus' / 'data'}",
            f"--web.listen-address=127.0.0.1:{ports.prometheus}", "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=1d"])
        state.processes.append(process)
        state.save()
        started.append((process, popen, f"{state.prometheus_url}/-/ready"))
        for process, popen, url in started:
            wait_for(url, popen, process.role, Path(process.log))


def stop(folder: Path, keep_data: bool = False) -> list[str]:
    """Stop every process the state file in `folder` records (reverse order); drop the data unless kept."""
    folder = Path(folder).resolve()
    state = StackState.load(folder)
    if state is None:
        return []
    stopped = []
    for process in reversed(state.processes):
        if stop_process(process):
            stopped.append(f"{process.role} (pid {process.pid})")
    if not keep_data:
        _drop_data(state)
    (folder / STATE_FILE).unlink(missing_ok=True)
    return stopped


def _drop_data(state: StackState) -> None:
    """Drop the stack's schema and its flag keys (best effort: the servers may be gone)."""
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(state.postgres_url)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{state.schema}" CASCADE'))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        print(f"warning: could not drop schema {state.schema}: {exc}", file=sys.stderr)
    try:
        import redis

        client = redis.Redis.from_url(state.redis_url, socket_timeout=2)
        keys = list(client.scan_iter(match=f"{state.redis_prefix}:*", count=500))
        if keys:
            client.delete(*keys)
    except Exception as exc:  # noqa: BLE001
        print(f"warning: could not delete flag keys {state.redis_prefix}:*: {exc}", file=sys.stderr)


def describe(state: StackState) -> str:
    """Every address of the stack, for a person."""
    lines = [f"stack {state.name} (state: {Path(state.folder) / STATE_FILE})",
             f"  portal (nginx):  {state.nginx_url}/   upload form {state.nginx_url}/upload"]
    for index, url in enumerate(state.portal_urls, start=1):
        pid = state.process(f"portal-{index}").pid
        lines.append(f"  instance {index}:      {url}/   metrics {url}/metrics   ({state.workers} workers, master pid {pid})")
    lines += [f"  prometheus:      {state.prometheus_url}/   alerts {state.prometheus_url}/alerts   targets {state.prometheus_url}/targets",
              f"  database:        {state.postgres_url.split('@')[-1]} schema {state.schema}",
              f"  flag store:      {state.redis_url.split('@')[-1]} prefix {state.redis_prefix}:",
              f"  admin API:       Authorization: Bearer <admin_token in the state file> (actor {ADMIN_ACTOR})",
              f"  logs:            {Path(state.folder) / 'logs'}/",
              "  harness commands on this stack: .venv/bin/python -m loadtests.stack env > stack.env; set -a; . ./stack.env; set +a"]
    return "\n".join(lines)
