"""The CPU count behind the default number of workers: affinity lowered by a cgroup CPU quota,
read from constructed /proc/self and cgroup trees (v2, v1, hybrid, container views)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.config import Settings
from service.runtime.cpus import cgroup_cpu_quota, usable_cpus


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def fake_host(tmp_path: Path, cgroup: str, mounts: list[tuple[str, str, str, str]]) -> Path:
    """A /proc/self with `cgroup` as its cgroup file and (root, mount point, fstype, super
    options) mounts, the points relative to tmp_path; returns the /proc/self folder."""
    proc_self = tmp_path / "proc" / "self"
    write(proc_self / "cgroup", cgroup)
    lines = [f"{30 + i} 23 0:{40 + i} {root} {tmp_path / point} rw,relatime shared:{i} - {fstype} {fstype} rw,{options}"
             for i, (root, point, fstype, options) in enumerate(mounts)]
    write(proc_self / "mountinfo", "\n".join(["22 1 8:1 / / rw - ext4 /dev/vda rw", *lines]) + "\n")
    return proc_self


def v2_host(tmp_path: Path, path: str = "/") -> Path:
    return fake_host(tmp_path, f"0::{path}\n", [("/", "sys/fs/cgroup", "cgroup2", "nsdelegate")])


def test_v2_quota_of_the_process_cgroup(tmp_path):
    proc_self = v2_host(tmp_path, "/kubepods/pod1/app")
    write(tmp_path / "sys/fs/cgroup/kubepods/pod1/app/cpu.max", "150000 100000\n")
    assert cgroup_cpu_quota(proc_self) == 1.5


def test_v2_a_parent_limit_applies_and_the_tightest_wins(tmp_path):
    proc_self = v2_host(tmp_path, "/system.slice/happiness.service")
    write(tmp_path / "sys/fs/cgroup/cpu.max", "max 100000\n")
    write(tmp_path / "sys/fs/cgroup/system.slice/cpu.max", "300000 100000\n")
    write(tmp_path / "sys/fs/cgroup/system.slice/happiness.service/cpu.max", "max 100000\n")
    assert cgroup_cpu_quota(proc_self) == 3.0


def test_v2_without_a_quota(tmp_path):
    proc_self = v2_host(tmp_path, "/user.slice")
    write(tmp_path / "sys/fs/cgroup/cpu.max", "max 100000\n")
    write(tmp_path / "sys/fs/cgroup/user.slice/cpu.max", "max 100000\n")
    assert cgroup_cpu_quota(proc_self) is None


def test_v2_container_with_its_own_cgroup_namespace(tmp_path):
    """Inside a container the process sits at '/', and the mount's root holds its limit."""
    proc_self = v2_host(tmp_path, "/")
    write(tmp_path / "sys/fs/cgroup/cpu.max", "50000 100000\n")
    assert cgroup_cpu_quota(proc_self) == 0.5


def test_v1_hybrid_host_reads_the_cpu_controller(tmp_path):
    """cgroup v1 with a cpu mount of its own, and a v2 mount without the cpu controller (the
    layout of this project's VMs)."""
    proc_self = fake_host(tmp_path, "4:memory:/job\n1:cpu:/job\n0::/\n",
                          [("/", "sys/fs/cgroup/cpu", "cgroup", "cpu"),
                           ("/", "sys/fs/cgroup/memory", "cgroup", "memory"),
                           ("/", "sys/fs/cgroup/unified", "cgroup2", "")])
    write(tmp_path / "sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n")
    write(tmp_path / "sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n")
    write(tmp_path / "sys/fs/cgroup/cpu/job/cpu.cfs_quota_us", "250000\n")
    write(tmp_path / "sys/fs/cgroup/cpu/job/cpu.cfs_period_us", "100000\n")
    write(tmp_path / "sys/fs/cgroup/memory/job/cpu.cfs_quota_us", "10000\n")  # not the cpu hierarchy
    assert cgroup_cpu_quota(proc_self) == 2.5


def test_v1_container_without_a_cgroup_namespace(tmp_path):
    """docker on cgroup v1: /proc/self/cgroup names the host's path, and the mount's root is
    that same path, so the limit is at the mount point itself."""
    proc_self = fake_host(tmp_path, "3:cpu,cpuacct:/docker/abc123\n",
                          [("/docker/abc123", "sys/fs/cgroup/cpu,cpuacct", "cgroup", "cpu,cpuacct")])
    write(tmp_path / "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "200000\n")
    write(tmp_path / "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_quota(proc_self) == 2.0


def test_v1_unlimited(tmp_path):
    proc_self = fake_host(tmp_path, "1:cpu:/\n", [("/", "sys/fs/cgroup/cpu", "cgroup", "cpu")])
    write(tmp_path / "sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n")
    write(tmp_path / "sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_quota(proc_self) is None


def test_no_proc_files_means_no_quota(tmp_path):
    assert cgroup_cpu_quota(tmp_path / "absent") is None


@pytest.fixture
def eight_cpus(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))


def test_usable_cpus_rounds_a_fractional_quota_up(tmp_path, eight_cpus):
    proc_self = v2_host(tmp_path)
    write(tmp_path / "sys/fs/cgroup/cpu.max", "150000 100000\n")
    assert usable_cpus(proc_self) == 2


def test_usable_cpus_is_at_least_one(tmp_path, eight_cpus):
    proc_self = v2_host(tmp_path)
    write(tmp_path / "sys/fs/cgroup/cpu.max", "10000 100000\n")
    assert usable_cpus(proc_self) == 1


def test_usable_cpus_keeps_the_affinity_when_it_is_lower(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3})
    proc_self = v2_host(tmp_path)
    write(tmp_path / "sys/fs/cgroup/cpu.max", "600000 100000\n")
    assert usable_cpus(proc_self) == 2


def test_usable_cpus_without_a_quota_is_the_affinity(tmp_path, eight_cpus):
    assert usable_cpus(tmp_path / "absent") == 8


def test_this_process_on_this_machine():
    count = usable_cpus()
    assert 1 <= count <= len(os.sched_getaffinity(0))


def test_workers_default_to_usable_cpus_and_the_pool_to_a_share_of_the_replica_budget(monkeypatch):
    monkeypatch.delenv("HAPPINESS_WORKERS", raising=False)
    assert Settings(_env_file=None).workers == usable_cpus()
    assert Settings(_env_file=None, workers=2).db_pool_size_per_worker == 10
    assert Settings(_env_file=None, workers=16).db_pool_size_per_worker == 2  # at least 2 each
    assert Settings(_env_file=None, workers=4, db_pool_size=7).db_pool_size_per_worker == 7
