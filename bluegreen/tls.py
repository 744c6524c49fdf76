"""TLS over any byte stream (an SSH channel): Python's ssl cannot wrap a paramiko Channel, so the
TLS state machine runs on memory buffers and the encrypted bytes are pumped over the stream.

The certificate is not verified (the check is about routing: which color nginx answers from); it is
read, to report when it expires and whom it names.
"""

from __future__ import annotations

import functools
import io
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from cryptography import x509

from bluegreen.host import Stream

CHUNK = 16384
T = TypeVar("T")


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    """RFC 4514, e.g. `CN=shop.example.com`."""
    names: tuple[str, ...]
    """Its DNS subject alternative names."""
    not_after: datetime
    """When it expires (UTC)."""

    @property
    def expires(self) -> str:
        """ISO 8601, UTC: `2027-01-31T12:00:00Z`."""
        return self.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")

    def days_left(self, now: datetime) -> int:
        return (self.not_after - now).days

    def names_host(self, host: str) -> bool:
        """Whether a browser would take it for `host` (a SAN, or a `*.` SAN for one label)."""
        host = host.lower().rstrip(".")
        for name in (n.lower().rstrip(".") for n in self.names):
            if name == host:
                return True
            if name.startswith("*.") and host.partition(".")[2] == name[2:] and "." in name[2:]:
                return True
        return False

    @classmethod
    def from_der(cls, der: bytes) -> CertificateInfo:
        certificate = x509.load_der_x509_certificate(der)
        try:
            san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = tuple(san.get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            names = ()
        return cls(certificate.subject.rfc4514_string(), names, certificate.not_valid_after_utc)


def unverified_context() -> ssl.SSLContext:
    """TLS 1.2+, any certificate accepted: only routing is checked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class TlsStream:
    """A client TLS connection over `stream`, with the same Stream interface (and `makefile`, which
    http.client reads responses through). Construct it with `open_tls`, which shakes hands."""

    def __init__(self, stream: Stream, server_name: str) -> None:
        self._raw = stream
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = unverified_context().wrap_bio(self._incoming, self._outgoing, server_hostname=server_name)

    def handshake(self) -> None:
        self._pump(self._tls.do_handshake)

    @property
    def certificate(self) -> CertificateInfo | None:
        der = self._tls.getpeercert(binary_form=True)
        return CertificateInfo.from_der(der) if der else None

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self._pump(functools.partial(self._tls.write, view))
            view = view[written:]

    def recv(self, size: int) -> bytes:
        try:
            return self._pump(functools.partial(self._tls.read, size))
        except ssl.SSLZeroReturnError:  # close_notify
            return b""
        except ssl.SSLEOFError:  # closed without close_notify: an end of stream, as sockets say
            return b""

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        if mode != "rb":
            raise ValueError(f"TlsStream.makefile supports only 'rb', not {mode!r}")
        return io.BufferedReader(_Reader(self))

    def settimeout(self, timeout: float | None) -> None:
        self._raw.settimeout(timeout)

    def close(self) -> None:
        self._raw.close()

    def _pump(self, operation: Callable[[], T]) -> T:
        """Run a TLS operation, carrying its bytes over the stream until it completes."""
        while True:
            try:
                result = operation()
            except ssl.SSLWantReadError:
                self._flush()
                data = self._raw.recv(CHUNK)
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()
                continue
            self._flush()
            return result

    def _flush(self) -> None:
        pending = self._outgoing.read()
        if pending:
            self._raw.sendall(pending)


class _Reader(io.RawIOBase):
    def __init__(self, stream: TlsStream) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._stream.recv(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_tls(stream: Stream, server_name: str, timeout: float) -> TlsStream:
    """Shake hands over `stream` (SNI: server_name); the stream is closed if that fails."""
    stream.settimeout(timeout)
    tls = TlsStream(stream, server_name)
    try:
        tls.handshake()
    except BaseException:
        stream.close()
        raise
    return tls
