"""Work put off until the reactor's turn is done."""

from __future__ import annotations

from twisted.internet.task import Clock

from tests.support.async_tests import captured_logs
from zulipd.timing import AfterTurn


def test_work_runs_after_the_turn_in_order_from_one_timer() -> None:
    clock = Clock()
    after_turn = AfterTurn(clock)
    ran: list[str] = []
    after_turn.call(lambda: ran.append("first"))
    waited = after_turn.wait()
    after_turn.call(lambda: ran.append("second"))
    assert ran == []
    assert not waited.called
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(0)
    assert ran == ["first", "second"]
    assert waited.called
    # Work asked for while a batch runs gets a timer of its own.
    after_turn.call(lambda: after_turn.call(lambda: ran.append("later")))
    clock.advance(0)
    assert ran[-1] == "later"
    assert clock.getDelayedCalls() == []


def test_one_failing_piece_of_work_is_logged_and_the_rest_still_run() -> None:
    clock = Clock()
    after_turn = AfterTurn(clock)
    ran: list[int] = []

    def fail() -> None:
        raise RuntimeError("boom")

    after_turn.call(fail)
    after_turn.call(lambda: ran.append(1))
    with captured_logs() as logs:
        clock.advance(0)
    assert ran == [1]
    assert any("failed" in text for text in logs.formats())
