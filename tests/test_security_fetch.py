"""The HTTP fetcher's address rule on redirects (issue 18, item 13): `allow_private` is the source's own host
and port; a redirect anywhere else private needs `allow_private_redirects`. Local servers only."""

from __future__ import annotations

import asyncio
import socket

import pytest

from conftest import LocalServer
from hostile import SECRET, canary, redirect
from monitor.fetch import FetchRequest, FetchSettings, fetch_source
from monitor.fetch import addresses as fetch_addresses
from monitor.fetch.http import AddressPolicy, FetchFailure, Resolver, check_url
from monitor.sources import Source

FAST = FetchSettings(retries=0, connect_timeout=2, read_timeout=2, total_timeout=5)


def fetch(url: str, **fields: object):  # type: ignore[no-untyped-def]
    source = Source(id="test", provider="Test", title="Terms", url=url, respect_robots=False, **fields)
    return fetch_source(FetchRequest(source), FAST)


@pytest.fixture
def private():  # type: ignore[no-untyped-def]
    with canary() as server:
        yield server


def test_allow_private_does_not_cover_a_redirect_to_another_loopback_port(local_server: LocalServer,
                                                                          private: LocalServer) -> None:
    url = redirect(local_server, "/start", private.url("/secret"))
    result = fetch(url, allow_private=True)
    assert result.outcome == "blocked"
    assert "loopback" in result.error and "allow_private_redirects" in result.error
    assert private.requests == []


def test_allow_private_redirects_follows_it(local_server: LocalServer, private: LocalServer) -> None:
    url = redirect(local_server, "/start", private.url("/secret"))
    result = fetch(url, allow_private=True, allow_private_redirects=True)
    assert result.outcome == "ok" and SECRET.encode() in result.body
    assert result.final_url == private.url("/secret")


def test_redirects_within_the_sources_own_host_and_port_still_work(local_server: LocalServer) -> None:
    local_server.serve("/a", "", status=301, Location="/b")
    local_server.serve("/b", "final")
    result = fetch(local_server.url("/a"), allow_private=True)
    assert result.outcome == "ok" and result.body == b"final"


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/admin",
                                    "http://127.0.0.1:1/", "http://[::1]:8080/"])
def test_policy_refuses_private_targets_off_the_sources_origin(target: str) -> None:
    # The rule itself, without any connection: every target is an address literal, so nothing is resolved.
    policy = AddressPolicy.for_source(Source(id="s", provider="P", title="T", url="http://127.0.0.1:8000/terms",
                                             allow_private=True))
    asyncio.run(check_url("http://127.0.0.1:8000/other", policy, Resolver()))
    with pytest.raises(FetchFailure) as refusal:
        asyncio.run(check_url(target, policy, Resolver()))
    assert refusal.value.outcome == "blocked" and "allow_private_redirects" in refusal.value.error


def test_ambiguous_url_is_refused_by_the_address_rule() -> None:
    # Checked on the rule alone: httpx, like urlsplit, would connect to the public host of this URL.
    policy = AddressPolicy(home=None)
    with pytest.raises(FetchFailure) as refusal:
        asyncio.run(check_url("http://127.0.0.1:8000\\@8.8.8.8/secret", policy, Resolver()))
    assert refusal.value.outcome == "blocked" and "ambiguous URL" in refusal.value.error


def test_allow_private_redirects_is_documented_in_the_readme() -> None:
    from conftest import REPO

    readme = (REPO / "README.md").read_text()
    assert "allow_private_redirects" in readme


# ---------------------------------------------------------------- DNS rebinding

@pytest.fixture
def rebinding_dns(monkeypatch):  # type: ignore[no-untyped-def]
    """`answers[name]`: the addresses each lookup of `name` gets in turn, the last one from then on; loopback
    addresses other than 127.0.0.2 count as public."""
    answers: dict[str, list[list[str]]] = {}
    real_lookup = asyncio.base_events.BaseEventLoop.getaddrinfo
    real_refusal = fetch_addresses.address_refusal

    async def lookup(loop, host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host not in answers:
            return await real_lookup(loop, host, port, *args, **kwargs)
        turn = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port or 0)) for address in turn]

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "getaddrinfo", lookup)
    monkeypatch.setattr(fetch_addresses, "address_refusal",
                        lambda address: real_refusal(address) if str(address) == "127.0.0.2" else None)
    return answers


def test_a_name_is_connected_to_at_the_address_it_was_checked_at(local_server: LocalServer, rebinding_dns) -> None:
    # The name answers a public address for the check, then the private service's for the connection.
    hostile = LocalServer(host="127.0.0.2", port=local_server.port)
    try:
        hostile.serve("/terms", SECRET)
        local_server.serve("/terms", "<h1>Terms</h1>")
        rebinding_dns["terms.example"] = [["127.0.0.1"], ["127.0.0.2"]]
        result = fetch(f"http://terms.example:{local_server.port}/terms")
        assert (result.outcome, result.body) == ("ok", b"<h1>Terms</h1>")
        assert hostile.requests == []
    finally:
        hostile.close()


def test_the_next_checked_address_is_tried_when_one_refuses(local_server: LocalServer, rebinding_dns) -> None:
    local_server.serve("/terms", "<h1>Terms</h1>")
    rebinding_dns["terms.example"] = [["127.0.0.3", "127.0.0.1"], ["127.0.0.2"]]  # nothing listens on .3
    result = fetch(f"http://terms.example:{local_server.port}/terms")
    assert (result.outcome, result.body) == ("ok", b"<h1>Terms</h1>")


def test_a_connection_finds_the_checked_addresses_by_the_idna_name_it_uses(rebinding_dns) -> None:
    rebinding_dns["münchen.example"] = [["127.0.0.1"]]

    async def resolve() -> Resolver:
        resolver = Resolver()
        await resolver.addresses("münchen.example", "http://münchen.example/")
        return resolver

    resolver = asyncio.run(resolve())
    assert [str(address) for address in resolver.resolved("xn--mnchen-3ya.example")] == ["127.0.0.1"]
    assert resolver.resolved("other.example") is None
