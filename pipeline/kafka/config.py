"""Kafka client options (TLS, SASL) from settings, for kafka-python and for Faust."""

from __future__ import annotations

import ssl
from typing import Any

from pipeline.settings import KafkaSettings


def kafka_python_kwargs(cfg: KafkaSettings) -> dict[str, Any]:
    """Connection options for kafka-python clients (shipper, admin)."""
    kwargs: dict[str, Any] = {"bootstrap_servers": cfg.bootstrap.split(","), "security_protocol": cfg.security_protocol}
    if cfg.security_protocol in ("SSL", "SASL_SSL"):
        kwargs.update(
            ssl_cafile=_str(cfg.ssl_cafile),
            ssl_certfile=_str(cfg.ssl_certfile),
            ssl_keyfile=_str(cfg.ssl_keyfile),
            ssl_check_hostname=True,
        )
    if cfg.security_protocol.startswith("SASL"):
        kwargs.update(
            sasl_mechanism=cfg.sasl_mechanism or "SCRAM-SHA-512",
            sasl_plain_username=cfg.sasl_username,
            sasl_plain_password=cfg.sasl_password.get_secret_value() if cfg.sasl_password else None,
        )
    return kwargs


def aiokafka_kwargs(cfg: KafkaSettings) -> dict[str, Any]:
    """Connection options for an aiokafka client (TLS, SASL) from the Kafka settings."""
    kwargs: dict[str, Any] = {"bootstrap_servers": cfg.bootstrap, "security_protocol": cfg.security_protocol}
    if cfg.security_protocol in ("SSL", "SASL_SSL"):
        from aiokafka.helpers import create_ssl_context

        kwargs["ssl_context"] = create_ssl_context(
            cafile=str(cfg.ssl_cafile) if cfg.ssl_cafile else None,
            certfile=str(cfg.ssl_certfile) if cfg.ssl_certfile else None,
            keyfile=str(cfg.ssl_keyfile) if cfg.ssl_keyfile else None,
        )
    if cfg.security_protocol.startswith("SASL"):
        kwargs.update(
            sasl_mechanism=cfg.sasl_mechanism or "SCRAM-SHA-512",
            sasl_plain_username=cfg.sasl_username,
            sasl_plain_password=cfg.sasl_password.get_secret_value() if cfg.sasl_password else None,
        )
    return kwargs


def faust_broker_kwargs(cfg: KafkaSettings) -> dict[str, Any]:
    """`broker` and `broker_credentials` for faust.App."""
    import faust

    kwargs: dict[str, Any] = {"broker": ";".join(f"kafka://{b.strip()}" for b in cfg.bootstrap.split(","))}
    ssl_context = None
    if cfg.security_protocol in ("SSL", "SASL_SSL"):
        ssl_context = ssl.create_default_context(cafile=_str(cfg.ssl_cafile))
        if cfg.ssl_certfile:
            ssl_context.load_cert_chain(str(cfg.ssl_certfile), _str(cfg.ssl_keyfile))
    if cfg.security_protocol.startswith("SASL"):
        kwargs["broker_credentials"] = faust.SASLCredentials(
            username=cfg.sasl_username,
            password=cfg.sasl_password.get_secret_value() if cfg.sasl_password else None,
            mechanism=cfg.sasl_mechanism or "SCRAM-SHA-512",
            ssl_context=ssl_context,
        )
    elif ssl_context is not None:
        kwargs["broker_credentials"] = faust.SSLCredentials(ssl_context)
    return kwargs


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
