"""SshHost: the Host interface over one paramiko connection (commands, SFTP, tunnels, Docker)."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import shlex
import socket
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import paramiko

from bluegreen.cancellation import shielded, shielding
from bluegreen.errors import BluegreenError, CommandTimedOut, InputError, TunnelForbidden, UnreadableFile
from bluegreen.host import READ_LIMIT, CommandResult, Held, Stream, check_readable, writing
from bluegreen.sessions import Session, SessionBudget

if TYPE_CHECKING:
    import docker

# paramiko logs a traceback from its transport thread for errors we already report once, clearly.
logging.getLogger("paramiko").addHandler(logging.NullHandler())
logging.getLogger("paramiko").propagate = False


class ChannelOpenTimeout(BluegreenError, TimeoutError):
    """Other channel opens on the connection took the whole timeout (a tunnel caller sees a TimeoutError)."""


@dataclass(frozen=True)
class HostKeyCheck:
    """How the server's host key is verified: known_hosts lines, a SHA256 fingerprint, or not at all."""

    known_hosts: str = ""
    fingerprint: str = ""
    insecure: bool = False


def fingerprint_of(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


class _VerifyUnknownKey(paramiko.MissingHostKeyPolicy):
    """Called by paramiko when the host is not in the known_hosts we were given."""

    def __init__(self, check: HostKeyCheck) -> None:
        self._check = check

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        actual = fingerprint_of(key)
        if self._check.insecure:  # run.execute has already warned, loudly
            return
        if self._check.fingerprint:
            if actual == self._check.fingerprint.rstrip("="):
                return
            raise InputError(
                "host-fingerprint",
                f"does not match the host key of {hostname} ({actual}): refusing to connect",
                "If the server's key really changed, update the input from `ssh-keyscan`",
            )
        if self._check.known_hosts:
            raise InputError(
                "known-hosts",
                f"has no entry for {hostname} (its key is {actual})",
                f"Add the output of `ssh-keyscan -p PORT HOST` for {hostname}",
            )
        raise InputError(
            "known-hosts",
            f"is empty, so the host key of {hostname} cannot be verified",
            "Set `known-hosts` to the output of `ssh-keyscan -p PORT HOST` (or `host-fingerprint`)",
        )


def _host_keys(known_hosts: str) -> paramiko.HostKeys:
    keys = paramiko.HostKeys()
    for number, line in enumerate(known_hosts.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            entry = paramiko.hostkeys.HostKeyEntry.from_line(line, number)
        except (paramiko.SSHException, ValueError, TypeError) as exc:
            raise InputError(
                "known-hosts", f"line {number} cannot be read ({exc})", "Use `ssh-keyscan` output"
            ) from None
        if entry is None or entry.key is None:
            raise InputError(
                "known-hosts",
                f"line {number} is not a known_hosts line",
                "Use `ssh-keyscan` output",
            )
        for name in entry.hostnames:
            keys.add(name, entry.key.get_name(), entry.key)
    return keys


def connect(
    host: str, port: int, username: str, key: paramiko.PKey, check: HostKeyCheck, timeout: float
) -> SshHost:
    """Open and authenticate the connection, mapping each failure to one clear error."""
    client = paramiko.SSHClient()
    for name, entries in _host_keys(check.known_hosts).items():
        for key_type, host_key in entries.items():
            client.get_host_keys().add(name, key_type, host_key)
    client.set_missing_host_key_policy(_VerifyUnknownKey(check))
    where = f"{username}@{host}:{port}"
    try:
        client.connect(
            host,
            port=port,
            username=username,
            pkey=key,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            allow_agent=False,
            look_for_keys=False,
        )
    except BaseException as exc:
        transport = client.get_transport()
        answered = transport is not None and bool(transport.remote_version)
        client.close()
        raise _connect_error(exc, host, port, username, timeout, answered) from None
    transport = client.get_transport()
    if transport is not None:
        shield_writes(transport)
    return SshHost(client, name=where, user=username)


def _connect_error(
    exc: BaseException, host: str, port: int, username: str, timeout: float, answered: bool
) -> BaseException:
    """One clear error, naming the input to fix, for each way connecting can fail."""
    where = f"{username}@{host}:{port}"
    no_answer = InputError(
        "host", f"{host}:{port} did not answer within {timeout:g} s", "Check `host`, `port` and the firewall"
    )
    match exc:
        case InputError():
            return exc
        case paramiko.BadHostKeyException():
            return InputError(
                "known-hosts",
                f"the host key of {host}:{port} has CHANGED (now {fingerprint_of(exc.key)}): "
                "refusing to connect",
                "If the change is expected, update `known-hosts` from `ssh-keyscan`; otherwise investigate",
            )
        case paramiko.AuthenticationException():
            return InputError(
                "ssh-key",
                f"was refused by {where}",
                f"Add its public key to ~{username}/.ssh/authorized_keys on the server, or check `username`",
            )
        case TimeoutError():
            return no_answer
        case ConnectionRefusedError() | paramiko.ssh_exception.NoValidConnectionsError() if _refused(exc):
            return InputError(
                "port",
                f"connection to {host}:{port} was refused",
                "Check that sshd runs there and `port` is right",
            )
        case socket.gaierror():
            return InputError("host", f"{host!r} does not resolve", "Check the hostname")
        case OSError():
            return InputError(
                "host", f"cannot reach {host}:{port} ({exc.strerror or exc})", "Check `host` and `port`"
            )
        case paramiko.SSHException() if not answered:
            return no_answer
        case paramiko.SSHException():
            return BluegreenError(f"SSH to {where} failed: {exc}")
    return exc


def _refused(exc: BaseException) -> bool:
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return all(isinstance(error, ConnectionRefusedError) for error in exc.errors.values())
    return isinstance(exc, ConnectionRefusedError)


OPEN_ADMINISTRATIVELY_PROHIBITED = 1
"""The reason code sshd gives when it refuses a direct-tcpip channel by its settings (RFC 4254 5.1)."""

SFTP_TIMEOUT = 60.0
"""Seconds one SFTP request may go unanswered."""

TUNNEL_CHECK_TIMEOUT = 10.0


def shield_writes(transport: paramiko.Transport) -> None:
    """A cancellation must not cut an SSH message in half, nor leave paramiko's send lock taken
    (it is acquired a few bytecodes before the `try` that releases it): the cleanup that follows
    a cancellation needs the connection. Every message the main thread sends after the handshake
    goes through `_send_user_message` (the transport's own thread, which a signal never
    interrupts, writes key exchange and window adjustments)."""
    transport._send_user_message = shielding(transport._send_user_message)  # type: ignore[attr-defined]


class SshHost:
    def __init__(self, client: paramiko.SSHClient, name: str, user: str) -> None:
        self._client = client
        self.name = name
        self.user = user
        self._sessions = SessionBudget(self._open_session_channel, name)
        self._sftp: paramiko.SFTPClient | None = None
        self._sftp_session: Session | None = None
        self._docker: docker.DockerClient | None = None
        self._sftp_lock = threading.Lock()
        self._docker_lock = threading.Lock()
        self._channel_opens = threading.Lock()

    @property
    def _transport(self) -> paramiko.Transport:
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise BluegreenError(f"the SSH connection to {self.name} was lost")
        return transport

    @contextmanager
    def _opening_channel(self, timeout: float) -> Iterator[paramiko.Transport]:
        """One channel open at a time: paramiko keeps a single saved exception per connection, so
        of two opens refused at once, one would take the other's reason and the other would get a
        bare "Unable to open channel." (neither retryable nor telling a refused port from a refused
        session)."""
        taken = False
        try:
            with shielded():  # a cancel between taking the lock and noting it would leave it taken
                taken = self._channel_opens.acquire(timeout=timeout)
            if not taken:
                raise ChannelOpenTimeout(f"no SSH channel to {self.name} opened within {timeout:g} s")
            yield self._transport
        finally:
            if taken:
                self._channel_opens.release()

    def _open_session_channel(self, timeout: float) -> paramiko.Channel:
        with self._opening_channel(timeout) as transport:
            return transport.open_session(timeout=timeout)

    def run(self, argv: Sequence[str], *, timeout: float = 600, stdin: bytes = b"") -> CommandResult:
        with self._exec(argv, timeout) as session:
            return self._finish(session.channel, argv, timeout, stdin)

    def _finish(
        self, channel: paramiko.Channel, argv: Sequence[str], timeout: float, stdin: bytes
    ) -> CommandResult:
        if stdin:
            channel.sendall(stdin)
        channel.shutdown_write()
        stdout, stderr = bytearray(), bytearray()
        deadline = time.monotonic() + timeout
        while True:
            while channel.recv_ready():
                stdout += channel.recv(65536)
            while channel.recv_stderr_ready():
                stderr += channel.recv_stderr(65536)
            # sshd may send the exit status before the last output: the end is EOF plus the status
            ended = (channel.eof_received or channel.closed) and channel.exit_status_ready()
            if ended and not channel.recv_ready() and not channel.recv_stderr_ready():
                break
            if time.monotonic() > deadline:
                raise CommandTimedOut(
                    f"command timed out after {timeout:g} s on {self.name}: {shlex.join(argv)}"
                )
            if channel.closed and not channel.exit_status_ready():
                raise BluegreenError(f"the SSH connection to {self.name} was lost during: {shlex.join(argv)}")
            channel.status_event.wait(0.02)
        code = channel.recv_exit_status()
        return CommandResult(
            tuple(argv), code, stdout.decode(errors="replace"), stderr.decode(errors="replace")
        )

    def hold(self, argv: Sequence[str], ready_line: str, timeout: float) -> Held | CommandResult:
        session = self._exec(argv, timeout + 30)
        try:
            channel = session.channel
            channel.settimeout(timeout + 30)
            reader = channel.makefile("rb")
            first = reader.readline().decode(errors="replace").strip()
            if first == ready_line:
                channel.settimeout(None)
                return session
            rest = reader.read().decode(errors="replace")
            stderr = channel.makefile_stderr("rb").read().decode(errors="replace")
            code = channel.recv_exit_status()
        except BaseException:
            session.close()
            raise
        session.close()
        return CommandResult(tuple(argv), code, first + rest, stderr)

    def _exec(self, argv: Sequence[str], timeout: float) -> Session:
        session = self._sessions.open(timeout)
        try:
            session.channel.exec_command(shlex.join(argv))
        except BaseException:
            session.close()
            raise
        return session

    @contextmanager
    def _files(self) -> Iterator[paramiko.SFTPClient]:
        """The SFTP client, for one thread at a time: paramiko's cannot serve concurrent requests
        (two threads reading replies from its one channel take each other's bytes).

        Shielded: a cancellation between a request and its reply would leave the reply unread, and
        the next request would read it (SFTP requests are short; a stuck one ends at SFTP_TIMEOUT)."""
        with self._sftp_lock, shielded():
            if self._sftp is None:
                session = self._sessions.open(SFTP_TIMEOUT)
                try:
                    session.channel.settimeout(SFTP_TIMEOUT)
                    session.channel.invoke_subsystem("sftp")
                    self._sftp = paramiko.SFTPClient(session.channel)
                except BaseException:
                    session.close()
                    raise
                self._sftp_session = session
            yield self._sftp

    def write_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        tmp = f"{path}.tmp-{secrets.token_hex(4)}"
        with writing(path, self.user), self._files() as sftp:
            with sftp.open(tmp, "wb") as handle:
                sftp.chmod(tmp, mode)
                handle.write(data)
            sftp.posix_rename(tmp, path)

    def rename(self, source: str, target: str) -> None:
        with writing(target, self.user), self._files() as sftp:
            sftp.posix_rename(source, target)

    def append_file(self, path: str, data: bytes) -> None:
        with writing(path, self.user), self._files() as sftp, sftp.open(path, "ab") as handle:
            handle.write(data)

    def read_file(self, path: str, *, limit: int = READ_LIMIT) -> bytes | None:
        try:
            with self._files() as sftp:
                # stat first: opening a FIFO would block the SFTP server, /dev/zero never ends
                found = sftp.stat(path)
                check_readable(path, found.st_mode or 0, found.st_size or 0, limit)
                with sftp.open(path, "rb") as handle:
                    data = handle.read(limit + 1)
        except FileNotFoundError:
            return None
        except PermissionError:
            raise UnreadableFile(path, f"permission denied for {self.user}") from None
        except TimeoutError:
            raise UnreadableFile(path, f"SFTP did not answer within {SFTP_TIMEOUT:g} s") from None
        check_readable(path, stat.S_IFREG, len(data), limit)  # it grew since the stat
        return data

    def home(self) -> str:
        with self._files() as sftp:
            return sftp.normalize(".")

    def connect_tcp(self, port: int, timeout: float) -> Stream:
        try:
            with self._opening_channel(timeout) as transport:
                return transport.open_channel(
                    "direct-tcpip", ("127.0.0.1", port), ("127.0.0.1", 0), timeout=timeout
                )
        except paramiko.ChannelException as exc:
            if exc.code == OPEN_ADMINISTRATIVELY_PROHIBITED:
                raise TunnelForbidden(self.name, self.user) from None
            raise ConnectionRefusedError(f"127.0.0.1:{port} on {self.name}: {exc.text}") from None
        except paramiko.SSHException as exc:  # paramiko's "Timeout opening channel."
            raise TimeoutError(f"127.0.0.1:{port} on {self.name}: {exc}") from None

    def check_tunnels(self, port: int) -> None:
        try:
            self.connect_tcp(port, TUNNEL_CHECK_TIMEOUT).close()
        except ConnectionRefusedError:
            return  # sshd forwarded the connection; nothing listens there yet
        except OSError as exc:
            raise BluegreenError(
                f"cannot open a TCP tunnel to 127.0.0.1:{port} on {self.name}: {exc}"
            ) from None

    def docker(self) -> docker.DockerClient:
        """A Docker SDK client that reaches the host's engine through this same SSH connection."""
        with self._docker_lock:
            if self._docker is None:
                from bluegreen.docker_over_ssh import docker_client

                self._docker = docker_client(self._sessions.open, self.name, self.user)
            return self._docker

    def close(self) -> None:
        if self._docker is not None:
            self._docker.close()
        if self._sftp is not None:
            self._sftp.close()
        if self._sftp_session is not None:
            self._sftp_session.close()
        self._client.close()
