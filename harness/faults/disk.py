"""Fill the node's storage where image pulls land, so pulls fail with 'no space left on device'.

The node's image store is on the host's disk (or memory), so filling it for
real would fill the host. Instead a small tmpfs is mounted over the
directory the runtime downloads layers into before it unpacks them
(``NodeRuntime.pull_area``: Docker's /var/lib/docker/tmp, containerd's
ingest directory), and filled: the runtime sees exactly the full disk a
pull would hit.
"""

from __future__ import annotations

from pydantic import Field

from harness.faults.base import BaseFault, FaultContext, FaultParams
from harness.faults.nodeshell import run

FULL_FS = "chaos-harness-full"  # the tmpfs mounted over the pull area


class DiskFullParams(FaultParams):
    size_mb: int = Field(8, ge=1, le=256, description="size of the full filesystem")


class DiskFull(BaseFault):
    """The node's pull area has no free space: new images cannot be pulled there."""

    name = "disk-full"
    description = "Fill the node's pull area (a small full tmpfs where pulls download): pulls fail, no space."
    Params = DiskFullParams
    params: DiskFullParams

    def inject(self, ctx: FaultContext) -> None:
        size, area = self.params.size_mb, ctx.cluster.engine.runtime.pull_area
        run(ctx, self.target, ["sh", "-c",
            f"mkdir -p {area} && (mountpoint -q {area} || mount -t tmpfs -o size={size}m {FULL_FS} "
            f"{area}) && (dd if=/dev/zero of={area}/chaos-harness-fill bs=1M 2>/dev/null; true)"],
            "fill the Docker pull area")

    def heal(self, ctx: FaultContext) -> None:
        if self.verify(ctx):
            run(ctx, self.target, ["umount", ctx.cluster.engine.runtime.pull_area], "unmount the filled pull area")

    def verify(self, ctx: FaultContext) -> bool:
        mounts = ctx.cluster.exec(self.target, ["cat", "/proc/mounts"]).output
        area = ctx.cluster.engine.runtime.pull_area
        return any(line.split()[:2] == [FULL_FS, area] for line in mounts.splitlines())
