"""Maker-checker approvals: the shared primitive every app's sensitive changes go through.

An app asks `services.request_submit` for a change it may not make at once; the change is carried
out by the kind's registered `apply` when enough people other than its author approve it, on its
effective date. See `registry` for how an app plugs a kind in.
"""
