"""Driving revops as a customer's systems would: only public API calls with an API key, on a test clock.

Each scenario builds its own catalog and contract, sends events, advances its clock through several
periods and reads the invoices back. `Api` checks every status code, so a refused call fails loudly.
"""

from __future__ import annotations

from typing import Any

API = "/api/v1"


class Api:
    def __init__(self, client, capture_on_commit, approver=None) -> None:
        self.client = client
        self.approver = approver  # a second person's client: activations wait for their approval
        self.capture = capture_on_commit  # pytest-django's: runs on_commit work (rollup builds) in the test

    def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = getattr(self.client, method)(f"{API}{path}", body, format="json")
        assert response.status_code == status, (method, path, response.status_code, response.content[:2000])
        return response.json() if response.content else None

    def get(self, path: str, status: int = 200) -> Any:
        return self.call("get", path, status=status)

    def post(self, path: str, body: Any = None, status: int = 200) -> Any:
        return self.call("post", path, body or {}, status=status)

    # --- catalog ---

    def catalog(self, *, metrics: list, products: list, card: str, currency: str, prices: list, effective_from: str):
        """Metrics, products and a rate card with one version holding `prices`, activated."""
        for metric in metrics:
            self.post("/metrics", metric, 201)
        for product in products:
            self.post("/products", product, 201)
        self.post("/rate-cards", {"code": card, "name": card.title(), "currency": currency}, 201)
        version = self.post(f"/rate-cards/{card}/versions", {"effective_from": effective_from}, 201)
        path = f"/rate-cards/{card}/versions/{version['number']}"
        for price in prices:
            self.post(f"{path}/prices", price, 201)
        request = self.post(f"{path}/activate", {"reason": "scenario"}, 202)  # maker-checker: a request waits
        response = self.approver.post(f"{API}/approvals/{request['id']}/approve", {"reason": "checked"}, format="json")
        assert response.status_code == 200, response.content[:2000]
        assert response.json()["status"] == "applied"
        assert self.get(path)["status"] == "active"

    # --- clock, customer, contract ---

    def clock(self, name: str, at: str) -> int:
        made = self.post("/test-clocks", {"name": name, "frozen_time": at}, 201)
        assert made["status"] == "ready"
        return made["id"]

    def customer(self, external_id: str, *, clock: int, currency: str = "USD", **fields) -> dict:
        body = {"external_id": external_id, "name": external_id.title(), "currency": currency, "test_clock": clock}
        return self.post("/customers", {**body, **fields}, 201)

    def contract(self, **body) -> int:
        made = self.post("/contracts", body, 201)
        assert self.post(f"/contracts/{made['id']}/activate")["status"] == "active"
        return made["id"]

    def advance(self, clock: int, to: str) -> dict:
        moved = self.post(f"/test-clocks/{clock}/advance", {"frozen_time": to})
        assert (moved["status"], moved["error"]) == ("ready", ""), moved
        return moved

    # --- usage ---

    def send(self, *events: dict) -> dict:
        with self.capture(execute=True):
            result = self.post("/events", {"events": list(events)})
        assert result["rejected"] == 0, result
        return result

    # --- invoices ---

    def invoices(self, customer: str) -> list[dict]:
        """Every invoice of the customer with its lines, oldest period first."""
        listed = self.get(f"/invoices?customer={customer}&page_size=100")
        found = [self.get(f"/invoices/{item['id']}") for item in listed["results"]]
        return sorted(found, key=lambda i: (i["period_start"], i["id"]))


def lines(invoice: dict) -> list[tuple[str, str | None, str]]:
    """An invoice's lines as (kind, product, amount), in printed order."""
    return [(line["kind"], line["product"], line["amount"]) for line in invoice["lines"]]


def summary(invoice: dict) -> tuple:
    return (invoice["period_start"], invoice["period_end"], invoice["status"], invoice["total"])


def event(txn: str, customer: str, event_type: str, timestamp: str | None = None, **properties) -> dict:
    sent = {"transaction_id": txn, "customer": customer, "event_type": event_type, "properties": properties}
    if timestamp is not None:
        sent["timestamp"] = timestamp
    return sent
