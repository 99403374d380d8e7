"""TCPSite with an ssl_context: HTTPS over real TLS, and what handlers see of it."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from webkit import web

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="the openssl command is needed to make a test cert"
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return key, cert


async def test_https_site_serves_and_reports_the_scheme(certificate: tuple[Path, Path]) -> None:
    key, cert = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(
            {"scheme": request.scheme, "secure": request.secure, "url": str(request.url)}
        )

    app = web.Application()
    app.router.add_get("/where", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    try:
        port = runner.addresses[0][1]
        assert site.name == f"https://127.0.0.1:{port}"
        client_context = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(verify=client_context) as client:
            resp = await client.get(f"https://127.0.0.1:{port}/where")
        assert resp.status_code == 200
        assert resp.json() == {
            "scheme": "https",
            "secure": True,
            "url": f"https://127.0.0.1:{port}/where",
        }
        # A plain-HTTP request to the TLS port gets no HTTP answer, and the site keeps going.
        with pytest.raises(httpx.HTTPError):
            async with httpx.AsyncClient() as plain:
                await plain.get(f"http://127.0.0.1:{port}/where")
        async with httpx.AsyncClient(verify=client_context) as client:
            assert (await client.get(f"https://127.0.0.1:{port}/where")).status_code == 200
    finally:
        await runner.cleanup()
