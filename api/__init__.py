"""The HTTP face of the product (FastAPI) and the `hibachi` command line.

Webhooks, web chat, the admin and console APIs, health and metrics. Routes stay thin: they
validate, call a service or flow, and commit the request's one transaction.
"""
