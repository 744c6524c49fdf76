"""A real paramiko SSH server in this process, for unit tests that need paramiko's client code itself
(its threads, its channel-open replies) rather than a stand-in: it runs commands by answering
"done" and refuses session channels the way OpenSSH does when told to."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import paramiko
from paramiko.common import AUTH_SUCCESSFUL, OPEN_SUCCEEDED

from tests.unit.fake_sshd import CONNECT_FAILED

_HOST_KEY = paramiko.RSAKey.generate(1024)


class _Server(paramiko.ServerInterface):
    def __init__(self, refuse: Callable[[], bool]) -> None:
        self._refuse = refuse

    def get_allowed_auths(self, username: str) -> str:
        return "none"

    def check_auth_none(self, username: str) -> int:
        return AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session" and not self._refuse():
            return OPEN_SUCCEEDED
        return CONNECT_FAILED  # OpenSSH's answer beyond MaxSessions

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        def answer() -> None:
            channel.sendall(b"done\n")
            channel.send_exit_status(0)
            channel.close()

        threading.Timer(0.01, answer).start()
        return True


class ParamikoSshd:
    """A connected pair: `client` is a real paramiko client transport to an in-process server."""

    def __init__(self, refuse: Callable[[], bool]) -> None:
        client_socket, server_socket = socket.socketpair()
        self._server = paramiko.Transport(server_socket)
        self._server.add_server_key(_HOST_KEY)
        self._server.start_server(threading.Event(), _Server(refuse))  # returns at once
        self.client = paramiko.Transport(client_socket)
        self.client.start_client(timeout=10)
        self.client.auth_none("deploy")

    def get_transport(self) -> paramiko.Transport:
        return self.client

    def close(self) -> None:
        self.client.close()
        self._server.close()
