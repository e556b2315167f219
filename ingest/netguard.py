"""Refuse connections to private, loopback, link-local and cloud-metadata addresses.

The check runs inside httpx's connection layer (an httpcore network backend), so it applies after
DNS resolution to every connection a request makes: the first one, each redirect hop and robots.txt.
The host is resolved once, every address it resolves to is checked, and the socket connects to the
checked address (no second lookup an attacker could answer differently). TLS still verifies the
certificate against the host name.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

# Addresses that are "global" to Python but still metadata endpoints worth naming.
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class RefusedAddress(Exception):
    """The host resolves to an address we never connect to."""

    def __init__(self, host: str, address: str, why: str) -> None:
        super().__init__(f"{host} resolves to {why} {address}")
        self.host, self.address, self.why = host, address, why


class LookupFailed(Exception):
    """DNS resolution failed or timed out."""


def classify(address: str, *, allow_loopback: bool = False) -> str | None:
    """Why we refuse ``address`` (e.g. "private address"), or None when it is a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA:
        return "cloud-metadata address"
    if ip.is_loopback:
        return None if allow_loopback else "loopback address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_private:
        return "private address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "non-public address"
    return None


def resolve(host: str, port: int, timeout: float | None) -> list[str]:
    """Addresses for ``host``, giving up after ``timeout`` seconds (getaddrinfo has no timeout)."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    result: dict[str, Any] = {}

    def lookup() -> None:
        try:
            result["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            result["error"] = exc

    worker = threading.Thread(target=lookup, daemon=True, name=f"dns-{host}")
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise LookupFailed(f"DNS lookup for {host} timed out")
    if "error" in result:
        raise LookupFailed(f"DNS lookup for {host} failed")
    addresses = list(dict.fromkeys(str(info[4][0]) for info in result["infos"]))
    if not addresses:
        raise LookupFailed(f"DNS lookup for {host} returned no address")
    return addresses


class GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, allow_loopback: bool) -> None:
        self.allow_loopback = allow_loopback
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve(host, port, timeout)
        for address in addresses:  # one bad address is enough to refuse the host
            why = classify(address, allow_loopback=self.allow_loopback)
            if why:
                raise RefusedAddress(host, address, why)
        return self._inner.connect_tcp(addresses[0], port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise RefusedAddress(path, path, "unix socket")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport with the guarded network backend; never uses proxies from the environment."""

    def __init__(self, *, allow_loopback: bool, max_connections: int = 16) -> None:
        super().__init__(trust_env=False)
        ssl_context = httpx.create_ssl_context(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(allow_loopback),
        )
