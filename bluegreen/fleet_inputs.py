"""The fleet's inputs, parsed before anything connects: `host` or `hosts` (a fleet of one or more),
`parallel`, `batch-size`, `batch-wait`; and the batches a batch size cuts the hosts into."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TypeVar

from bluegreen.errors import InputError

HOST_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
BRACKETED = re.compile(r"^\[([0-9A-Fa-f:.]+)\](?::([0-9]{1,5}))?$")
MAX_PARALLEL = 100
T = TypeVar("T")


@dataclass(frozen=True, order=True)
class Address:
    """One host of the fleet: its name (or IP address) and its SSH port."""

    name: str
    port: int

    def __str__(self) -> str:
        name = f"[{self.name}]" if ":" in self.name else self.name
        return f"{name}:{self.port}"


@dataclass(frozen=True)
class BatchSize:
    """How many hosts switch at once: a count, or a percentage of the fleet (rounded up)."""

    count: int = 1
    percent: int = 0

    def of(self, hosts: int) -> int:
        if self.percent:
            return max(1, min(hosts, math.ceil(hosts * self.percent / 100)))
        return max(1, min(hosts, self.count))


def batches(items: list[T], size: BatchSize) -> list[list[T]]:
    """The items in order, cut into batches of the batch size (the last may be smaller)."""
    step = size.of(len(items))
    return [items[start : start + step] for start in range(0, len(items), step)]


def parse_hosts(host: str, hosts: str, default_port: int) -> tuple[Address, ...]:
    """`host` (one) or `hosts` (one per line, `host` or `host:port`); never both, never none."""
    lines = [line.strip() for line in hosts.splitlines() if line.strip() and not line.strip().startswith("#")]
    if host and lines:
        raise InputError("hosts", "is set together with `host`", "Use `host` for one server or `hosts` alone")
    if not host and not lines:
        raise InputError("host", "is required but empty")
    if host:
        return (Address(_name("host", host, host.strip("[]")), default_port),)
    addresses = [_address(line, default_port) for line in lines]
    seen: set[Address] = set()
    for address in addresses:
        if address in seen:
            raise InputError("hosts", f"names {address} twice", "List each server once")
        seen.add(address)
    return tuple(addresses)


def _address(line: str, default_port: int) -> Address:
    bracketed = BRACKETED.fullmatch(line)
    if bracketed:
        return Address(bracketed[1], _port(line, bracketed[2]) if bracketed[2] else default_port)
    name, colon, port = line.rpartition(":") if line.count(":") == 1 else (line, "", "")
    if not colon:
        name = line
    return Address(_name("hosts", line, name), _port(line, port) if colon else default_port)


def _name(input_name: str, line: str, name: str) -> str:
    if not name or name.startswith("-") or not (HOST_NAME.fullmatch(name) or _is_v6(name)):
        port = ", optionally with :port" if input_name == "hosts" else ""
        fix = f"Give a hostname or an IP address{port}"
        problem = f"line {line!r} is not a host" if input_name == "hosts" else f"is {line!r}"
        raise InputError(input_name, problem, fix)
    return name


def _is_v6(name: str) -> bool:
    return ":" in name and bool(re.fullmatch(r"[0-9A-Fa-f:.]+", name))


def _port(line: str, port: str) -> int:
    if not re.fullmatch(r"[0-9]{1,5}", port) or not 1 <= int(port) <= 65535:
        raise InputError("hosts", f"line {line!r} has port {port!r}", "Give a port from 1 to 65535 after ':'")
    return int(port)


def parse_parallel(value: str) -> int:
    if not re.fullmatch(r"[0-9]{1,4}", value) or not 1 <= int(value) <= MAX_PARALLEL:
        raise InputError("parallel", f"is {value!r}", f"Give a whole number from 1 to {MAX_PARALLEL}")
    return int(value)


def parse_batch_size(value: str) -> BatchSize:
    percent = re.fullmatch(r"([0-9]{1,3})%", value)
    if percent and 1 <= int(percent[1]) <= 100:
        return BatchSize(percent=int(percent[1]))
    if re.fullmatch(r"[0-9]{1,4}", value) and int(value) >= 1:
        return BatchSize(count=int(value))
    raise InputError(
        "batch-size", f"is {value!r}", "Give a count of hosts (1 or more) or a percentage from 1% to 100%"
    )


def parse_batch_wait(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise InputError("batch-wait", f"is {value!r}, not a number", "Give seconds, e.g. 30") from None
    if not 0 <= seconds <= 86400 or seconds != seconds:
        raise InputError("batch-wait", f"is {value!r}", "Give a number of seconds from 0 to 86400")
    return seconds
