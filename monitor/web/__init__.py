"""Web stage: the database in, a read-only history site out (server pages, JSON mirrors, Atom feeds, static export)."""

from monitor.web.app import create_app

__all__ = ["create_app"]
