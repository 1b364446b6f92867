"""Alert delivery to on-call: routing tree, grouping, silences, receivers, retries, history.

Everything here is plain Python (HTTP by its own client, `pipeline.delivery.http`; no Faust):
`pipeline/agents/deliver.py` is the thin Faust adapter around `pipeline.delivery.outbox` (group
entries, group store) and `pipeline.delivery.service` (the send loop).
"""
