"""Test kit: real servers on 127.0.0.1 and an httpx client, plus a pytest plugin.

``TestServer``/``RawTestServer`` start an app or a bare handler on a free port;
``TestClient`` talks to them over real TCP through httpx.
"""

from webkit.testing.client import TestClient
from webkit.testing.server import BaseTestServer, RawTestServer, TestServer, unused_port

__all__ = ["BaseTestServer", "RawTestServer", "TestClient", "TestServer", "unused_port"]
