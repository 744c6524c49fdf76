"""The Docker SDK on an SSH connection we already hold (imported only when Docker is needed)."""

from __future__ import annotations

from typing import Any

import docker
import paramiko
from docker import constants
from docker.transport import SSHHTTPAdapter
from docker.transport.basehttpadapter import BaseHTTPAdapter
from docker.transport.sshconn import RecentlyUsedContainer

_FALLBACK_DOCKER_API = "1.24"


def docker_client(client: paramiko.SSHClient) -> docker.DockerClient:
    """A DockerClient whose requests run `docker system dial-stdio` on channels of `client`."""
    docker_client = docker.DockerClient(
        base_url="ssh://bluegreen", version=_FALLBACK_DOCKER_API, use_ssh_client=True
    )
    adapter = SharedConnectionAdapter(client)
    api: Any = docker_client.api  # reaching into APIClient: it has no public way to take an adapter
    api._custom_adapter = adapter
    api.mount("http+docker://ssh", adapter)
    api._version = api._retrieve_server_version()
    return docker_client


class SharedConnectionAdapter(SSHHTTPAdapter):
    """docker's SSH adapter, on our already verified connection instead of one of its own.

    docker-py would build a second paramiko client from ~/.ssh/config and known_hosts files; the
    action has neither, and one connection means one host-key check and one authentication.
    """

    def __init__(self, client: paramiko.SSHClient) -> None:
        self.ssh_client = client
        self.ssh_host = "bluegreen"
        self.timeout = 60
        self.max_pool_size = constants.DEFAULT_MAX_POOL_SIZE
        self.pools: Any = RecentlyUsedContainer(constants.DEFAULT_NUM_POOLS, dispose_func=lambda p: p.close())
        BaseHTTPAdapter.__init__(self)

    def _connect(self) -> None:
        """The connection is ours: never reconnect behind our back."""

    def close(self) -> None:
        BaseHTTPAdapter.close(self)
        self.pools.clear()
