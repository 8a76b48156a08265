"""The webhook SSRF guard (webhook_targets.py) judges the IPv4 address an IPv6 literal carries
to a translator or tunnel as it judges a plain one: NAT64 (64:ff9b::/96, RFC 6052; the local-use
64:ff9b:1::/48, RFC 8215), 6to4 (2002::/16) and Teredo, like IPv4-mapped ::ffff:a.b.c.d.
Literal addresses only: nothing is resolved over the network."""

from __future__ import annotations

import ipaddress

import pytest

from webhook_targets import TargetRefused, check_target, networks, refused_address

METADATA = "169.254.169.254"


async def _reason(url: str, allowed: tuple = ()) -> str:
    with pytest.raises(TargetRefused) as refused:
        await check_target(url, allowed)
    return str(refused.value)


@pytest.mark.parametrize("url", [
    "http://[64:ff9b::a9fe:a9fe]/",          # NAT64 well-known prefix
    "http://[64:ff9b::169.254.169.254]/",    # the same, written with its IPv4 address
    "http://[64:ff9b:1::a9fe:a9fe]/",        # NAT64 local-use prefix, /96 form
    "http://[2002:a9fe:a9fe::]/",            # 6to4
    "http://[2002:a9fe:a9fe:1::5]/",
])
async def test_an_embedded_metadata_address_is_refused_as_the_plain_one_is(url: str) -> None:
    mapped = await _reason("http://[::ffff:169.254.169.254]/")
    reason = await _reason(url)
    host = url.split("//", 1)[1].rsplit("/", 1)[0].strip("[]")
    assert reason == mapped.replace("::ffff:169.254.169.254", host), reason
    assert f"resolves to {METADATA}," in reason


@pytest.mark.parametrize(("address", "embedded"), [
    ("64:ff9b::a00:5", "10.0.0.5"),
    ("64:ff9b::7f00:1", "127.0.0.1"),
    ("64:ff9b::c0a8:101", "192.168.1.1"),
    ("2002:a00:5::1", "10.0.0.5"),
    ("2002:7f00:1::", "127.0.0.1"),
])
def test_private_and_loopback_ipv4_inside_ipv6_are_refused(address: str, embedded: str) -> None:
    assert refused_address(ipaddress.ip_address(address)) == ipaddress.ip_address(embedded)


def test_teredo_is_judged_by_its_server_and_client_and_refused() -> None:
    # Teredo server 65.54.227.120, client 192.0.2.45 (the documentation network): refused.
    teredo = ipaddress.ip_address("2001:0:4136:e378:8000:63bf:3fff:fdd2")
    assert refused_address(teredo) is not None
    # A Teredo address whose client is the metadata service names it.
    client = int(ipaddress.IPv4Address(METADATA)) ^ 0xFFFF_FFFF
    to_metadata = ipaddress.IPv6Address((0x2001_0000_4136_e378_8000_0000 << 32) | client)
    assert to_metadata.teredo[1] == ipaddress.IPv4Address(METADATA)
    assert refused_address(to_metadata) == ipaddress.IPv4Address(METADATA)


def test_a_public_ipv4_through_the_well_known_nat64_prefix_or_6to4_still_passes() -> None:
    for address in ("64:ff9b::808:808", "2002:808:808::1", "2606:4700:4700::1111", "8.8.8.8"):
        assert refused_address(ipaddress.ip_address(address)) is None, address


def test_the_local_use_nat64_prefix_is_not_public_but_may_be_allowed() -> None:
    """64:ff9b:1::/48 is a domain's own translator (RFC 8215, not globally reachable): refused
    even with a public IPv4 inside, unless the deployment allows that network; an embedded
    private address is refused even then, unless its own network is allowed too."""
    local = ipaddress.ip_address("64:ff9b:1::808:808")
    assert refused_address(local) == local
    assert refused_address(local, networks(["64:ff9b:1::/48"])) is None
    private = ipaddress.ip_address("64:ff9b:1::a00:5")
    assert refused_address(private, networks(["64:ff9b:1::/48"])) == ipaddress.ip_address("10.0.0.5")
    assert refused_address(private, networks(["64:ff9b:1::/48", "10.0.0.0/8"])) is None


async def test_an_allowed_network_is_allowed_through_its_nat64_or_6to4_form() -> None:
    vpn = networks(["10.20.0.0/16"])
    await check_target("http://[64:ff9b::a14:1]/", vpn)  # 10.20.0.1
    await check_target("http://[2002:a14:1::]/", vpn)
    await check_target("http://[::ffff:10.20.0.1]/", vpn)
    assert "10.0.0.5" in await _reason("http://[64:ff9b::a00:5]/", vpn)
