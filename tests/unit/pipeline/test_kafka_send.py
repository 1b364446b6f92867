"""Which failed Kafka sends an agent retries (the broker away) and which it dead-letters."""

from __future__ import annotations

import pytest
from aiokafka import errors
from faust.exceptions import ProducerSendError

from pipeline.kafka.send import BACKOFF_SECONDS, backoff, retriable


def _wrapped(cause: BaseException) -> ProducerSendError:
    """As Faust raises it: ProducerSendError from the client's error."""
    try:
        raise ProducerSendError(f"Error while sending: {cause!r}") from cause
    except ProducerSendError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (errors.KafkaConnectionError("connection lost"), True),
        (errors.NodeNotReadyError("node 1"), True),
        (errors.NotLeaderForPartitionError(), True),
        (errors.RequestTimedOutError(), True),
        (errors.KafkaTimeoutError(), True),  # a batch expired while the broker was away
        (TimeoutError(), True),
        (errors.MessageSizeTooLargeError(), False),
        (errors.TopicAuthorizationFailedError(), False),
        (ValueError("a bug"), False),
    ],
)
def test_retriable_as_raised_and_as_faust_wraps_it(exc: BaseException, expected: bool) -> None:
    assert retriable(exc) is expected
    assert retriable(_wrapped(exc)) is expected


def test_backoff_grows_then_stays_capped() -> None:
    waits = [backoff(n) for n in range(1, 10)]
    assert waits == sorted(waits)
    assert waits[0] == BACKOFF_SECONDS[0]
    assert waits[-1] == waits[len(BACKOFF_SECONDS) - 1] == max(BACKOFF_SECONDS)
