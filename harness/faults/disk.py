"""Fill the node's Docker storage where image pulls land, so pulls fail with 'no space left on device'.

The node's /var/lib/docker is a volume on the host's disk, so filling it
for real would fill the host. Instead a small tmpfs is mounted over
/var/lib/docker/tmp, where the engine downloads layers before it unpacks
them, and filled: the engine sees exactly the full disk a pull would hit.
"""

from __future__ import annotations

from pydantic import Field

from harness.faults.base import BaseFault, FaultContext, FaultParams
from harness.faults.nodeshell import run

PULL_TMP = "/var/lib/docker/tmp"
FULL_FS = "chaos-harness-full"  # the tmpfs mounted over PULL_TMP


class DiskFullParams(FaultParams):
    size_mb: int = Field(8, ge=1, le=256, description="size of the full filesystem")


class DiskFull(BaseFault):
    """The node's pull area has no free space: new images cannot be pulled there."""

    name = "disk-full"
    description = "Fill the node's Docker pull area (a small tmpfs over /var/lib/docker/tmp): pulls fail, no space."
    Params = DiskFullParams
    params: DiskFullParams

    def inject(self, ctx: FaultContext) -> None:
        size = self.params.size_mb
        run(ctx, self.target, ["sh", "-c",
            f"mkdir -p {PULL_TMP} && (mountpoint -q {PULL_TMP} || mount -t tmpfs -o size={size}m {FULL_FS} "
            f"{PULL_TMP}) && (dd if=/dev/zero of={PULL_TMP}/chaos-harness-fill bs=1M 2>/dev/null; true)"],
            "fill the Docker pull area")

    def heal(self, ctx: FaultContext) -> None:
        if self.verify(ctx):
            run(ctx, self.target, ["umount", PULL_TMP], "unmount the filled pull area")

    def verify(self, ctx: FaultContext) -> bool:
        mounts = ctx.cluster.exec(self.target, ["cat", "/proc/mounts"]).output
        return any(line.split()[:2] == [FULL_FS, PULL_TMP] for line in mounts.splitlines())
