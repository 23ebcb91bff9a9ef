"""How many CPUs this process may use: its CPU affinity, lowered by a CFS quota of its cgroup.

os.cpu_count() counts the host's cores, so a container limited to 2 CPUs on a 64-core node
would start 64 workers, each with its own model and database pool. A quota (docker's --cpus,
Kubernetes' CPU limit, systemd's CPUQuota) is read from cgroup v2's cpu.max or cgroup v1's
cpu.cfs_quota_us / cpu.cfs_period_us, in the process's own cgroup and every ancestor up to the
mount (a limit set on a parent applies too); a fractional quota rounds up (1.5 CPUs -> 2).
The cgroup mounts are found in /proc/self/mountinfo, so v1, v2 and hybrid hosts all work.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

PROC_SELF = Path("/proc/self")


def usable_cpus(proc_self: Path = PROC_SELF) -> int:
    """CPUs this process may run on at once (at least 1)."""
    count = _affinity_count()
    quota = cgroup_cpu_quota(proc_self)
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return max(1, count)


def _affinity_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cgroup_cpu_quota(proc_self: Path = PROC_SELF) -> float | None:
    """The tightest CFS quota over this process's cgroups, in CPUs (quota / period); None when
    no cgroup limits CPU time or the files cannot be read (not Linux)."""
    try:
        memberships = _memberships((proc_self / "cgroup").read_text())
        mounts = (proc_self / "mountinfo").read_text().splitlines()
    except OSError:
        return None
    quotas = [quota for found in _cpu_cgroup_folders(mounts, memberships)
              for quota in _quotas_up_to_mount(*found)]
    return min(quotas, default=None)


def _memberships(cgroup_text: str) -> dict[str, str]:
    """/proc/self/cgroup as {controller: path}; cgroup v2's single hierarchy is under ''."""
    memberships = {}
    for line in cgroup_text.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            memberships[controller] = path
    return memberships


def _cpu_cgroup_folders(mounts: list[str], memberships: dict[str, str]) -> Iterator[tuple[Path, str, Path]]:
    """(this process's cgroup folder, its mount point, "v1" or "v2") for each hierarchy that
    can hold a CPU quota: the v1 mount with the cpu controller, and the v2 mount."""
    for line in mounts:
        fields = line.split()
        separator = fields.index("-")
        mount_root, mount_point = fields[3], Path(fields[4])
        fstype, super_options = fields[separator + 1], fields[separator + 3].split(",")
        if fstype == "cgroup2" and "" in memberships:
            path, version = memberships[""], "v2"
        elif fstype == "cgroup" and "cpu" in super_options and "cpu" in memberships:
            path, version = memberships["cpu"], "v1"
        else:
            continue
        yield _cgroup_folder(mount_point, mount_root, path), mount_point, version


def _cgroup_folder(mount_point: Path, mount_root: str, path: str) -> Path:
    """The folder of cgroup `path` under a mount whose root is `mount_root`. Inside a container
    the mount's root is often the container's own cgroup: then the path is relative to it, or
    (a private cgroup namespace) already '/'."""
    relative = Path(path).relative_to(mount_root) if Path(path).is_relative_to(mount_root) else Path()
    return mount_point / relative


def _quotas_up_to_mount(folder: Path, mount_point: Path, version: str) -> Iterator[float]:
    """The quota of `folder` and of each parent cgroup up to the mount point."""
    while True:
        quota = _read_quota(folder, version)
        if quota is not None:
            yield quota
        if folder == mount_point or mount_point not in folder.parents:
            return
        folder = folder.parent


def _read_quota(folder: Path, version: str) -> float | None:
    """quota / period of one cgroup folder; None for "no limit" or missing files."""
    try:
        if version == "v2":
            quota, period = (folder / "cpu.max").read_text().split()
        else:
            quota = (folder / "cpu.cfs_quota_us").read_text().strip()
            period = (folder / "cpu.cfs_period_us").read_text().strip()
    except (OSError, ValueError):
        return None
    if quota in ("max", "-1") or int(period) <= 0:
        return None
    return int(quota) / int(period)
