"""A throw-away multi-node Ray cluster on loopback for the tests.

Every node is ``ray start --block`` in its own session (process group) with its own random
loopback ports and a temp dir under the test's tmp_path; teardown signals exactly those
process groups (SIGKILL) - never a broad ``ray stop`` or a kill by name, since
other people's Ray instances may share this machine.
"""
from __future__ import annotations

import os
import random
import signal
import socket
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


#: ports handed out in this process (a worker-port range counts whole): never handed out
#: twice, so no two components of one node, or of two nodes, get the same port (Ray refuses a
#: node whose worker range holds one of its own ports)
_TAKEN: set[int] = set()


def free_port(span: int = 1) -> int:
    """A free loopback port ``p`` such that ``p .. p + span - 1`` overlaps no port handed out
    before in this process."""
    for _ in range(400):
        p = random.randint(20000, 60000 - span)
        if any(q in _TAKEN for q in range(p, p + span)):
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                continue
        _TAKEN.update(range(p, p + span))
        return p
    raise RuntimeError("no free loopback port")


def _ports() -> list[str]:
    lo = free_port(span=61)  # the worker range first: the named ports then avoid it
    out = ["--min-worker-port", str(lo), "--max-worker-port", str(lo + 60)]
    names = ("--node-manager-port", "--object-manager-port", "--metrics-export-port",
             "--dashboard-agent-listen-port", "--dashboard-agent-grpc-port",
             "--runtime-env-agent-port")
    for n in names:
        out += [n, str(free_port())]
    return out


class Cluster:
    def __init__(self, tmp: Path, nodes: int = 2, cpus_per_node: int = 1,
                 worker_env: dict[str, str] | None = None):
        self.tmp = Path(tmp)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.raytmp: Path | None = None
        self.logs: list[Path] = []
        self.nodes = nodes
        self.cpus = cpus_per_node
        self.worker_env = dict(worker_env or {})  # seen by the tasks (set on the nodes)

    def node_env(self) -> dict[str, str]:
        return {**self.env(), **self.worker_env}

    @staticmethod
    def env() -> dict[str, str]:
        """The environment of the nodes and of the drivers that connect to them: a loopback
        test cluster without token auth (the token file in ~/.ray is shared with whoever
        else runs Ray on this machine)."""
        env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
        env.pop("RAY_ADDRESS", None)
        return env

    def _start(self, args: list[str], name: str) -> None:
        log = self.tmp / f"{name}.log"
        self.logs.append(log)
        env = self.node_env()
        cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block",
               "--node-ip-address", "127.0.0.1", "--num-cpus", str(self.cpus),
               "--disable-usage-stats", *_ports(), *args]
        with open(log, "wb") as fh:
            self.procs.append(subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                               env=env, start_new_session=True))

    def start(self, timeout: float = 120.0) -> "Cluster":
        # Ray's temp dir holds AF_UNIX sockets (paths <= 107 bytes): a short one under /tmp,
        # created here and removed in stop(), not pytest's long tmp_path
        tmpdir = self.raytmp = Path(tempfile.mkdtemp(prefix="archlens-ray-", dir="/tmp"))
        self._start(["--head", "--port", str(self.port), "--temp-dir", str(tmpdir),
                     "--include-dashboard", "false"], "head")
        self._wait_port(timeout)  # the head's GCS listens: the other nodes can join
        for i in range(1, self.nodes):
            self._start(["--address", self.address], f"node{i}")
        self._wait_nodes(self.nodes, timeout)
        return self

    def _wait_port(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[0].poll() is not None:
                raise RuntimeError(f"ray start exited: {self.logs[0].read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the head did not listen on {self.address} in {timeout:.0f} s")

    def _wait_nodes(self, n: int, timeout: float) -> None:
        """Until ``n`` nodes are alive: one driver process connects once and polls
        ``ray.nodes()`` (a connection costs seconds here; polling is cheap)."""
        code = ("import logging, sys, time, ray\n"
                "ray.init(address=%r, logging_level=logging.ERROR, log_to_driver=False)\n"
                "end = time.monotonic() + %f\n"
                "while time.monotonic() < end:\n"
                "    alive = sum(1 for x in ray.nodes() if x['Alive'])\n"
                "    if alive >= %d:\n"
                "        print(alive); sys.exit(0)\n"
                "    time.sleep(0.2)\n"
                "print(alive); sys.exit(1)\n" % (self.address, timeout, n))
        try:
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=timeout + 60, env=self.env())
        except subprocess.TimeoutExpired:
            r = None
        if r is None or r.returncode != 0:
            dead = [str(p.args[-1]) for p in self.procs if p.poll() is not None]
            logs = self.logs[-1].read_text()[-2000:] if self.logs else ""
            raise RuntimeError(f"cluster did not reach {n} nodes in {timeout:.0f} s "
                               f"(exited: {dead}): {logs}")

    def stop(self) -> None:
        # SIGKILL at once: every process of a node (gcs, raylet, its workers) is in that
        # node's process group, and the temp dir is removed below; a graceful SIGTERM took
        # ~6 s for nothing the tests look at
        for sig in (signal.SIGKILL,):
            for p in reversed(self.procs):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline and any(p.poll() is None for p in self.procs):
                time.sleep(0.2)
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.raytmp is not None and not self.leftover():
            shutil.rmtree(self.raytmp, ignore_errors=True)

    def leftover(self) -> list[str]:
        """Processes still running that belong to this cluster (by its temp dir or port)."""
        marks = tuple(m for m in (str(self.tmp), str(self.raytmp or self.tmp), str(self.port)))
        found = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if any(m in cmd for m in marks) and "pytest" not in cmd:
                found.append(f"{d.name}: {cmd[:120]}")
        return found
