"""The daemon's routes, one module per concept; ``ROUTE_MODULES`` lists them in order.

Each module exposes ``routes``: a list of :func:`loopsy.daemon.endpoints.endpoint` routes
(paths relative to ``/api/v1``).
"""
