"""The FCM fake (Google's token endpoint and the HTTP v1 send endpoint, over HTTP/2) in a
process of its own, for the push benchmark.

    python -m tests.bench.fake_fcm --public-key FILE --project ID --client-email ADDRESS

It prints its URL on the first line of its output and serves until killed. Besides FCM's
paths it answers the benchmark on two of its own: `POST /bench/latency` with
`{"seconds": S}` sets how long every answer waits, and `POST /bench/count` answers
`{"delivered": N}` (pushes answered 200 since the last count) and starts counting afresh.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import httpx

from tests.integration.fakes.fcm import FakeFcm
from tests.integration.fakes.h2server import Faults, H2Server
from tests.integration.fakes.server import Request, Response


def control(url: str, path: str, payload: dict[str, object]) -> dict[str, object]:
    """Call one of the benchmark's own paths (HTTP/2, as the fake speaks only that)."""
    with httpx.Client(http1=False, http2=True) as client:
        response = client.post(url + path, content=json.dumps(payload).encode())
    answer: dict[str, object] = response.json()
    return answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--public-key", type=Path, required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--client-email", required=True)
    args = parser.parse_args(argv)

    fake = FakeFcm(
        base_url="",
        project_id=args.project,
        client_email=args.client_email,
        public_pem=args.public_key.read_text(),
    )
    faults = Faults()

    def handle(request: Request) -> Response:
        if request.path == "/bench/latency":
            faults.latency = float(request.json()["seconds"])
            return Response.json(200, {"latency": faults.latency})
        if request.path == "/bench/count":
            delivered = len(fake.delivered)
            fake.delivered.clear()
            fake.sends.clear()
            return Response.json(200, {"delivered": delivered})
        return fake.handle(request)

    # 100 streams a connection: the least a server should allow (RFC 9113 section 5.1.2),
    # so that the figures do not count on a provider that takes more.
    server = H2Server(handle, faults=faults, max_streams=100)
    fake.base_url = server.url
    print(server.url, flush=True)
    asyncio.run(server.serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
