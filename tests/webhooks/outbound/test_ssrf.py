"""Webhooks go to public addresses only: every forbidden form is refused when the endpoint is
registered and again at every delivery (DNS may change in between), without connecting.

Names resolve through the `dns` fixture (never real DNS); nothing here may connect anywhere
but loopback, and the loopback listener must see no connection at all."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.problem import assert_problem
from tests.webhooks.outbound.factories import attempt, fanned_out, final_payment_event
from webhooks.outbound import ssrf
from webhooks.outbound.models import DeliveryState, WebhookEndpoint
from webhooks.outbound.signing import new_secret

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"  # a public address: resolved to, never connected to

# Every form of a forbidden destination, as a URL (port 443 unless the test sets its own).
FORBIDDEN_URLS = [
    "http://hooks.example.com/",  # not https
    "ftp://hooks.example.com/",
    "https://user:password@hooks.example.com/",  # credentials
    "https://hooks.example.com@127.0.0.1/",
    "https://hooks.example.com:22/",  # a port outside WEBHOOK_ALLOWED_PORTS
    "https://hooks.example.com/#fragment",
    "https://127.0.0.1/",  # loopback
    "https://127.8.9.10/",
    "https://[::1]/",
    "https://localhost/",
    "https://api.localhost/",
    "https://10.0.0.1/",  # private
    "https://172.16.5.4/",
    "https://192.168.1.1/",
    "https://[fd12:3456::1]/",
    "https://169.254.10.20/",  # link-local
    "https://[fe80::1]/",
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://[fd00:ec2::254]/",
    "https://100.100.100.200/",
    "https://100.64.0.1/",  # CGNAT
    "https://100.127.255.254/",
    "https://224.0.0.1/",  # multicast
    "https://[ff02::1]/",
    "https://240.0.0.1/",  # reserved
    "https://255.255.255.255/",
    "https://0.0.0.0/",  # unspecified
    "https://[::]/",
    "https://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "https://[::ffff:7f00:1]/",
    "https://[::ffff:10.0.0.1]/",
    "https://[::127.0.0.1]/",  # IPv4-compatible IPv6
    "https://[::a00:1]/",
    "https://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "https://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "https://2130706433/",  # 127.0.0.1 in decimal
    "https://0x7f000001/",  # in hex
    "https://0x7f.0x0.0x0.0x1/",
    "https://0177.0.0.1/",  # in octal
    "https://017700000001/",
    "https://127.1/",  # short forms
    "https://127.0.1/",
    "https://10.1/",
    "https://127.0.0.1./",
    "https://①②⑦.0.0.1/",  # IDNA turns these digits into 127.0.0.1
    "https://[fe80::1%25eth0]/",  # scoped
    "https://metadata.google.internal/",  # names for local networks
    "https://printer.local/",
    "https://private.example.com/",  # resolves to a private address (dns fixture)
    "https://mixed.example.com/",  # one public and one private address: every one counts
    "https://metadata.example.com/",
    "https://nowhere.example.com/",  # does not resolve
    "https://hooks.example.com/a b",  # whitespace
    "https://hooks.example.com\\@127.0.0.1/",
    "https://" + "a" * 2050 + ".example.com/",
]


@pytest.fixture(autouse=True)
def _secure(settings, dns):
    settings.WEBHOOK_ALLOW_INSECURE = False
    dns.names.update(
        {
            "hooks.example.com": [PUBLIC],
            "private.example.com": ["10.1.2.3"],
            "mixed.example.com": [PUBLIC, "192.168.0.10"],
            "metadata.example.com": ["169.254.169.254"],
        }
    )


@pytest.mark.parametrize("url", FORBIDDEN_URLS)
def test_forbidden_urls_are_refused_at_registration(api, url) -> None:
    response = api.post("/api/v1/webhook-endpoints", {"url": url}, format="json")

    body = assert_problem(response, 400, "invalid_webhook_url")
    assert body["errors"][0]["field"] == "url"
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/webhooks",
        "https://hooks.example.com:8443/webhooks?merchant=1",
        f"https://{PUBLIC}/hook",
        "https://[2606:2800:220:1:248:1893:25c8:1946]/hook",
        "https://HOOKS.example.com./x",
    ],
)
def test_public_https_urls_are_accepted(api, url) -> None:
    response = api.post("/api/v1/webhook-endpoints", {"url": url}, format="json")

    assert response.status_code == 201, response.content


def _endpoint_at(tenant, url: str) -> WebhookEndpoint:
    """An endpoint whose URL is forbidden now (as if allowed at registration: DNS changed)."""
    return WebhookEndpoint.objects.create(
        tenant=tenant, mode="test", url=url, enabled_events=["*"], secret=new_secret()
    )


@pytest.mark.parametrize("url", [url for url in FORBIDDEN_URLS if len(url) <= 2048])
def test_forbidden_urls_are_refused_at_delivery_without_connecting(
    merchant, receiver, settings, url
) -> None:
    listener = receiver()
    settings.WEBHOOK_ALLOWED_PORTS = [443, 8443, listener.port]
    url = url.replace("127.0.0.1/", f"127.0.0.1:{listener.port}/").replace(
        "[::ffff:127.0.0.1]/", f"[::ffff:127.0.0.1]:{listener.port}/"
    )
    _endpoint_at(merchant.api_key.tenant, url)
    (delivery,) = fanned_out(final_payment_event(merchant.api_key.tenant))

    delivery = attempt(delivery.pk)

    assert delivery.state == DeliveryState.FAILED
    assert delivery.last_status is None
    assert delivery.last_error.startswith("refused: "), delivery.last_error
    assert listener.connections == 0


def test_a_name_that_resolves_to_loopback_after_registration_is_refused(
    api, merchant, receiver, settings, dns
) -> None:
    listener = receiver()
    settings.WEBHOOK_ALLOWED_PORTS = [listener.port]
    dns.names["rebind.example.com"] = [PUBLIC]
    url = f"https://rebind.example.com:{listener.port}/hook"
    from tests.webhooks.outbound.factories import endpoint_for

    endpoint_for(merchant.api_key.tenant, url)  # accepted: public at registration
    dns.names["rebind.example.com"] = ["127.0.0.1"]  # the attacker's DNS changes its answer
    (delivery,) = fanned_out(final_payment_event(merchant.api_key.tenant))

    delivery = attempt(delivery.pk)

    assert delivery.last_error == (
        "refused: rebind.example.com resolves to 127.0.0.1, which is a loopback address; "
        "webhooks go to public addresses only."
    )
    assert listener.connections == 0


def test_the_connection_goes_to_the_address_that_was_checked(
    merchant, receiver, dns, monkeypatch
) -> None:
    """No second resolution between the check and the connection (DNS rebinding): the
    client connects to the checked IP and sends the name only as Host."""
    hook = receiver()
    # Loopback is allowed here (WEBHOOK_ALLOW_INSECURE in tests) to have a receiver at all.
    dns.names["merchant.example.com"] = ["127.0.0.1"]
    calls: list[str] = []
    real = ssrf.resolve

    def counting(host: str, port: int) -> list[str]:
        calls.append(host)
        return real(host, port)

    monkeypatch.setattr(ssrf, "resolve", counting)
    import ipaddress
    import socket

    real_getaddrinfo = socket.getaddrinfo

    def numeric_only(host, *args, **kwargs):
        ipaddress.ip_address(host)  # raises for a name: the client must not resolve one
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)
    from django.conf import settings as django_settings

    monkeypatch.setattr(django_settings, "WEBHOOK_ALLOW_INSECURE", True)
    _endpoint_at(merchant.api_key.tenant, f"http://merchant.example.com:{hook.port}/hook")
    (delivery,) = fanned_out(final_payment_event(merchant.api_key.tenant))

    delivery = attempt(delivery.pk)

    assert delivery.state == DeliveryState.SUCCEEDED, delivery.last_error
    assert calls == ["merchant.example.com"]  # resolved once, by the check
    assert hook.requests[0].headers["host"] == f"merchant.example.com:{hook.port}"


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("8.8.8.8", ""),
        ("2001:4860:4860::8888", ""),
        ("127.0.0.1", "a loopback address"),
        ("10.0.0.1", "a private address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("100.64.0.1", "a reserved or translated address"),
        ("224.0.0.251", "a multicast address"),
        ("::ffff:8.8.8.8", "an IPv4-mapped IPv6 address"),
        ("::8.8.8.8", "an IPv4-compatible IPv6 address"),
        ("192.0.2.1", "a private address"),  # documentation
        ("198.18.0.1", "a reserved or translated address"),  # benchmarking
    ],
)
def test_address_policy(address: str, problem: str) -> None:
    import ipaddress

    assert ssrf.address_problem(ipaddress.ip_address(address)) == problem


def test_loopback_over_http_needs_the_insecure_setting(settings) -> None:
    settings.WEBHOOK_ALLOW_INSECURE = True
    assert ssrf.check("http://127.0.0.1:9000/hook").addresses[0].is_loopback
    with pytest.raises(ssrf.UrlRefused, match="private"):
        ssrf.check("http://10.0.0.1/hook")  # insecure mode allows loopback, nothing else
    with pytest.raises(ssrf.UrlRefused, match="Use https"):
        ssrf.check("http://hooks.example.com/")

    settings.WEBHOOK_ALLOW_INSECURE = False
    with pytest.raises(ssrf.UrlRefused, match="https"):
        ssrf.check("http://127.0.0.1:9000/hook")
    assert timezone.now()  # (no clock games here)
