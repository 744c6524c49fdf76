"""Reading the kernel's TCP table (/proc/net/tcp, /proc/net/tcp6): pure parsing."""

from __future__ import annotations

ESTABLISHED = "01"


def established_to(port: int, table: str) -> int:
    """How many established connections have `port` as their remote port (connections *to* it)."""
    count = 0
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != ESTABLISHED:
            continue
        _, _, remote_port = fields[2].rpartition(":")
        try:
            if int(remote_port, 16) == port:
                count += 1
        except ValueError:
            continue
    return count
