"""`happiness serve` as a subprocess for the load benchmark: its environment, readiness, and
the CPU time its processes (the supervisor and every worker) have used and their resident
memory, read from /proc.

HAPPINESS_BENCH_SERVER_DIR=PATH serves from another checkout (e.g. a `git worktree` of an
earlier commit with the same migrations), so that old and new code meet the same load
generator: `python -m service.cli` then imports that checkout's `service` package.
HAPPINESS_BENCH_SERVER_PYTHON=PATH serves with another interpreter, e.g. the virtual
environment of a serving-only install (`make run`), which has no benchmark tools."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


ADMIN_TOKEN = "bench-admin-token-0123456789abcdef0123"
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(database_url: str, data_dir: Path, port: int, detector: str, workers: int | None = None,
          log=subprocess.PIPE) -> subprocess.Popen:
    """Default workers (the CPUs it may use) unless `workers` is given; no per-camera rate
    limit, so the load is not throttled. The server's log goes to `log` (a long run should give
    a file: nobody reads the pipe until the server dies)."""
    environment = {**os.environ, "HAPPINESS_DATABASE_URL": database_url, "HAPPINESS_DATA_DIR": str(data_dir),
                   "HAPPINESS_ADMIN_TOKEN": ADMIN_TOKEN, "HAPPINESS_DETECTOR": detector,
                   "HAPPINESS_CAMERA_RATE_PER_MINUTE": "0", "HAPPINESS_LOG_LEVEL": "warning",
                   "TF_CPP_MIN_LOG_LEVEL": "3"}
    workers_option = ["--workers", str(workers)] if workers else []
    python = os.environ.get("HAPPINESS_BENCH_SERVER_PYTHON") or sys.executable
    return subprocess.Popen([python, "-m", "service.cli", "serve", "--port", str(port), *workers_option],
                            env=environment, stdout=subprocess.DEVNULL, stderr=log,
                            cwd=os.environ.get("HAPPINESS_BENCH_SERVER_DIR") or None)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def await_ready(url: str, process: subprocess.Popen) -> None:
    """Poll /ready until it answers (the tests' helper: it reports the server's stderr if it dies)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from support import wait_until_ready

    wait_until_ready(url, process, timeout=300)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (uvicorn's workers)."""
    return sum(_own_cpu_seconds(member) for member in [pid, *_children(pid)])


def resident_mb(pid: int) -> float:
    """Resident memory (VmRSS) of a process and its children, in MiB: does a long run grow it?"""
    return sum(_own_resident_kib(member) for member in [pid, *_children(pid)]) / 1024


def _own_resident_kib(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith("VmRSS:")), 0)


def memory_kinds_mib(pid: int) -> dict[str, float]:
    """Where a process's resident memory lies (/proc/PID/smaps), in MiB: `heap` (glibc's main
    arena), `anon` (other anonymous mappings: other arenas, large blocks mapped on their own,
    Python's object arenas, thread stacks), `file` (libraries and mapped files); and `threads`.
    Tells a growing heap from more mappings or more threads."""
    kinds = {"heap": 0, "anon": 0, "file": 0}
    kind = "anon"
    try:
        lines = Path(f"/proc/{pid}/smaps").read_text().splitlines()
        threads = len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return {**kinds, "threads": 0}
    for line in lines:
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5:  # a mapping's header: range perms offset dev inode [path]
            path = fields[5] if len(fields) > 5 else ""
            kind = "heap" if path == "[heap]" else "file" if fields[4] != "0" else "anon"
        elif fields[0] == "Rss:":
            kinds[kind] += int(fields[1])
    return {**{name: kib / 1024 for name, kib in kinds.items()}, "threads": threads}


def _own_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND  # utime, stime (stat fields 14, 15)


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == pid:
                children.append(int(entry.name))
    return children
