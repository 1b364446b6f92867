"""Receivers: one module per kind (webhook, slack, pagerduty) over the shared shapes in `base`."""
