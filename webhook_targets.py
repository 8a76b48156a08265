"""Where webhooks may go: partners on the internet, never the deployment's own network.

A supervisor names the URL a subscription posts to.  Unchecked, that is a server-side
request forgery: ``http://10.0.0.5:7233/``, ``http://169.254.169.254/`` (a cloud's metadata
service) or ``http://localhost:5432/`` would make the worker send signed case events into
the deployment's own network.  So a URL's host must resolve only to public (globally
routable) addresses, checked when the subscription is made and again before every delivery
(DNS may change in between; the check and the connection still resolve separately, a
window a rebinding attacker with a very short TTL could use: the egress firewall of the
deployment stays the last line, README "Outbound webhooks").  An IPv6 address that carries
an IPv4 one to a translator or tunnel (IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16,
Teredo) is judged by that IPv4 address too: ``[64:ff9b::a9fe:a9fe]`` is 169.254.169.254.

``ITINERA_WEBHOOK_ALLOWED_NETWORKS`` lists private networks that are nonetheless allowed
(e.g. a partner reached over a VPN at 10.20.0.0/16); ``itinera dev`` and the tests allow
the loopback network so webhooks can be tried on one machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefused(ValueError):
    """The URL may not receive webhooks; the message says why, for the supervisor."""


def networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


async def check_target(url: str, allowed: Sequence[Network] = (), *, unresolved_ok: bool = False) -> None:
    """Raise ``TargetRefused`` unless every address ``url``'s host resolves to is public or
    in ``allowed``.  ``unresolved_ok``: a host that does not resolve (yet) passes; a
    subscription may be made before the partner's DNS is, and every delivery checks again."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise TargetRefused("has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        if unresolved_ok:
            return
        raise TargetRefused(f"its host {host} does not resolve ({exc})") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        refused = refused_address(address, allowed)
        if refused is not None:
            raise TargetRefused(
                f"its host {host} resolves to {refused}, a private, loopback, link-local or reserved address: "
                "webhooks go only to public addresses (an administrator may allow a network with "
                "ITINERA_WEBHOOK_ALLOWED_NETWORKS)")


NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: a domain's own NAT64, not globally reachable


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries to (a translator or tunnel sends the packets
    there): IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::a.b.c.d`` (and the local-use
    ``64:ff9b:1::/48`` in its /96 form), 6to4 ``2002:AABB:CCDD::``, Teredo (server and client)."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address in NAT64_WELL_KNOWN or address in NAT64_LOCAL_USE:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
                    allowed: Sequence[Network] = ()) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address (``address`` or an IPv4 address it embeds) that keeps a webhook from going
    there, or None.  Every IPv4 address an IPv6 one carries is judged as a plain one would be,
    so ``[64:ff9b::a9fe:a9fe]`` is refused as ``169.254.169.254`` is; the IPv6 address itself
    is judged too (except an IPv4-mapped one, which is only its IPv4 address)."""
    judged: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        judged = [*embedded_ipv4(address), *([] if address.ipv4_mapped is not None else [address])]
    for one in judged:
        if any(one in network for network in allowed):
            continue
        if one.is_global and not one.is_multicast and one not in NAT64_LOCAL_USE:
            continue
        return one
    return None
