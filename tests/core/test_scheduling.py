"""The batched decoder's model-free parts: the line of sequences waiting for a slot (when the
decoder thread wakes, how long it gathers requests arriving together, which it takes) and each
sequence's own text assembly (stop strings, length limit, end token), interleaved as the
scheduler feeds them."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from conversion.decoding.text import TextAssembler
from conversion.decoding.waiting import WaitingLine, Work

TIMEOUT = 10.0
LONG_WINDOW = 60.0  # a gather window no test waits out: taking must not depend on it running out


@dataclass
class Request:
    name: str
    gone: bool = False


class Taker:
    """The decoder thread's side: one ``next`` call on a thread of its own."""

    def __init__(self, line: WaitingLine[Request], busy: bool, free: int) -> None:
        self.work: Work[Request] | None = None
        self.returned = threading.Event()
        self._thread = threading.Thread(target=self._take, args=(line, busy, free), daemon=True)
        self._thread.start()

    def _take(self, line: WaitingLine[Request], busy: bool, free: int) -> None:
        self.work = line.next(busy=busy, free=free)
        self.returned.set()

    def taken(self) -> list[str]:
        assert self.returned.wait(TIMEOUT), "the decoder thread never took its work"
        assert self.work is not None
        return [r.name for r in self.work.taken]


def test_requests_arriving_together_at_an_idle_decoder_start_together() -> None:
    line: WaitingLine[Request] = WaitingLine(gather_s=LONG_WINDOW)
    line.put([Request("a")])
    taker = Taker(line, busy=False, free=3)
    # One request of three possible: the idle decoder waits for companions…
    assert not taker.returned.wait(0.3)
    line.put([Request("b")])
    line.put([Request("c")])
    # …and starts as soon as every free slot has one, without waiting out the window.
    assert taker.taken() == ["a", "b", "c"]


def test_a_lone_request_waits_only_for_the_gather_window() -> None:
    line: WaitingLine[Request] = WaitingLine(gather_s=0.05)
    line.put([Request("a")])
    assert Taker(line, busy=False, free=4).taken() == ["a"]


def test_running_answers_never_wait_for_newcomers() -> None:
    """While sequences answer, every step goes at once: a newcomer joins the next one."""
    line: WaitingLine[Request] = WaitingLine(gather_s=LONG_WINDOW)
    assert Taker(line, busy=True, free=3).taken() == []
    line.put([Request("a")])
    assert Taker(line, busy=True, free=3).taken() == ["a"]


def test_one_slot_takes_a_request_at_once() -> None:
    line: WaitingLine[Request] = WaitingLine(gather_s=LONG_WINDOW)
    line.put([Request("a")])
    assert Taker(line, busy=False, free=1).taken() == ["a"]


def test_waiting_requests_are_taken_in_order_and_ones_whose_client_left_are_set_aside() -> None:
    line: WaitingLine[Request] = WaitingLine(gather_s=LONG_WINDOW)
    line.put([Request("a"), Request("b", gone=True), Request("c"), Request("d"), Request("e")])
    first = Taker(line, busy=False, free=2)
    assert first.taken() == ["a", "c"]
    assert first.work is not None and [r.name for r in first.work.gone] == ["b"]
    assert Taker(line, busy=True, free=1).taken() == ["d"]
    assert line.drain() == [Request("e")]


def test_an_idle_decoder_sleeps_until_asked_and_wakes_for_a_forget() -> None:
    line: WaitingLine[Request] = WaitingLine(gather_s=LONG_WINDOW)
    taker = Taker(line, busy=False, free=4)
    assert not taker.returned.wait(0.3)  # nothing to do: no busy loop returning empty work
    line.forget()
    assert taker.taken() == []
    assert taker.work is not None and taker.work.forget
    assert Taker(line, busy=True, free=4).work.forget is False  # type: ignore[union-attr]


def test_closing_ends_a_gather_and_refuses_newcomers() -> None:
    line: WaitingLine[Request] = WaitingLine(gather_s=LONG_WINDOW)
    line.put([Request("a")])
    taker = Taker(line, busy=False, free=4)
    assert not taker.returned.wait(0.3)
    line.close()
    assert taker.returned.wait(TIMEOUT) and taker.work is None
    assert line.put([Request("b")]) is False
    assert line.drain() == [Request("a")]  # ended as cancelled by the decoder


# -- each sequence's text -------------------------------------------------------------------------

END = 0


def spelled(text: str, first_id: int = 1) -> tuple[list[int], dict[int, bytes]]:
    pieces = {first_id + i: ch.encode() for i, ch in enumerate(text)}
    return list(pieces), pieces


def test_sequences_fed_in_turn_keep_their_own_stop_strings_and_limits() -> None:
    """The scheduler feeds every answering sequence one token per step, in turn."""
    a_tokens, a_pieces = spelled("one, two, three")
    b_tokens, b_pieces = spelled("one, two, three", first_id=100)
    pieces = {**a_pieces, **b_pieces}
    stop_at_comma = TextAssembler(pieces.__getitem__, lambda t: t == END, [", t"], 100)
    five_tokens = TextAssembler(pieces.__getitem__, lambda t: t == END, [], 5)
    texts = ["", ""]
    done = [False, False]
    for a, b in zip(a_tokens, b_tokens, strict=True):
        for i, (assembler, token) in enumerate(((stop_at_comma, a), (five_tokens, b))):
            if not done[i]:
                text, done[i] = assembler.feed(token)
                texts[i] += text
    assert texts == ["one", "one, "]
    assert stop_at_comma.outcome.finish_reason == "stop"
    assert (five_tokens.outcome.finish_reason, five_tokens.outcome.generated_tokens) == (
        "length",
        5,
    )


def test_a_character_split_across_tokens_comes_whole() -> None:
    snow = "☃".encode()
    pieces = {1: snow[:1], 2: snow[1:], 3: b"!"}
    assembler = TextAssembler(pieces.__getitem__, lambda t: t == END, [], 10)
    shown = [assembler.feed(token)[0] for token in (1, 2, 3)]
    assert shown == ["", "☃", "!"]
    assert assembler.feed(END) == ("", True)
    assert assembler.outcome.finish_reason == "stop" and assembler.outcome.generated_tokens == 3
