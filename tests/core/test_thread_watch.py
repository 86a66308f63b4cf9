"""A long job's threads follow the machine's load (conversion/cpu_threads.ThreadWatch): the cores
the other programs keep busy, measured from the machine's and this process's CPU time, with a
fake clock and counters; then the real counters once."""

from __future__ import annotations

import threading
import time

from conversion.cpu_threads import ThreadWatch, _busy_and_own


class Machine:
    """A clock and CPU-time counters moved by hand: ``run(seconds, ours, others)``."""

    def __init__(self) -> None:
        self.now = 0.0
        self.busy = 0.0
        self.own = 0.0

    def clock(self) -> float:
        return self.now

    def sample(self) -> tuple[float, float]:
        return self.busy, self.own

    def run(self, seconds: float, ours: float, others: float) -> None:
        """``seconds`` pass with ``ours`` and ``others`` cores kept busy."""
        self.now += seconds
        self.own += ours * seconds
        self.busy += (ours + others) * seconds


def watch_on(machine: Machine, threads: int, cores: int = 2) -> ThreadWatch:
    return ThreadWatch(threads, every=5.0, cores=cores, clock=machine.clock, sample=machine.sample)


def test_an_idle_machine_keeps_the_choice() -> None:
    machine = Machine()
    watch = watch_on(machine, 2)
    for _ in range(4):
        machine.run(5.0, ours=2.0, others=0.0)
        assert watch.check() is None
    machine.run(1.0, ours=2.0, others=0.0)
    assert watch.check() is None  # not yet time to look


def test_another_program_busy_for_a_while_takes_a_thread_and_gives_it_back() -> None:
    machine = Machine()
    watch = watch_on(machine, 2)
    machine.run(5.0, ours=1.3, others=0.7)  # it shares a core with one of ours
    assert watch.check() is None  # seen once
    machine.run(5.0, ours=1.2, others=0.8)
    assert watch.check() == 1 and watch.threads == 1
    for _ in range(3):  # it is still busy: one thread stays right
        machine.run(5.0, ours=1.0, others=1.0)
        assert watch.check() is None
    machine.run(5.0, ours=1.0, others=0.0)  # it ended
    assert watch.check() is None
    machine.run(5.0, ours=1.0, others=0.05)
    assert watch.check() == 2 and watch.threads == 2


def test_a_moments_load_changes_nothing() -> None:
    machine = Machine()
    watch = watch_on(machine, 4, cores=4)
    machine.run(5.0, ours=3.0, others=1.5)
    assert watch.check() is None
    machine.run(5.0, ours=4.0, others=0.0)
    assert watch.check() is None
    machine.run(5.0, ours=3.0, others=2.0)  # a different load again: seen once more
    assert watch.check() is None
    machine.run(5.0, ours=3.0, others=4.0)  # every core taken: at least one thread
    assert watch.check() is None
    machine.run(5.0, ours=3.0, others=4.0)
    assert watch.check() == 1


def test_a_look_across_a_pause_counts_for_nothing() -> None:
    """Between jobs the watch is not asked: what other programs did then says little about now."""
    machine = Machine()
    watch = watch_on(machine, 2)
    machine.run(5.0, ours=1.2, others=0.8)
    assert watch.check() is None  # seen once
    machine.run(60.0, ours=0.0, others=1.0)  # our job idle, another program busy
    assert watch.check() is None  # not a second look at the same load
    machine.run(5.0, ours=2.0, others=0.0)
    assert watch.check() is None and watch.threads == 2


def test_the_real_counters_see_this_process_busy() -> None:
    busy, own = _busy_and_own()
    stop = time.perf_counter() + 0.4

    def spin() -> None:
        while time.perf_counter() < stop:
            pass

    thread = threading.Thread(target=spin)
    thread.start()
    thread.join()
    busy_after, own_after = _busy_and_own()
    assert own_after - own >= 0.2  # the spinning thread's CPU time (in core-seconds)
    assert busy_after - busy >= (own_after - own) - 0.05  # ours is part of the machine's
