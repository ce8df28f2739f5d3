"""robots.txt rules under RFC 9309: wildcards, end anchors and the longest match (no network: parsed replies)."""

from __future__ import annotations

import asyncio

import pytest

from monitor.fetch.robots import RobotsCache, RobotsReply, parse_robots

TOKEN = "ClauseWatch"

# (robots.txt, path, allowed): the cases the standard library's parser gets wrong, and a few it gets right.
CASES = [
    # `*` matches any run of characters (RFC 9309 §2.2.3)
    ("User-agent: *\nDisallow: /*/terms\n", "/legal/terms", False),
    ("User-agent: *\nDisallow: /*.pdf\n", "/legal/terms.pdf", False),
    ("User-agent: *\nDisallow: /*.pdf\n", "/legal/terms.html", True),
    # `$` anchors the end of the path
    ("User-agent: *\nDisallow: /legal$\n", "/legal", False),
    ("User-agent: *\nDisallow: /legal$\n", "/legal/terms", True),
    # the longest matching rule wins, whatever the order of the lines (§2.2.2)
    ("User-agent: *\nDisallow: /\nAllow: /legal/\n", "/legal/terms", True),
    ("User-agent: *\nDisallow: /\nAllow: /legal/\n", "/pricing", False),
    ("User-agent: *\nAllow: /legal/\nDisallow: /legal/internal/\n", "/legal/internal/x", False),
    # a tie between Allow and Disallow goes to Allow
    ("User-agent: *\nDisallow: /legal\nAllow: /legal\n", "/legal", True),
    # our own group applies instead of `*`, matched case-insensitively
    ("User-agent: *\nDisallow: /\n\nUser-agent: clausewatch\nAllow: /\n", "/legal/terms", True),
    ("User-agent: *\nAllow: /\n\nUser-agent: ClauseWatch\nDisallow: /legal/\n", "/legal/terms", False),
    ("User-agent: OtherBot\nDisallow: /\n", "/legal/terms", True),
]


@pytest.mark.parametrize(("robots", "path", "allowed"), CASES)
def test_rfc_9309_matching(robots: str, path: str, allowed: bool) -> None:
    async def load(address: str) -> RobotsReply:
        assert address == "https://example.com/robots.txt"
        return RobotsReply(200, robots.encode())

    assert asyncio.run(RobotsCache(TOKEN).allows(f"https://example.com{path}", load)) is allowed


@pytest.mark.parametrize("status", [404, 410, 500, 503, None])
def test_no_rules_when_there_is_no_usable_robots_txt(status: int | None) -> None:
    assert parse_robots(RobotsReply(status, b"User-agent: *\nDisallow: /\n")) is None
