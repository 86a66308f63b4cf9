"""The thread that owns a :class:`~conversion.decoding.decoder.BatchDecoder`'s llama.cpp context:
its slots, the sequences waiting for one, and the steps that decode them (see ``decoder.py``).

Everything from ``_cycle`` down runs on that thread only; ``submit``, ``drop``, ``forget`` and
``shutdown`` may be called from any thread and only touch the line of waiting sequences
(``waiting.py``: when the thread wakes, and which sequences it takes).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import llama_cpp

from conversion.cpu_threads import ThreadWatch, lower_this_threads_priority
from conversion.decoding.batch import TokenBatch
from conversion.decoding.model import GgufModel
from conversion.decoding.prefix import common_prefix, shared_runs
from conversion.decoding.sampler import SamplerChain
from conversion.decoding.stream import DecodeJob, DecodeResult, DecodeStream, Delta, End
from conversion.decoding.text import TextAssembler
from conversion.decoding.waiting import WaitingLine
from conversion.errors import GenerationError, PromptTooLongError

log = logging.getLogger(__name__)

# Separate cells: the least a prompt must share with another entering with it to copy it
# rather than evaluate it (copying takes the whole of the other's cells; cheap beside
# evaluating this many tokens).
FOLLOW_TOKENS = 16


@dataclass
class _Slot:
    id: int  # its llama.cpp sequence id
    tokens: list[int] = field(default_factory=list)  # what its cache cells hold, by position
    busy: bool = False
    last_used: float = 0.0
    forget: bool = False  # drop the cache when its sequence ends


class _Sequence:
    def __init__(self, stream: DecodeStream) -> None:
        self.stream, self.job = stream, stream.job
        self.slot: _Slot | None = None
        self.chain: SamplerChain | None = None
        self.assembler: TextAssembler | None = None
        self.pending: list[int] = []  # to evaluate: the rest of the prompt, or the last token
        self.position = 0  # of pending[0]
        self.cached = 0
        self.answering = False  # the prompt is evaluated; each step adds one token
        # Separate cells per sequence: another sequence entering with it evaluates the first
        # ``until`` tokens of its prompt, then they are copied here (``_catch_up``).
        self.leader: _Sequence | None = None
        self.until = 0
        self.sampled: list[int] = []  # the answer's tokens

    @property
    def gone(self) -> bool:
        return self.stream.dropped or self.job.cancel.cancelled


class Scheduler:
    """The state of one decoder; everything below ``_cycle`` runs on its thread only."""

    def __init__(
        self,
        model: GgufModel,
        handle: Any,
        context: int,
        slots: int,
        batch: int,
        name: str,
        background: bool = False,
        separate: bool = False,
        watch: ThreadWatch | None = None,
    ) -> None:
        self.model, self.ctx, self.context = model, handle, context
        self.background = background
        self.watch = watch  # the threads follow the machine's load
        self.separate = separate  # each sequence has cells of its own (kv_unified off)
        self.memory = llama_cpp.llama_get_memory(handle)
        self.batch = TokenBatch(batch, slots)
        self.slots = [_Slot(i) for i in range(slots)]
        self.active: list[_Sequence] = []
        self._line: WaitingLine[_Sequence] = WaitingLine()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- any thread --------------------------------------------------------------------------

    def submit(self, jobs: list[DecodeJob]) -> list[DecodeStream]:
        streams = [DecodeStream(job, self) for job in jobs]
        if self._failure is not None or not self._line.put(_Sequence(s) for s in streams):
            raise GenerationError("The model is no longer loaded.", "Load it again and ask again.")
        return streams

    def drop(self, stream: DecodeStream) -> None:
        self._line.poke()

    def forget(self) -> None:
        self._line.forget()

    def shutdown(self) -> None:
        self._line.close()

    def join(self) -> None:
        if self._thread is not threading.current_thread():
            self._thread.join()

    # -- the scheduler's thread ----------------------------------------------------------------

    def _run(self) -> None:
        if self.background:
            lower_this_threads_priority()
        try:
            while self._cycle():
                pass
        except BaseException as exc:  # a bug: told to every reader, never a silent hang
            log.error("the decoder stopped", exc_info=exc)
            self._failure = exc
        finally:
            waiting = self._line.drain()
            error = None
            if self._failure is not None:
                error = GenerationError(f"llama.cpp stopped while answering: {self._failure}")
            for sequence in [*self.active, *waiting]:  # closed: they end as if cancelled
                self._finish(sequence, "cancelled", error)
            llama_cpp.llama_free(self.ctx)

    def _cycle(self) -> bool:
        free = sum(not slot.busy for slot in self.slots)
        work = self._line.next(busy=bool(self.active), free=free)
        if work is None:
            return False
        for sequence in work.gone:
            self._finish(sequence, "cancelled")
        if work.forget:
            self._forget_caches()
        for sequence in [s for s in self.active if s.gone]:
            self._finish(sequence, "cancelled")
        entering = [s for s in work.taken if self._admit(s)]
        if work.taken:
            self._evict_idle()
        if self.active:
            self._step(entering)
            self._follow_load()
        return True

    def _follow_load(self) -> None:
        threads = self.watch.check() if self.watch is not None else None
        if threads is not None:
            llama_cpp.llama_set_n_threads(self.ctx, threads, threads)
            log.info("%s: now %d CPU thread(s), as the load changed", self._thread.name, threads)

    def _admit(self, sequence: _Sequence) -> bool:
        """Give ``sequence`` a slot, its cached prefix and its sampler; False if it failed."""
        tokens, job = sequence.job.tokens, sequence.job
        problem = self._problem_with(tokens)
        if problem is not None:
            self._finish(sequence, "stop", problem)
            return False
        free = [slot for slot in self.slots if not slot.busy]
        if self.separate:
            # The lowest free id, whatever it holds (the cache comes from any slot below): with
            # separate cells llama.cpp evaluates at once only sequences whose ids follow one
            # another in the batch ([0, 1, 2, 3, 4]: 87 tokens/s; [0, 1, 2, 3, 5]: 75;
            # [4, 3, 2, 1, 0]: 51, as one at a time), so busy slots are kept together.
            slot = free[0]
        else:
            slot = max(free, key=lambda s: (common_prefix(s.tokens, tokens), -s.last_used))
        reuse = min(common_prefix(slot.tokens, tokens), len(tokens) - 1)
        donor = max(self.slots, key=lambda s: common_prefix(s.tokens, tokens))
        shared = min(common_prefix(donor.tokens, tokens), len(tokens) - 1)
        if donor is not slot and shared > reuse:  # another slot holds more of this prompt
            self._copy(donor, slot, shared)
            reuse = shared
        elif llama_cpp.llama_memory_seq_rm(self.memory, slot.id, reuse, -1):
            del slot.tokens[reuse:]
        else:  # this kind of cache cannot drop a suffix: start over
            llama_cpp.llama_memory_seq_rm(self.memory, slot.id, -1, -1)
            slot.tokens, reuse = [], 0
        try:
            sequence.chain = SamplerChain(self.model, job.sampler)
        except GenerationError as exc:
            self._finish(sequence, "stop", exc)
            return False
        max_tokens = max(1, min(job.max_tokens, self.context - len(tokens)))
        sequence.assembler = TextAssembler(
            self.model.piece, self.model.is_end, job.stops, max_tokens
        )
        slot.busy, slot.forget = True, False
        sequence.slot, sequence.cached = slot, reuse
        sequence.pending, sequence.position = tokens[reuse:], reuse
        self.active.append(sequence)
        sequence.stream.put(Delta("", 0, 0.0, reuse))
        return True

    def _copy(self, source: _Slot, target: _Slot, count: int) -> None:
        """Make ``target``'s cache the first ``count`` tokens of ``source``'s. llama.cpp copies
        between separate cells only whole (then the rest is dropped); in one pool the cells
        are shared, not copied."""
        llama_cpp.llama_memory_seq_rm(self.memory, target.id, -1, -1)
        llama_cpp.llama_memory_seq_cp(self.memory, source.id, target.id, -1, -1)
        llama_cpp.llama_memory_seq_rm(self.memory, target.id, count, -1)
        target.tokens = source.tokens[:count]

    def _problem_with(self, tokens: list[int]) -> GenerationError | PromptTooLongError | None:
        if not tokens:
            return GenerationError("There is nothing to answer: the prompt is empty.")
        if len(tokens) >= self.context:
            return PromptTooLongError(
                f"This prompt is {len(tokens):,} tokens long; the model's context holds "
                f"{self.context:,} tokens.",
                "Shorten the prompt, or raise the context length in Settings.",
            )
        if not self.model.valid(tokens):
            return GenerationError("The prompt holds a token this model does not have.")
        return None

    def _evict_idle(self) -> None:
        """Idle slots keep their caches for prompts to come. In one pool of cells, up to one
        context's worth in all (every cached cell lengthens every sequence's attention), least
        recently used first; separate cells cost the others nothing."""
        if self.separate:
            return
        idle = sorted((s for s in self.slots if not s.busy and s.tokens), key=lambda s: s.last_used)
        held = sum(len(s.tokens) for s in idle)
        while idle and held > self.context:
            slot = idle.pop(0)
            held -= len(slot.tokens)
            self._clear(slot)

    def _forget_caches(self) -> None:
        for slot in self.slots:
            if slot.busy:
                slot.forget = True
            else:
                self._clear(slot)

    def _clear(self, slot: _Slot) -> None:
        llama_cpp.llama_memory_seq_rm(self.memory, slot.id, -1, -1)
        slot.tokens, slot.last_used = [], 0.0

    def _step(self, entering: list[_Sequence]) -> None:
        """One batch: every answering sequence's next token, the prompt prefixes the sequences
        entering now share, then prompt chunks while there is room."""
        batch = self.batch
        batch.clear()
        outputs: list[tuple[_Sequence, int]] = []
        advance: dict[_Sequence, int] = {}
        if self.separate:
            self._follow(entering)
            self._catch_up()
            self._add_in_slot_order(outputs, advance)
        else:
            for sequence in self.active:
                if sequence.answering:
                    outputs.append((sequence, self._add_next(sequence, advance)))
            self._add_shared(entering, advance)
            for sequence in self.active:
                if not sequence.answering and batch.room > 0:
                    self._add_chunk(sequence, batch.room, outputs, advance)
        if batch.size == 0:  # every sequence waits for another's prompt (not expected)
            return
        code = llama_cpp.llama_decode(self.ctx, batch.as_llama_batch())
        if code == 1 and self._make_room():
            code = llama_cpp.llama_decode(self.ctx, batch.as_llama_batch())
        if code != 0:
            self._failed(code, list(advance))
            return
        for sequence, count in advance.items():
            assert sequence.slot is not None
            sequence.slot.tokens.extend(sequence.pending[:count])
            sequence.position += count
            del sequence.pending[:count]
        for sequence, index in outputs:
            self._sample(sequence, index)

    def _add_shared(self, entering: list[_Sequence], advance: dict[_Sequence, int]) -> None:
        """Evaluate once what the prompts of sequences entering together have in common."""
        if len(entering) < 2:
            return
        prompts = {s: (s.position, s.job.tokens) for s in entering}
        runs = shared_runs(prompts)  # type: ignore[arg-type]
        if not runs or sum(r.end - r.begin for r in runs) > self.batch.room:
            return
        for run in runs:
            members: list[_Sequence] = list(run.members)  # type: ignore[arg-type]
            first = members[0]
            tokens = first.job.tokens[run.begin : run.end]
            ids = [m.slot.id for m in members if m.slot is not None]
            self.batch.add(tokens, run.begin, ids, False)
            for member in members:
                advance[member] = run.end - member.position
                if member is not first:  # evaluated by the first: a cache hit for the others
                    member.cached += run.end - run.begin

    def _add_in_slot_order(
        self, outputs: list[tuple[_Sequence, int]], advance: dict[_Sequence, int]
    ) -> None:
        """Separate cells: each sequence's tokens in the order of its slot (llama.cpp evaluates
        at once only sequences whose ids follow one another in the batch; see ``_admit``),
        room kept for every answering sequence's next token, prompt chunks in what is left."""
        self.active.sort(key=lambda s: s.slot.id if s.slot is not None else -1)
        room = self.batch.room - sum(s.answering for s in self.active)
        for sequence in self.active:
            if sequence.answering:
                outputs.append((sequence, self._add_next(sequence, advance)))
            elif sequence.leader is None and room > 0:
                room -= self._add_chunk(sequence, room, outputs, advance)

    def _add_next(self, sequence: _Sequence, advance: dict[_Sequence, int]) -> int:
        """An answering sequence's next token, with its logits; its index in the batch."""
        assert sequence.slot is not None
        advance[sequence] = 1
        return self.batch.add(sequence.pending, sequence.position, [sequence.slot.id], True)

    def _add_chunk(
        self,
        sequence: _Sequence,
        room: int,
        outputs: list[tuple[_Sequence, int]],
        advance: dict[_Sequence, int],
    ) -> int:
        """Up to ``room`` more of ``sequence``'s prompt (logits for its last token); how many."""
        assert sequence.slot is not None
        done = advance.get(sequence, 0)
        chunk = sequence.pending[done : done + room]
        last = done + len(chunk) == len(sequence.pending)
        index = self.batch.add(chunk, sequence.position + done, [sequence.slot.id], last)
        advance[sequence] = done + len(chunk)
        if last:
            outputs.append((sequence, index))
        return len(chunk)

    def _follow(self, entering: list[_Sequence]) -> None:
        """Separate cells: a sequence entering with others whose prompt starts as an earlier
        one's (by at least FOLLOW_TOKENS more than it has cached) waits for that one to
        evaluate the common part, and copies it (``_catch_up``)."""
        leaders: list[_Sequence] = []
        for sequence in entering:
            tokens = sequence.job.tokens
            best, until = None, sequence.position + FOLLOW_TOKENS
            for leader in leaders:
                common = min(common_prefix(leader.job.tokens, tokens), len(tokens) - 1)
                if common >= until:
                    best, until = leader, common
            if best is None:
                leaders.append(sequence)
            else:
                sequence.leader, sequence.until = best, until

    def _catch_up(self) -> None:
        """Followers whose leader has evaluated what they share copy it; a follower whose
        leader ended before that evaluates its prompt itself."""
        for sequence in self.active:
            leader = sequence.leader
            if leader is None or sequence.slot is None:
                continue
            source = leader.slot
            if source is not None and len(source.tokens) >= sequence.until:
                self._copy(source, sequence.slot, sequence.until)
                sequence.cached += sequence.until - sequence.position
                sequence.pending = sequence.job.tokens[sequence.until :]
                sequence.position = sequence.until
                sequence.leader = None
            elif leader not in self.active:
                sequence.leader = None

    def _sample(self, sequence: _Sequence, index: int) -> None:
        assert sequence.chain is not None and sequence.assembler is not None
        sequence.answering = True
        token = sequence.chain.sample(self.ctx, index)
        sequence.sampled.append(token)
        text, done = sequence.assembler.feed(token)
        outcome = sequence.assembler.outcome
        if text:
            sequence.stream.put(
                Delta(text, outcome.generated_tokens, outcome.first_token_at, sequence.cached)
            )
        if done:
            self._finish(sequence, outcome.finish_reason)
        else:
            sequence.pending = [token]

    def _make_room(self) -> bool:
        """The cache is full: drop idle slots' caches. True if that freed any."""
        idle = [s for s in self.slots if not s.busy and s.tokens]
        for slot in idle:
            self._clear(slot)
        return bool(idle)

    def _failed(self, code: int, sequences: list[_Sequence]) -> None:
        """llama.cpp could not evaluate the batch: its sequences end with the error; their
        cache cells are dropped (a failed evaluation may have left some)."""
        if code == 1:
            error = GenerationError(
                "The model's context is full with the answers in progress.",
                "Lower the number of answers at once, or raise the context length.",
            )
        else:
            error = GenerationError(f"llama.cpp failed while answering (error {code}).")
        log.warning("llama_decode returned %d for %d sequences", code, len(sequences))
        for sequence in sequences:
            if sequence.slot is not None:
                self._clear(sequence.slot)
            self._finish(sequence, "stop", error)

    def _finish(self, sequence: _Sequence, reason: str, error: BaseException | None = None) -> None:
        outcome = sequence.assembler.outcome if sequence.assembler is not None else None
        sequence.stream.put(
            End(
                DecodeResult(
                    prompt_tokens=len(sequence.job.tokens),
                    cached_tokens=sequence.cached,
                    generated_tokens=outcome.generated_tokens if outcome else 0,
                    finish_reason=reason,
                    submitted=sequence.stream.submitted,
                    first_token_at=outcome.first_token_at if outcome else 0.0,
                    ended=time.perf_counter(),
                    tokens=tuple(sequence.sampled),
                ),
                error,
            )
        )
        if sequence.chain is not None:
            sequence.chain.close()
            sequence.chain = None
        slot = sequence.slot
        if slot is not None:
            slot.busy, slot.last_used = False, time.monotonic()
            if slot.forget:
                self._clear(slot)
            sequence.slot = None
        if sequence in self.active:
            self.active.remove(sequence)
