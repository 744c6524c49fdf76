"""A Docker engine per fleet host: a second `dockerd` inside the host's network namespace.

Each engine has its own config file (the machine's /etc/docker/daemon.json is not read), data root,
exec root, pid file, socket, engine key (so `docker info` shows an ID of its own) and cgroup parent.
It runs in a mount and UTS namespace of its own, made by `unshare`, where the fleet's remote dir is
the host's own deploy dir (bind-mounted) and the hostname is the host's: every host has its files
at the same absolute path, as real servers do, and compose bind mounts resolve on the right host.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from lab import daemons, netns
from lab.progress import say

SHUTDOWN_SECONDS = 15
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Engine:
    """The engine of one fleet host, all its files under `directory`."""

    namespace: str
    hostname: str
    directory: Path
    deploy_dir: Path
    """The host's own deploy dir: what its processes see at the fleet's remote dir."""

    @property
    def config_file(self) -> Path:
        return self.directory / "daemon.json"

    @property
    def pid_file(self) -> Path:
        return self.directory / "docker.pid"

    @property
    def socket(self) -> Path:
        return self.directory / "docker.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def log(self) -> Path:
        return self.directory / "dockerd.log"

    @property
    def data_root(self) -> Path:
        return self.directory / "data"

    @property
    def exec_root(self) -> Path:
        return self.directory / "exec"

    @property
    def cgroup_parent(self) -> str:
        return f"/{self.namespace}"

    def client(self, timeout: int = 60) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=timeout)


def dockerd_major_version() -> int:
    """dockerd's major version ("Docker version 20.10.24+dfsg1, build 5d6db84" -> 20)."""
    done = subprocess.run(["dockerd", "--version"], capture_output=True, text=True, check=True)
    return int(done.stdout.split("version", 1)[1].strip().split(".", 1)[0])


def daemon_config(engine: Engine, storage_driver: str, dockerd_major: int) -> dict[str, Any]:
    """The engine's whole configuration. Before Docker 25 the engine's ID comes from a key file,
    /etc/docker/key.json unless told otherwise; from 25 on, from its data root."""
    key = {"deprecated-key-path": str(engine.directory / "key.json")} if dockerd_major < 25 else {}
    return {
        "storage-driver": storage_driver,
        "data-root": str(engine.data_root),
        "exec-root": str(engine.exec_root),
        "pidfile": str(engine.pid_file),
        "hosts": [engine.url],
        "cgroup-parent": engine.cgroup_parent,
        **key,
        "labels": [f"bluegreen.lab.fleet-host={engine.hostname}"],
        "log-driver": "json-file",
        "log-opts": {"max-size": "10m", "max-file": "3"},
    }


def start_argv(engine: Engine, remote_dir: Path) -> list[str]:
    """nsenter (network namespace only) -> unshare (mount + UTS) -> bind the host's deploy dir over
    the remote dir, set the hostname, hide a system containerd -> exec dockerd.

    dockerd uses the system's containerd when /run/containerd/containerd.sock exists (Docker's
    packages run one): its containers would then start in the root network namespace. An empty
    /run/containerd in the engine's mount namespace makes it start a containerd of its own, here."""
    script = (
        'mount --bind "$1" "$2" && hostname "$3" && '
        "{ [ ! -d /run/containerd ] || mount -t tmpfs tmpfs /run/containerd; } && "
        'shift 3 && exec "$@"'
    )
    return [
        "nsenter",
        f"--net={netns.namespace_file(engine.namespace)}",
        "unshare",
        "--mount",
        "--uts",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        script,
        "sh",
        str(engine.deploy_dir),
        str(remote_dir),
        engine.hostname,
        "dockerd",
        "--config-file",
        str(engine.config_file),
    ]


def answers(engine: Engine) -> bool:
    if not engine.socket.exists():
        return False
    try:
        with contextlib.closing(engine.client(timeout=5)) as client:
            return bool(client.ping())
    except (docker.errors.DockerException, OSError):
        return False


def _pid(engine: Engine) -> int | None:
    """The engine's dockerd when it runs inside the host's namespace (not one left in a namespace
    that was deleted and made again)."""
    pid = daemons.running(engine.pid_file, str(engine.config_file))
    if pid is None or netns.namespace_of(pid) != netns.identity(engine.namespace):
        return None
    return pid


def running(engine: Engine) -> bool:
    return _pid(engine) is not None and answers(engine)


def start(engine: Engine, remote_dir: Path, storage_driver: str) -> None:
    """Starts the engine (its data root kept: containers with a restart policy come back)."""
    for directory in (engine.directory, engine.deploy_dir, remote_dir):
        directory.mkdir(parents=True, exist_ok=True)
    config = daemon_config(engine, storage_driver, dockerd_major_version())
    engine.config_file.write_text(json.dumps(config, indent=2) + "\n")
    daemons.start_detached(start_argv(engine, remote_dir), engine.log)


def wait_ready(engine: Engine, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not running(engine):
        if time.monotonic() > deadline:
            tail = "\n".join(engine.log.read_text(errors="replace").splitlines()[-15:])
            raise RuntimeError(f"the Docker engine of {engine.hostname} did not start:\n{tail}")
        time.sleep(0.1)


def stop(engine: Engine) -> None:
    """Stops the engine by its pid file (its containers stop with it), then kills whatever is left
    of the host: processes in its network namespace and in its containers' cgroups."""
    pid = daemons.running(engine.pid_file, str(engine.config_file))
    if pid is not None:
        say(f"stopping the Docker engine of {engine.hostname}")
        daemons.stop(pid, SHUTDOWN_SECONDS)
    daemons.kill_all(netns.processes_in(engine.namespace) + cgroup_processes(engine))
    remove_cgroups(engine)


def cgroup_processes(engine: Engine) -> list[int]:
    pids: set[int] = set()
    for procs in CGROUP_ROOT.glob(f"*{engine.cgroup_parent}/**/cgroup.procs"):
        with contextlib.suppress(OSError, ValueError):
            pids.update(int(line) for line in procs.read_text().split())
    return sorted(pids)


def remove_cgroups(engine: Engine) -> None:
    """Removes the engine's (empty) cgroups, deepest first."""
    found = [path for path in CGROUP_ROOT.glob(f"*{engine.cgroup_parent}") if path.is_dir()]
    for top in found:
        for directory in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                directory.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


def remove_files(engine: Engine) -> None:
    """The engine's data (images, containers) and the host's deploy dir; the engine must be stopped."""
    shutil.rmtree(engine.directory, ignore_errors=True)
    shutil.rmtree(engine.deploy_dir, ignore_errors=True)


def ensure_image(engine: Engine, source: docker.DockerClient, tag: str) -> bool:
    """Copies image `tag` from the machine's engine when the host's engine lacks it (docker save
    streamed into docker load). Returns True when it did."""
    with contextlib.closing(engine.client(timeout=600)) as target:
        with contextlib.suppress(docker.errors.ImageNotFound):
            target.images.get(tag)
            return False
        started = time.monotonic()
        target.api.load_image(source.api.get_image(tag))  # type: ignore[no-untyped-call]
        target.images.get(tag)
    say(f"{engine.hostname}: loaded {tag} in {time.monotonic() - started:.1f} s")
    return True


# A `docker load` of the server image into three engines at once took 16-50 s on this busy 2-core
# machine (every layer unpacked, hashed and written three times). So the first engine that loads it
# leaves its image store (the image metadata, and the storage driver's layer directories, taken
# before any container runs) as a cache beside the lab's registry storage, and a new engine starts
# from that cache: metadata copied, layer files hard-linked. Image layers are never written in place
# (a container's changes go to its own upper layer), so engines can share their files; an engine
# removing the image only drops its own links. The engine runs in its own mount namespace, so its
# data root is no mount point seen from here, and links to it stay on one filesystem.


def _copy_image_store(source: Path, target: Path, storage_driver: str) -> None:
    target.mkdir(parents=True)
    subprocess.run(["cp", "-a", str(source / "image"), str(target / "image")], check=True)
    subprocess.run(["cp", "-al", str(source / storage_driver), str(target / storage_driver)], check=True)


def save_image_cache(engine: Engine, cache: Path, storage_driver: str) -> None:
    """Keeps the engine's image store as `cache` (once; other caches beside it are removed). An
    engine whose images live in containerd's store (no image/ and driver directories) keeps none."""
    if cache.is_dir() or not all((engine.data_root / part).is_dir() for part in ("image", storage_driver)):
        return
    tmp = cache.with_name(f"{cache.name}.tmp-{engine.hostname}")
    shutil.rmtree(tmp, ignore_errors=True)
    _copy_image_store(engine.data_root, tmp, storage_driver)
    try:
        tmp.rename(cache)
    except OSError:  # another engine's copy got there first
        shutil.rmtree(tmp, ignore_errors=True)
        return
    for other in cache.parent.iterdir():
        if other != cache and ".tmp-" not in other.name:
            shutil.rmtree(other, ignore_errors=True)


def seed_data_root(engine: Engine, cache: Path, storage_driver: str) -> None:
    """A new engine (no data root yet) starts from the image cache, when there is one."""
    if engine.data_root.exists() or not cache.is_dir():
        return
    tmp = engine.directory / "data.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    _copy_image_store(cache, tmp, storage_driver)
    tmp.rename(engine.data_root)
