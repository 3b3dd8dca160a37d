"""The harness: what moves users from the original path to the refactored one safely.

    names.py           the words its parts share (route -> flag, client/server errors, actors)
    router.py          which path serves a routed upload, per user, from the flags
    shadowing.py       the other path on the same upload, off the request thread, diffed
    metrics.py         Prometheus metrics per route and path, flag gauges
    rollback_guard.py  the kill-only guard over the portals' own /metrics

No Flask here: the web layer (`app.web`) and the commands (`app.cli`) call into it, and
`app.compose` builds its parts.
"""
