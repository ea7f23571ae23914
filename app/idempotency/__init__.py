"""``Idempotency-Key`` on the POSTs that create things (review L17).

A client that did not get an answer retries with the same header; the request is done once.
Keys are scoped to the API key and the route (method and path); the first request's status and
body are written in the *same transaction* as what it created, so a crash or a failed commit
either leaves both or neither. See docs/security/api.md.
"""
