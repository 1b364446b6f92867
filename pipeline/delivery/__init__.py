"""Alert delivery to on-call: routing tree, grouping, silences, receivers, retries, history.

Everything here is plain Python (aiohttp for HTTP, no Faust): `pipeline/agents/deliver.py` is the
thin Faust adapter around `pipeline.delivery.outbox` (group entries, group store) and
`pipeline.delivery.service` (the send loop).
"""
