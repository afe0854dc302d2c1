"""The simulator over real HTTP (pytest-django's live_server): concurrency, timeouts, load."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from providers.sandbox.models import MtnTransaction
from tests.providers.sandbox.conftest import MtnApi, requests_send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_stale_jobs")]

# Each request of the live server is a thread with its own database connection, so the
# clients are capped well below PostgreSQL's max_connections (100 by default), which the
# other tests and processes on the same server share.
CLIENT_THREADS = 20


@pytest.fixture
def live_mtn(live_server) -> MtnApi:
    return MtnApi(requests_send(live_server.url))


def test_concurrent_posts_with_one_reference_yield_one_request(live_mtn) -> None:
    token = live_mtn.token()
    reference = str(uuid.uuid4())
    racers = 10
    barrier = threading.Barrier(racers)

    def post(_: int) -> int:
        api = MtnApi(live_mtn.send)
        barrier.wait()
        _, response = api.request_to_pay(token, reference=reference)
        return response.status_code

    with ThreadPoolExecutor(racers) as pool:
        statuses = sorted(pool.map(post, range(racers)))

    assert statuses == [202] + [409] * (racers - 1)
    assert MtnTransaction.objects.filter(reference_id=reference).count() == 1


def test_slow_number_times_the_caller_out_but_keeps_the_request(
    live_server, simulator_settings
) -> None:
    simulator_settings.MTN_SIMULATOR_SLOW_SECONDS = 1.0
    api = MtnApi(requests_send(live_server.url, timeout=0.3))
    token = api.token()
    reference = str(uuid.uuid4())

    with pytest.raises(requests.ReadTimeout):
        api.request_to_pay(token, "260960000007", reference=reference)

    status = api.rtp_status(token, reference)
    assert status.status_code == 200  # accepted although the caller never saw the 202
    assert status.json()["status"] == "SUCCESSFUL"
    time.sleep(1.0)  # let the held answer finish before the test database is flushed
