"""stylo.interrupt.StopFlag: a signal stops at once while no step is under way, after the step otherwise."""

from __future__ import annotations

import signal

import pytest

from stylo.interrupt import StopFlag


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_before_any_step_raises_at_once(sig: int) -> None:
    with StopFlag() as stop, pytest.raises(KeyboardInterrupt):
        signal.raise_signal(sig)  # loading, computing targets: nothing to save, stop now
    assert stop.requested


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_during_steps_the_first_signal_waits_for_the_step_and_a_second_raises(sig: int) -> None:
    with StopFlag() as stop:
        assert stop.should_stop() is False  # the engine's first poll: steps are under way
        signal.raise_signal(sig)  # no exception: the step in progress finishes
        assert stop.requested and stop.should_stop() is True
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(sig)


def test_immediate_blocks_raise_again_and_a_pending_stop_is_honoured() -> None:
    with StopFlag() as stop:
        stop.should_stop()
        with stop.immediate(), pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)  # e.g. encoding between frames
        assert stop.requested
        with pytest.raises(KeyboardInterrupt), stop.immediate():
            pass  # a stop already asked for ends the block before it starts
        assert stop.should_stop() is True


def test_the_previous_handlers_come_back() -> None:
    def mine(signum: int, frame: object) -> None:
        raise AssertionError("not called")

    before = signal.signal(signal.SIGTERM, mine)
    interrupt = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN in a background job
    try:
        with StopFlag():
            assert signal.getsignal(signal.SIGTERM) is not mine
            assert signal.getsignal(signal.SIGINT) is not interrupt
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGINT) is interrupt
    finally:
        signal.signal(signal.SIGTERM, before)
