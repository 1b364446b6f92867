"""Behaviour anomaly detection: per-entity profiles, deviation features and PyOD models.

Each behaviour (app sign-ins, staff access to customer data, server access) has an observer
that turns the entity's profile and one event into a feature vector (how unusual the event is
for *this* entity) and the facts that explain it, then updates the profile. A global PyOD
ensemble (IForest + HBOS) trained on such vectors scores each event; thresholds are calibrated
on the training scores to an alert budget. Everything here is plain Python over JSON state, so
the Faust worker and the embedded runner score identically.
"""
