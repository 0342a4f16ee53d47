"""The HTTP/2 transport of APNs and FCM (integration/providers/http2.py) against a real
HTTP/2 server that misbehaves on purpose: every request the server answered is read as
answered, what it did not take goes again or fails for the caller to retry, and nothing is
lost or taken twice."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import httpcore
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from integration.providers.http2 import Http2Transport
from tests.integration.fakes.h2server import Faults, H2Server
from tests.integration.fakes.server import Request, Response

pytestmark = pytest.mark.slow

REQUESTS = 200
ROUNDS = 5


def _recorder(taken: list[str]) -> Callable[[Request], Response]:
    def handle(request: Request) -> Response:
        taken.append(request.path)
        return Response.json(200, {"path": request.path}, headers={"apns-id": "x"})

    return handle


def send_all(
    url: str, *, requests: int = REQUESTS, timeout: float = 10.0, connections: int = 4
) -> dict[str, str]:
    """Every request at once over one transport; what became of each."""

    async def run() -> dict[str, str]:
        transport = Http2Transport(timeout=timeout, max_connections=connections)
        fates: dict[str, str] = {}

        async def one(number: int) -> None:
            path = f"/push/{number}"
            try:
                response = await transport.post(url + path, headers={}, content=b"{}")
                assert response.json() == {"path": path}
                fates[path] = str(response.status_code)
            except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as e:
                fates[path] = type(e).__name__

        await asyncio.gather(*(one(number) for number in range(requests)))
        transport.close()
        return fates

    return asyncio.run(run())


def run_against(faults: Faults, **kwargs: float) -> tuple[H2Server, list[str], dict[str, str]]:
    taken: list[str] = []
    server = H2Server(_recorder(taken), faults=faults).start()
    try:
        fates = send_all(server.url, **kwargs)  # type: ignore[arg-type]
    finally:
        server.stop()
    return server, taken, fates


def test_without_faults_every_request_is_answered_over_one_connection():
    server, taken, fates = run_against(Faults(latency=0.01))

    assert set(fates.values()) == {"200"}
    assert sorted(taken) == sorted(fates)
    assert server.connections == 1
    # All at once: the server saw them in flight together, as streams of that connection.
    assert server.most_in_flight > REQUESTS // 2


def test_a_server_that_takes_few_streams_at_once_gets_more_connections_up_to_the_bound():
    for connections, expected in ((4, 4), (1, 1)):
        taken: list[str] = []
        server = H2Server(_recorder(taken), faults=Faults(latency=0.05), max_streams=10).start()
        try:
            fates = send_all(server.url, requests=60, connections=connections)
        finally:
            server.stop()

        assert set(fates.values()) == {"200"}
        assert sorted(taken) == sorted(fates)
        assert server.connections == expected
        # Never more streams than the server allows on each: they waited their turn.
        assert server.most_in_flight == 10 * expected


def test_an_answer_that_arrives_with_a_goaway_is_read_not_failed():
    # GOAWAY in the middle of 200 requests in flight, in several rounds (httpcore 1.0 failed
    # such answers in 8 of 10 rounds: a push the provider took looked failed).
    for _ in range(ROUNDS):
        server, taken, fates = run_against(Faults(latency=0.005, goaway=frozenset({100})))

        assert len(server.faulted) == 1
        # What the server took was answered, and read as answered: never failed, so never
        # sent again by a caller.
        assert {fates[path] for path in taken} == {"200"}
        assert len(taken) == len(set(taken))
        # What it did not take went again, at once, on a new connection: nothing vanished.
        assert set(fates) == {f"/push/{number}" for number in range(REQUESTS)}
        assert set(fates.values()) == {"200"}
        assert server.connections == 2


def test_a_reset_stream_fails_that_request_alone():
    server, taken, fates = run_against(Faults(reset=frozenset({3, 17})))

    failed = {path for path, fate in fates.items() if fate != "200"}
    assert len(failed) == 2
    assert {fates[path] for path in failed} == {"RemoteProtocolError"}
    assert not failed & set(taken)
    assert len(taken) == REQUESTS - 2
    assert server.connections == 1


def test_a_dropped_connection_fails_what_was_in_flight_and_the_next_request_reconnects():
    taken: list[str] = []
    server = H2Server(_recorder(taken), faults=Faults(latency=0.01, drop=frozenset({50}))).start()
    try:
        fates = send_all(server.url)
        again = send_all(server.url, requests=10)
    finally:
        server.stop()

    failed = {path for path, fate in fates.items() if fate != "200"}
    assert failed  # what was waiting on the cut connection
    assert {fates[path] for path in failed} <= {"ReadError", "RemoteProtocolError"}
    answered = {path for path, fate in fates.items() if fate == "200"}
    assert answered <= set(taken)
    assert set(again.values()) == {"200"}
    assert server.connections >= 2


def test_no_answer_in_time_is_a_timeout_and_the_stream_is_cancelled():
    server, taken, fates = run_against(Faults(latency=2.0), requests=5, timeout=0.2)

    assert set(fates.values()) == {"ReadTimeout"}
    assert taken == []  # the server's answers were cancelled with their streams
    assert server.in_flight == 0


def test_nothing_listening_is_a_connect_error():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    fates = send_all(f"http://127.0.0.1:{port}", requests=3, timeout=2.0)

    assert set(fates.values()) == {"ConnectError"}


def _self_signed(directory: Path) -> Path:
    """A certificate for 127.0.0.1 and its key, in one PEM file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "afterglow test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = directory / "server.pem"
    path.write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _post_once(url: str, tls: ssl.SSLContext) -> str:
    async def run() -> str:
        transport = Http2Transport(timeout=5.0, tls=tls)
        try:
            response = await transport.post(url + "/push/1", headers={}, content=b"{}")
            return str(response.status_code)
        except (httpcore.NetworkError, httpcore.ProtocolError) as error:
            return type(error).__name__
        finally:
            transport.close()

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("server_alpn", "trusted", "expected"),
    [
        pytest.param(["h2"], True, "200", id="h2-over-tls"),
        pytest.param(["http/1.1"], True, "ConnectError", id="no-h2-offered"),
        pytest.param(["h2"], False, "ConnectError", id="untrusted-certificate"),
    ],
)
def test_over_tls_only_a_trusted_server_that_chooses_h2_is_spoken_to(
    tmp_path, server_alpn, trusted, expected
):
    pem = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(pem)
    server_tls.set_alpn_protocols(server_alpn)
    taken: list[str] = []
    server = H2Server(_recorder(taken), tls=server_tls).start()
    client_tls = ssl.create_default_context(cafile=str(pem) if trusted else None)
    try:
        assert server.url.startswith("https://")
        fate = _post_once(server.url, client_tls)
    finally:
        server.stop()

    assert fate == expected
    assert taken == (["/push/1"] if expected == "200" else [])


def test_a_body_larger_than_the_flow_control_window_waits_for_it_and_arrives_whole():
    received: list[bytes] = []

    def handle(request: Request) -> Response:
        received.append(request.body)
        return Response.json(200, {"path": request.path})

    body = bytes(range(256)) * 1200  # 300 KB: more than the 64 KB a window starts with
    server = H2Server(handle).start()

    async def run() -> int:
        transport = Http2Transport(timeout=10.0)
        try:
            sent = [transport.post(server.url + "/push/big", headers={}, content=body)]
            return (await asyncio.gather(*sent))[0].status_code
        finally:
            transport.close()

    try:
        status = asyncio.run(run())
    finally:
        server.stop()

    assert status == 200
    assert received == [body]


def test_a_server_that_accepts_but_never_speaks_times_out_and_each_push_asks_again():
    with socket.create_server(("127.0.0.1", 0)) as silent:  # takes connections, says nothing
        port = silent.getsockname()[1]

        async def run() -> list[tuple[str, float]]:
            transport = Http2Transport(timeout=0.3)
            fates = []
            for _ in range(3):
                started = time.monotonic()
                try:
                    await transport.post(f"http://127.0.0.1:{port}/push", headers={}, content=b"")
                    fates.append(("200", time.monotonic() - started))
                except (httpcore.TimeoutException, httpcore.NetworkError) as error:
                    fates.append((type(error).__name__, time.monotonic() - started))
                await asyncio.sleep(0.05)
            transport.close()
            return fates

        fates = asyncio.run(run())

    assert {fate for fate, _ in fates} <= {"ReadTimeout", "ConnectTimeout"}
    # Each push waits its own timeout, not the remains of a connection attempt before it.
    assert all(0.25 <= waited < 0.6 for _, waited in fates), fates
