"""Do our SASL credentials work? One bounded login before any client connects.

Kafka clients that are refused at SASL time retry for ever (the worker did),
logging a reconnect now and then and never the reason. So before a client
starts, :func:`login_problem` performs the login itself, with the settings'
mechanism, user and password, over one socket with a timeout: a
``SaslHandshake`` naming the mechanism, then ``SaslAuthenticate`` rounds
(one for PLAIN; client-first and client-final for SCRAM, whose server
signature is checked too). A refusal becomes one sentence with the broker's
own reason; a login that works leaves nothing behind but a closed socket.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import ssl
import struct

from policysim.base.settings import Settings

_HANDSHAKE, _AUTHENTICATE = 17, 36
_ERRORS = {
    33: "the broker does not offer this SASL mechanism",
    34: "the broker is not in a state to authenticate",
    58: "the broker refused the user name or password",
}
_SCRAM_HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}


class _Connection:
    """Kafka requests (header v1, no tagged fields) over one socket with a deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.correlation = 0

    def request(self, api_key: int, version: int, body: bytes) -> bytes:
        self.correlation += 1
        client = b"policysim-login"
        header = struct.pack(">hhih", api_key, version, self.correlation, len(client)) + client
        message = header + body
        self.sock.sendall(struct.pack(">i", len(message)) + message)
        (size,) = struct.unpack(">i", self._read(4))
        response = self._read(size)
        (correlation,) = struct.unpack(">i", response[:4])
        if correlation != self.correlation:
            raise OSError("the broker answered out of order")
        return response[4:]

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise OSError("the broker closed the connection")
            data += chunk
        return data


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def _handshake(conn: _Connection, mechanism: str) -> str | None:
    body = conn.request(_HANDSHAKE, 1, _string(mechanism))
    (error,) = struct.unpack(">h", body[:2])
    if error == 0:
        return None
    offered, rest = [], body[6:]
    for _ in range(struct.unpack(">i", body[2:6])[0]):
        (length,) = struct.unpack(">h", rest[:2])
        offered.append(rest[2 : 2 + length].decode())
        rest = rest[2 + length :]
    reason = _ERRORS.get(error, f"error code {error}")
    return f"{reason} (it offers {', '.join(offered) or 'none'})"


def _authenticate(conn: _Connection, payload: bytes) -> tuple[str | None, bytes]:
    """One SaslAuthenticate round: (the refusal, or None; the server's bytes)."""
    body = conn.request(_AUTHENTICATE, 0, struct.pack(">i", len(payload)) + payload)
    (error,) = struct.unpack(">h", body[:2])
    (length,) = struct.unpack(">h", body[2:4])
    message = body[4 : 4 + length].decode(errors="replace") if length > 0 else ""
    rest = body[4 + max(length, 0) :]
    (size,) = struct.unpack(">i", rest[:4])
    if error:
        return message or _ERRORS.get(error, f"error code {error}"), b""
    return None, rest[4 : 4 + max(size, 0)]


def _scram(conn: _Connection, mechanism: str, user: str, password: str) -> str | None:
    """The SCRAM exchange of RFC 5802, client side, checking the server's signature."""
    digest = _SCRAM_HASHES[mechanism]
    nonce = base64.b64encode(os.urandom(18)).decode()
    name = user.replace("=", "=3D").replace(",", "=2C")
    first_bare = f"n={name},r={nonce}"
    refused, server_first = _authenticate(conn, f"n,,{first_bare}".encode())
    if refused:
        return refused
    fields = dict(item.split("=", 1) for item in server_first.decode().split(","))
    if not fields.get("r", "").startswith(nonce):
        return "the broker's SCRAM answer does not carry our nonce"
    salted = hashlib.pbkdf2_hmac(
        digest, password.encode(), base64.b64decode(fields["s"]), int(fields["i"])
    )
    client_key = hmac.digest(salted, b"Client Key", digest)
    final_bare = f"c=biws,r={fields['r']}"
    auth_message = f"{first_bare},{server_first.decode()},{final_bare}".encode()
    signature = hmac.digest(hashlib.new(digest, client_key).digest(), auth_message, digest)
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    final = f"{final_bare},p={base64.b64encode(proof).decode()}".encode()
    refused, server_final = _authenticate(conn, final)
    if refused:
        return refused
    server_key = hmac.digest(salted, b"Server Key", digest)
    expected = base64.b64encode(hmac.digest(server_key, auth_message, digest)).decode()
    if server_final.decode() != f"v={expected}":
        return "the broker's SCRAM signature does not match: it is not who it claims to be"
    return None


def login_problem(host: str, port: int, settings: Settings, timeout: float) -> str | None:
    """Log in as the settings say; None when it works, else why not (one sentence)."""
    mechanism = (settings.sasl_mechanism or "PLAIN").upper()
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            sock: socket.socket = raw
            if settings.security_protocol.upper() == "SASL_SSL":
                context = ssl.create_default_context(cafile=settings.ssl_cafile or None)
                sock = context.wrap_socket(raw, server_hostname=host)
            conn = _Connection(sock)
            refused = _handshake(conn, mechanism)
            if refused is None and mechanism == "PLAIN":
                payload = f"\0{settings.sasl_username}\0{settings.sasl_password}".encode()
                refused, _ = _authenticate(conn, payload)
            elif refused is None:
                refused = _scram(conn, mechanism, settings.sasl_username, settings.sasl_password)
    except (OSError, ValueError, KeyError, struct.error) as exc:
        return f"the SASL login did not complete ({exc})"
    if refused is None:
        return None
    return f"{refused} (user {settings.sasl_username!r}, mechanism {mechanism})"
