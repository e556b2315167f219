"""What we may fetch: well-formed http(s) URLs, and only public addresses.

URLs. ``normalize`` gives the key a page is stored, cached and reported under: no fragment, no user
name or password (credentials in a link are dropped before anything is sent, stored or shown), scheme
and host in lower case. It never raises. ``check_url`` says why a URL cannot be fetched (bad host, IP
address, port, length, spaces or control characters), so a malformed link is a dead link with a reason,
never a crash.

Addresses. The check runs inside httpx's connection layer (an httpcore network backend), so it applies
after DNS resolution to every connection a request makes: the first one, each redirect hop and
robots.txt. The host is resolved once, every address it resolves to is checked, and the socket connects
to the checked address (no second lookup an attacker could answer differently). TLS still verifies the
certificate against the host name. ``host_refusal`` applies the same policy to a page served from the
cache, which makes no connection.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx

from assistant.text import strip_credentials  # noqa: F401 - one implementation, used by ingest too

# Addresses that are "global" to Python but still metadata endpoints worth naming.
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
MAX_URL_CHARS = 2048
WEB_SCHEMES = ("http", "https")
_WEB_PREFIX = re.compile(r"\s*https?://", re.IGNORECASE)
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f\s]")
_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
_SCHEME = re.compile(r"\s*([a-z][a-z0-9+.-]+):(?!\\)", re.IGNORECASE)
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/?#]*@", re.IGNORECASE)


# --- URLs ---------------------------------------------------------------------------------------
def is_web_url(text: str) -> bool:
    """``text`` is meant as a web address (http:// or https://), well-formed or not."""
    return bool(_WEB_PREFIX.match(text))


def foreign_scheme(text: str) -> str | None:
    """The scheme of an input written as a URL that is not http(s) (``ftp://``, ``file://``, ``javascript:``).

    Two letters at least, so a Windows drive (``C:``) is a path.
    """
    match = _SCHEME.match(text)
    if not match or is_web_url(text):
        return None
    return match.group(1).lower()


def has_credentials(url: str) -> bool:
    """The URL carries a user name or password (``http://user:pw@host/``)."""
    return bool(_USERINFO.match(url.strip()))


def normalize(url: str) -> str:
    """The URL without fragment or credentials, with a path: the key a page is stored and cached under.

    Never raises: a URL too malformed to parse keeps its text (less fragment and credentials), and
    ``check_url`` says what is wrong with it.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return _USERINFO.sub(r"\1", text.split("#", 1)[0])
    netloc = parts.netloc.rpartition("@")[2].lower()
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def check_url(url: str) -> str | None:
    """Why the http(s) URL ``url`` cannot be fetched (one line for the report), or None when it is well-formed."""
    if len(url) > MAX_URL_CHARS:
        return f"the URL is longer than {MAX_URL_CHARS} characters ({len(url)})"
    if _CONTROL_OR_SPACE.search(url):
        return "the URL contains a space or control character (spaces must be written %20)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # unclosed IPv6 bracket, port out of range or not a number
        return f"malformed URL ({exc})"
    if parts.scheme.lower() not in WEB_SCHEMES:
        return f"not an http(s) URL: {parts.scheme or 'no scheme'}"
    host = parts.hostname or ""
    if not host:
        return "the URL has no host name"
    if port == 0:
        return "port 0 is not a valid port"
    problem = _host_problem(host, bracketed="[" in parts.netloc)
    if problem:
        return problem
    try:  # the checks httpx makes when it sends (a malformed "xn--" label, say)
        _ = httpx.URL(url).host
    except (httpx.InvalidURL, ValueError) as exc:  # IDNAError is a UnicodeError, a ValueError
        return f"malformed URL ({str(exc)[:100]})"
    return None


def _host_problem(host: str, *, bracketed: bool) -> str | None:
    if bracketed or ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{host[:60]} is not a valid IPv6 address"
        return None
    if len(host) > 253:
        return "the host name is longer than 253 characters"
    labels = host.removesuffix(".").split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):  # read as an IPv4 address (0177.0.0.1, 2130706433, 1.2.3 too)
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return f"{host[:60]} is not a valid IP address (write it as four numbers 0-255, e.g. 93.184.216.34)"
        return None
    if not host.isascii():
        return None  # an international name: httpx encodes it (IDNA) and check_url asks httpx last
    for label in labels:
        if not _LABEL.fullmatch(label):
            if not label:
                return f"invalid host name {host[:60]} (empty label)"
            if len(label) > 63:
                return f"invalid host name {host[:60]}... (a label longer than 63 characters)"
            return f"invalid host name {host[:60]} (only letters, digits, '-' and '_' are allowed)"
    return None


# --- addresses -----------------------------------------------------------------------------------
class RefusedAddress(Exception):
    """The host resolves to an address we never connect to."""

    def __init__(self, host: str, address: str, why: str) -> None:
        super().__init__(f"{host} resolves to {why} {address}")
        self.host, self.address, self.why = host, address, why


class LookupFailed(Exception):
    """DNS resolution failed or timed out."""


class InvalidHost(Exception):
    """The host name cannot be looked up at all (it is malformed)."""


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
        except Exception as exc:  # OSError, and UnicodeError for names the IDNA codec refuses
            result["error"] = exc

    worker = threading.Thread(target=lookup, daemon=True, name=f"dns-{host[:40]}")
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise LookupFailed(f"DNS lookup for {host} timed out")
    error = result.get("error")
    if isinstance(error, ValueError):  # UnicodeError included: a label the IDNA codec refuses
        raise InvalidHost(f"invalid host name {host[:60]}")
    if error is not None or "infos" not in result:
        raise LookupFailed(f"DNS lookup for {host} failed")
    addresses = list(dict.fromkeys(str(info[4][0]) for info in result["infos"]))
    if not addresses:
        raise LookupFailed(f"DNS lookup for {host} returned no address")
    return addresses


def checked_addresses(host: str, port: int, timeout: float | None, *, allow_loopback: bool) -> list[str]:
    """The addresses of ``host``, all of them allowed; raises ``RefusedAddress`` when any one is not."""
    addresses = resolve(host, port, timeout)
    for address in addresses:  # one bad address is enough to refuse the host
        why = classify(address, allow_loopback=allow_loopback)
        if why:
            raise RefusedAddress(host, address, why)
    return addresses


def host_refusal(url: str, timeout: float | None, *, allow_loopback: bool) -> RefusedAddress | None:
    """The policy's answer for the host of ``url`` without connecting (for pages served from the cache).

    A malformed URL is refused; a failed lookup is no refusal: offline, cached copies stay usable.
    """
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return RefusedAddress(url[:60], "", "malformed URL")
    try:
        checked_addresses(host, port, timeout, allow_loopback=allow_loopback)
    except RefusedAddress as exc:
        return exc
    except InvalidHost:
        return RefusedAddress(host, "", "invalid host name")
    except LookupFailed:
        return None
    return None


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
        addresses = checked_addresses(host, port, timeout, allow_loopback=self.allow_loopback)
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
