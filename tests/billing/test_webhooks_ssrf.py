"""Webhooks never reach this network's own addresses (billing/webhooks/addresses.py): a URL whose host is or
resolves to a private, loopback, link-local, multicast or unspecified address is refused when registered (API
and admin) and again at every attempt (DNS rebinding), unless REVOPS_WEBHOOK_ALLOW_PRIVATE allows it.

The DNS answers are the test's own (socket.getaddrinfo, outside the project, is replaced); every connection
that could be made goes to the local receiver on 127.0.0.1, never anywhere else."""

import ipaddress
import socket

import pytest
from django.urls import reverse

from billing.webhooks.addresses import refusal
from billing.webhooks.delivery import webhook_delivery_attempt
from billing.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookEndpoint
from billing.webhooks.services import webhook_emit, webhook_endpoint_create
from tests.billing.webhook_receiver import now

pytestmark = pytest.mark.django_db

BASE = "/api/v1/webhook-endpoints"
HOST = "hooks.partner.test"  # a name only the test's DNS answers
PUBLIC = "93.184.216.34"  # only ever looked up, never connected to


@pytest.fixture
def guard_on(settings):
    settings.REVOPS_WEBHOOK_ALLOW_PRIVATE = False
    return settings


class FakeDns:
    """Answers for HOST, in turn (the last one repeats); every other name goes to the real resolver."""

    def __init__(self, monkeypatch):
        self.answers: list[str] = [PUBLIC]
        self.asked = 0
        real = socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            if host != HOST:
                return real(host, port, *args, **kwargs)
            address = self.answers[min(self.asked, len(self.answers) - 1)]
            self.asked += 1
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port or 0))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def dns(monkeypatch):
    return FakeDns(monkeypatch)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.20", "private"),
        ("fd00::7", "private"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "non-public"),
        ("240.0.0.1", "private"),
        (PUBLIC, ""),
        ("2606:4700:4700::1111", ""),
    ],
)
def test_which_addresses_are_refused_and_why(address, reason):
    assert refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("https://10.1.2.3/hooks", "10.1.2.3 is a private address"),
        ("https://127.0.0.1:8443/hooks", "127.0.0.1 is a loopback address"),
        ("https://[::1]/hooks", "::1 is a loopback address"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
        ("https://224.0.0.1/hooks", "224.0.0.1 is a multicast address"),
        ("https://0.0.0.0/hooks", "0.0.0.0 is an unspecified address"),
        ("https://localhost/hooks", "localhost resolves to"),
        (f"https://{HOST}/hooks", f"{HOST} resolves to 192.168.7.7, a private address"),
    ],
)
def test_the_api_refuses_a_private_address_and_registers_nothing(guard_on, dns, write_client, url, said):
    dns.answers = ["192.168.7.7"]
    response = write_client.post(BASE, {"url": url, "event_types": ["*"]}, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert (error["code"], list(error["fields"])) == ("private_address", ["url"])
    assert said in error["message"] and "REVOPS_WEBHOOK_ALLOW_PRIVATE" in error["message"]
    assert not WebhookEndpoint.objects.exists()


def test_a_change_of_url_to_a_private_address_is_refused_and_changes_nothing(guard_on, dns, write_client):
    made = write_client.post(BASE, {"url": f"https://{HOST}/hooks"}, format="json")  # resolves to PUBLIC
    assert made.status_code == 201, made.json()
    response = write_client.patch(f"{BASE}/{made.json()['id']}", {"url": "https://10.0.0.8/hooks"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "private_address"
    assert WebhookEndpoint.objects.get().url == f"https://{HOST}/hooks"


def test_a_public_address_is_registered(guard_on, write_client):
    response = write_client.post(BASE, {"url": f"https://{PUBLIC}/hooks"}, format="json")
    assert response.status_code == 201, response.json()


def test_the_setting_allows_private_addresses(guard_on, write_client):
    assert write_client.post(BASE, {"url": "https://10.1.2.3/hooks"}, format="json").status_code == 400
    guard_on.REVOPS_WEBHOOK_ALLOW_PRIVATE = True
    assert write_client.post(BASE, {"url": "https://10.1.2.3/hooks"}, format="json").status_code == 201


def test_the_admin_refuses_a_private_address_and_saves_nothing(guard_on, admin_client):
    response = admin_client.post(
        reverse("admin:billing_webhookendpoint_add"),
        {"url": "https://169.254.169.254/latest", "description": "metadata", "enabled": "on"},
    )
    assert response.status_code == 200
    assert "169.254.169.254 is a link-local address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def _endpoint_at(receiver, guard_on, scheme: str = "http") -> WebhookEndpoint:
    guard_on.REVOPS_WEBHOOK_ALLOW_HTTP = True  # the receiver is plain http
    made = webhook_endpoint_create(url=f"{scheme}://{HOST}:{receiver.port}/hooks/revops", as_of=now(), actor=None)
    receiver.secret = made.secret
    return made.endpoint


def _attempt() -> tuple[WebhookAttempt, object]:
    at = now()
    event = webhook_emit(event_type="invoice.finalized", data={"invoice": 7}, as_of=at)
    delivery = event.deliveries.get()
    attempt = webhook_delivery_attempt(delivery_id=delivery.pk, as_of=at)
    delivery.refresh_from_db()
    return attempt, delivery


def test_a_name_rebound_to_a_private_address_after_registration_is_refused_at_delivery(guard_on, dns, webhook_receiver):
    _endpoint_at(webhook_receiver, guard_on)  # registered while the name pointed at a public address
    dns.answers = ["127.0.0.1"]  # then it is pointed at this machine
    attempt, delivery = _attempt()
    assert webhook_receiver.received == []
    assert (attempt.succeeded, attempt.status_code) == (False, None)
    assert attempt.error == (
        f"refused: {HOST} resolves to 127.0.0.1, a loopback address; webhooks are only sent to public addresses"
    )
    # a failed attempt like any other: retried later (the name may be pointed back), and recorded why
    assert (delivery.status, delivery.attempts_made) == (DeliveryStatus.PENDING, 1)
    assert delivery.last_error == attempt.error


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_rebinding_between_the_check_and_the_connection_is_refused_too(guard_on, dns, webhook_receiver, scheme):
    _endpoint_at(webhook_receiver, guard_on, scheme)
    dns.asked = 0
    dns.answers = [PUBLIC, "127.0.0.1"]  # public when checked before sending, this machine when connecting
    attempt, _ = _attempt()
    assert webhook_receiver.received == []
    assert attempt.error.startswith(f"refused: {HOST} resolves to 127.0.0.1, a loopback address")
    assert dns.asked == 2


def test_with_the_setting_the_same_rebound_name_is_delivered(guard_on, dns, webhook_receiver):
    """The two tests above would pass for the wrong reason if this name could not reach the receiver."""
    _endpoint_at(webhook_receiver, guard_on)
    dns.answers = ["127.0.0.1"]
    guard_on.REVOPS_WEBHOOK_ALLOW_PRIVATE = True
    attempt, delivery = _attempt()
    assert attempt.succeeded and delivery.status == DeliveryStatus.SUCCEEDED
    [got] = webhook_receiver.received
    assert got.verified, got.error
