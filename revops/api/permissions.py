"""Scopes: an API key may do only what its scopes allow; staff sessions act with their Django permissions.

Staff sessions get the admin's checks: the model permissions revops/api/rules.py lists for the view
and method, and the object permissions of revops/access.py for the object the URL names. Audited
writes need a reason from every caller (`reason` field or `X-Change-Reason` header).

A view names the scope it needs with `required_scope`; by default reads need
`read` and writes need `write` (`write` also allows reading). Ingestion views
ask for `ingest`, which `write` keys have too. `ANY_SCOPE` admits every active key.
"""

from __future__ import annotations

from django.http import Http404
from rest_framework import permissions

from revops import access
from revops.api import rules
from revops.errors import PermissionDenied, ValidationError
from revops.history import REASON_MAX_LENGTH
from revops.models import ApiKey, ApiScope

REASON_HEADER = "HTTP_X_CHANGE_REASON"

ANY_SCOPE = "any"

# What each scope grants, beyond itself.
_IMPLIES = {
    ApiScope.WRITE: {ApiScope.WRITE, ApiScope.READ, ApiScope.INGEST},
    ApiScope.READ: {ApiScope.READ},
    ApiScope.INGEST: {ApiScope.INGEST},
}


def key_allows(api_key: ApiKey, scope: str) -> bool:
    if scope == ANY_SCOPE:
        return True
    return any(scope in _IMPLIES.get(ApiScope(s), set()) for s in api_key.scopes)


def required_scope(request, view) -> str:
    explicit = getattr(view, "required_scope", None)
    if explicit:
        return explicit
    return ApiScope.READ if request.method in permissions.SAFE_METHODS else ApiScope.WRITE


class HasScope(permissions.BasePermission):
    message = "this API key's scopes do not allow this request"

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        method = "GET" if request.method == "HEAD" else request.method
        rule = rules.rule_for(view, method)
        if isinstance(request.auth, ApiKey):
            allowed = key_allows(request.auth, required_scope(request, view))
        else:
            # Session logins are staff using the API from the browser or docs page: the admin's rules.
            allowed = bool(request.user.is_staff) and session_allows(request, view, rule)
            if not allowed:
                needs = ", ".join(rule.perms) if rule and rule.perms else "staff access"
                self.message = f"your roles do not allow this request (it needs {needs})"
        if allowed and rule is not None and rule.reason:
            require_reason(request)
        return allowed


def session_allows(request, view, rule: rules.Rule | None) -> bool:
    if request.method == "OPTIONS":
        return True
    if rule is None:
        return bool(request.user.is_superuser)  # an operation nobody mapped is for superusers only
    if not all(request.user.has_perm(p) for p in rule.perms):
        return False
    scope = rules.SCOPES.get(type(view).__name__)
    if scope is None:
        return True
    return object_allows(request.user, *scope, view.kwargs, write=request.method not in permissions.SAFE_METHODS)


def object_allows(user, kind: str, keyword: str, kwargs: dict, *, write: bool) -> bool:
    """Objects out of the user's reach are not found (404); rate cards they may read but not edit are 403."""
    from catalog.models import RateCard
    from contracts.models import Customer

    value = kwargs.get(keyword)
    if kind == "rate_card":
        card = RateCard.objects.select_related("product_line").filter(code=value).first()
        if card is not None and write and not access.may_edit_rate_card(user, card):
            raise PermissionDenied(
                f"you may not edit rate card {card.code!r}: it is not of a product line you manage",
                code="not_your_rate_card",
            )
        return True
    if access.sees_all_customers(user):
        return True
    customer = None
    if kind == "customer":
        customer = Customer.objects.filter(external_id=value).first()
    elif kind == "contract":
        customer = Customer.objects.filter(contracts__pk=value).first()
    elif kind == "invoice":
        customer = Customer.objects.filter(invoices__pk=value).first()
    if customer is not None and not access.may_see_customer(user, customer):
        raise Http404
    return True


def own_reason(request) -> str:
    """The reason the operation takes in its own `reason` field (query or body), if it takes one."""
    data = request.data
    own = request.query_params.get("reason") or (data.get("reason") if hasattr(data, "get") else None)
    return own.strip() if isinstance(own, str) else ""


def request_reason(request) -> str:
    return request.META.get(REASON_HEADER, "").strip() or own_reason(request)


def require_reason(request) -> None:
    reason = request_reason(request)
    if not reason:
        raise ValidationError(
            "say why: this change is audited; send an X-Change-Reason header (or a reason field where the"
            " operation takes one)",
            code="reason_required",
            field="reason",
        )
    if len(request.META.get(REASON_HEADER, "").strip()) > REASON_MAX_LENGTH:
        raise ValidationError(
            f"X-Change-Reason is at most {REASON_MAX_LENGTH} characters", code="reason_too_long", field="reason"
        )
