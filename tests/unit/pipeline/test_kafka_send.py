"""Which failed Kafka sends an agent retries (the broker away) and which it dead-letters; a batch's
failed sends sent again, in order, until the broker has them."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import errors
from faust.exceptions import ProducerSendError

from pipeline import metrics
from pipeline.kafka.send import BACKOFF_SECONDS, Out, SendFailed, backoff, deliver, deliver_many, retriable


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


class ScriptedTopic:
    """The part of a Faust topic `deliver_many` uses (`send` queues a record and returns the
    future of its acknowledgement), answering each send in turn from a script: None acknowledges,
    an exception fails the acknowledgement, ("queue", exc) fails the queuing itself."""

    def __init__(self, *answers: object) -> None:
        self.answers: list[object] = list(answers)
        self.sent: list[bytes] = []

    async def send(self, key: bytes | None, value: bytes, partition: int | None = None) -> asyncio.Future:
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, tuple):
            raise answer[1]
        self.sent.append(value)
        future = asyncio.get_running_loop().create_future()
        future.set_exception(answer) if isinstance(answer, BaseException) else future.set_result(value)
        return future


def _outs(topic: ScriptedTopic, *values: bytes) -> list[Out]:
    return [Out(topic, "events", None, v) for v in values]


def _retries() -> float:
    return metrics.KAFKA_SEND_RETRIES.labels(output="events")._value.get()


def test_the_failed_sends_of_a_batch_are_sent_again_in_order_until_acknowledged() -> None:
    away = errors.KafkaConnectionError("connection lost")
    topic, before = ScriptedTopic(away, None, away, away), _retries()
    refused = asyncio.run(deliver_many(_outs(topic, b"a", b"b", b"c")))
    assert refused == []
    assert topic.sent == [b"a", b"b", b"c", b"a", b"c", b"a"]  # c acknowledged on the second round
    assert _retries() == before + 3


def test_a_refused_record_is_returned_with_its_reason_and_the_others_still_sent() -> None:
    topic = ScriptedTopic(None, errors.MessageSizeTooLargeError(), None)
    outs = _outs(topic, b"a", b"big", b"c")
    refused = asyncio.run(deliver_many(outs))
    assert [(out.value, type(exc)) for out, exc in refused] == [(b"big", SendFailed)]
    assert "MessageSizeTooLargeError" in str(refused[0][1]) and "events topic" in str(refused[0][1])
    assert topic.sent == [b"a", b"big", b"c"]


def test_once_queuing_times_out_the_rest_of_the_batch_waits_for_the_next_round() -> None:
    topic = ScriptedTopic(None, ("queue", errors.KafkaTimeoutError()))
    assert asyncio.run(deliver_many(_outs(topic, b"a", b"b", b"c", b"d"))) == []
    assert topic.sent == [b"a", b"b", b"c", b"d"]  # b was not queued in round 1, nor c and d after it


def test_deliver_raises_what_the_broker_refused() -> None:
    with pytest.raises(SendFailed, match="alerts topic"):
        asyncio.run(deliver(ScriptedTopic(errors.TopicAuthorizationFailedError()), "alerts", key=None, value=b"x"))
