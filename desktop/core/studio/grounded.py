"""Records grounded in the user's documents: per passage of a collection, the teacher writes an
instruction a user might give that the passage answers, and the answer from the passage only.

Passages are read from the documents index (no embedding model is loaded) and taken spread over
the files — every file's passages in turn, and within a file from all over it rather than from
its start — so a hundred records of a long manual and three short notes are not all about the
manual's first pages. Each record keeps its passage as the documents feature cites it
(``source`` = "FILE, page N: passage").

The teacher is data generation's own (``conversion/selfinstruct``): a GGUF model decodes a whole
batch of prompts together, an endpoint answers them concurrently, each with the sampling seed
the self-instruct runner would give that request number. What it writes goes through that
pipeline's filters (word counts and the start rules; not the blacklist, whose words — file, map,
picture — are ordinary in documents) and its ROUGE-L de-duplication. A reply is dropped, and
counted by reason, when it does not parse, when the instruction or answer is empty, when it
copies the passage wholesale, when the instruction needs the passage to make sense, or when it
repeats an earlier instruction.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from conversion.errors import DataGenerationError, DocumentError, TeacherReplyError
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from conversion.selfinstruct.dedup import DEFAULT_THRESHOLD, make_index
from conversion.selfinstruct.filters import FilterRules, InstructionFilter
from conversion.selfinstruct.rouge import rouge_l, rouge_tokens
from conversion.selfinstruct.runner import SIMILAR, request_seed
from conversion.selfinstruct.teachers import Reply, Sampling, Teacher
from desktop.core.documents.context import Citation
from desktop.core.documents.store import DocumentStore, StoredChunk
from desktop.core.studio.passages import spread_order
from desktop.core.studio.records import StudioRecord
from desktop.core.studio.teacher import choose_teacher, open_teacher

BATCH_SIZE = 8  # prompts per batch (a GGUF teacher decodes them together)
MIN_PASSAGE_CHARS = 40  # shorter chunks (a heading, a page number) answer nothing
MAX_PASSAGE_CHARS = 1500  # of a passage shown to the teacher
ROUNDS = 3  # times each passage is asked about at most, each time for something new
MAX_FAILED_REPLIES = 20  # replies in a row without one usable record: a useless teacher
SAMPLING = Sampling(temperature=0.7, top_p=0.95, max_tokens=384)

# Why a reply was dropped (the progress line and GroundedResult.dropped).
UNPARSED = "not in the form asked"
EMPTY = "empty"
COPIED = "copies the passage"
NEEDS_PASSAGE = "needs the passage"

PROMPT = """Here is a passage from a user's documents ({label}):

\"\"\"
{text}
\"\"\"

Write one instruction or question that a person might ask an assistant, which this passage \
answers, and then the answer, using only facts stated in the passage. The instruction must make \
sense on its own, without seeing the passage: do not mention "the passage" or "the text". Answer \
in your own words, in one to four sentences; do not copy the whole passage.

Reply in exactly this form:
Instruction: <the instruction>
Answer: <the answer>"""

_LABEL = re.compile(r"^[ \t*#]*(instruction|question|answer)[ \t*]*:[ \t*]*", re.I | re.M)
_MENTIONS_PASSAGE = re.compile(
    r"\b(?:the|this|above|given|following) (?:passage|text|excerpt|extract)\b", re.I
)


@dataclass
class GroundedResult:
    records: list[StudioRecord] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # reason → replies dropped
    note: str = ""  # why it ended before ``count`` records, when it is not the collection's size


def generate_from_documents(
    collection: str,
    teacher: str,
    count: int,
    *,
    base_url: str = "",
    api_key: str = "",
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    batch_size: int = BATCH_SIZE,
    seed: int = 0,
    on_batch: Callable[[list[StudioRecord]], None] | None = None,
    background: bool = False,
) -> GroundedResult:
    """Up to ``count`` records grounded in passages of ``collection``, written by ``teacher``
    (a ``--teacher`` spec: ``gguf:NAME_OR_PATH`` or ``openai:MODEL`` with ``base_url``).

    Each passage is asked about in turn, and again (``ROUNDS`` times at most) for something
    not asked yet while records are missing: fewer than ``count`` when a small collection runs
    out, or when the teacher's replies stop being usable (``note`` says so; with none kept at
    all, TeacherReplyError). ``on_batch`` gets every record kept so far after each batch (to
    save them as they come); cancelled, this raises ``Cancelled`` and what ``on_batch`` was
    given is all that was made. ``background``: a GGUF teacher decodes at a lower CPU priority
    (in the window, whose chat keeps its pace).
    """
    if count < 1:
        raise DataGenerationError("Ask for at least one record.")
    choice = choose_teacher(teacher, base_url, api_key)  # a bad spec fails before any work
    store = DocumentStore()
    try:
        order = _passage_order(store, collection)
        progress(0.0, f"kept 0/{count} · opening the teacher {choice.spec}")
        model = open_teacher(choice, parallel=batch_size, background=background)
        try:
            run = _Run(model, count, seed, progress, cancel)
            return run.go(order, store.chunks, batch_size, on_batch)
        finally:
            model.close()
    finally:
        store.close()


def _passage_order(store: DocumentStore, collection: str) -> list[int]:
    """The ids of the collection's passages worth asking about, in the order they are asked
    about (their text is read a batch at a time)."""
    names = [c.name for c in store.collections()]
    if collection not in names:
        raise DocumentError(
            f"There is no document collection named “{collection}”.",
            (f"Choose one of: {', '.join(names)}. " if names else "There is none yet. ")
            + "Make one in Documents → Collections…, or with `huacaya docs add NAME FOLDER`.",
        )
    found = store.collection(collection)
    order = spread_order(list(store.chunks_by_file(found.id, MIN_PASSAGE_CHARS).values()))
    if not order:
        raise DocumentError(
            f"The collection “{collection}” has no indexed passages to write records from.",
            "Add folders with text to it and let it index (Documents → Collections…, or "
            f"`huacaya docs add {collection} FOLDER`), then try again.",
        )
    return order


def source_of(chunk: StoredChunk) -> str:
    """A passage as the documents feature cites it: "FILE, page N: text"."""
    label = Citation(0, chunk.collection, chunk.path, chunk.page, chunk.start, chunk.end, "").label
    return f"{label}: {chunk.text.strip()}"


def passage_prompt(chunk: StoredChunk, asked: Sequence[str] = ()) -> str:
    """The request about one passage; ``asked``: instructions already kept from it, which the
    teacher is told to avoid (a later round over the same passages)."""
    label = source_of(chunk).split(":", 1)[0]
    text = chunk.text.strip()
    if len(text) > MAX_PASSAGE_CHARS:
        text = text[:MAX_PASSAGE_CHARS].rsplit(" ", 1)[0] + " …"
    prompt = PROMPT.format(label=label, text=text)
    if asked:
        listed = "\n".join(f"- {instruction}" for instruction in asked)
        prompt += f"\n\nAsk about something else than these, already asked:\n{listed}"
    return prompt


def parse_grounded(text: str) -> tuple[str, str] | None:
    """(instruction, answer) from a reply in the form asked; None when it is not in it."""
    labels = list(_LABEL.finditer(text))
    first = next((m for m in labels if m.group(1).lower() != "answer"), None)
    if first is None:
        return None
    answer = next(
        (m for m in labels if m.start() > first.start() and m.group(1).lower() == "answer"), None
    )
    if answer is None:
        return None
    after = next(
        (m for m in labels if m.start() > answer.start() and m.group(1).lower() != "answer"), None
    )
    instruction = text[first.end() : answer.start()].strip()
    output = text[answer.end() : after.start() if after else len(text)].strip()
    return instruction, output


class _Run:
    def __init__(
        self, teacher: Teacher, count: int, seed: int, progress: Progress, cancel: CancelToken
    ) -> None:
        self.teacher, self.count, self.seed = teacher, count, seed
        self.progress, self.cancel = progress, cancel
        # Stanford's rules but the blacklist: documents speak of files, maps and pictures.
        self.filter = InstructionFilter(FilterRules(blacklist=()))
        self.index = make_index("fast", DEFAULT_THRESHOLD)
        self.records: list[StudioRecord] = []
        self.dropped: Counter[str] = Counter()
        self.failed_in_a_row = 0
        self.asked: dict[int, list[str]] = {}  # passage (chunk id) → instructions kept from it

    def status(self, activity: str = "") -> str:
        kept = min(len(self.records), self.count)
        total = sum(self.dropped.values())
        reasons = ", ".join(f"{reason} {n}" for reason, n in self.dropped.most_common() if n)
        line = f"kept {kept}/{self.count} · dropped {total}" + (f" ({reasons})" if reasons else "")
        return f"{line} · {activity}" if activity else line

    def report(self, activity: str = "") -> None:
        self.progress(min(len(self.records), self.count) / self.count, self.status(activity))

    def go(
        self,
        passages: list[int],
        fetch: Callable[[list[int]], dict[int, StoredChunk]],
        batch_size: int,
        on_batch: Callable[[list[StudioRecord]], None] | None,
    ) -> GroundedResult:
        """Ask about every passage in turn, then again (up to ``ROUNDS`` times) for something
        not asked yet, until ``count`` records are kept."""
        batch_size = max(1, batch_size)
        requests = len(passages) * ROUNDS
        start = 0
        while len(self.records) < self.count and start < requests:
            self.cancel.check()
            numbers = range(start, min(start + batch_size, requests))
            chunks = fetch(sorted({passages[n % len(passages)] for n in numbers}))
            # (A passage re-indexed away since the run began is skipped.)
            asked = [n for n in numbers if passages[n % len(passages)] in chunks]
            batch = [chunks[passages[n % len(passages)]] for n in asked]
            start += len(numbers)
            if not batch:
                continue
            round_ = numbers[0] // len(passages) + 1
            self.report(
                f"asking about passages {numbers[0] % len(passages) + 1}–"
                f"{numbers[-1] % len(passages) + 1} of {len(passages)}"
                + (f" (round {round_} of {ROUNDS})" if round_ > 1 else "")
            )
            replies = self.teacher.generate(
                [passage_prompt(chunk, self.asked.get(chunk.id, ())) for chunk in batch],
                [request_seed(self.seed, n) for n in asked],
                SAMPLING,
                self.cancel,
                self.report,
            )
            for chunk, reply in zip(batch, replies, strict=True):
                if len(self.records) < self.count:
                    self.take(chunk, reply)
            self.report()
            if on_batch is not None:
                on_batch(list(self.records))
            if self.failed_in_a_row >= MAX_FAILED_REPLIES:
                said = (
                    f"the teacher's last {self.failed_in_a_row} replies held no usable "
                    "instruction and answer"
                )
                if not self.records:
                    raise TeacherReplyError(
                        said[0].upper() + said[1:] + ".",
                        "Try a larger teacher model: a small one rarely follows the form asked.",
                    )
                return GroundedResult(self.records, dict(self.dropped), f"Stopped early: {said}.")
        return GroundedResult(self.records, dict(self.dropped))

    def take(self, chunk: StoredChunk, reply: Reply) -> None:
        reason = self.rejection(chunk, reply)
        if reason is not None:
            self.dropped[reason] += 1
            self.failed_in_a_row += 1
            return
        self.failed_in_a_row = 0
        parsed = parse_grounded(reply.text)
        assert parsed is not None
        self.index.add(parsed[0])
        self.asked.setdefault(chunk.id, []).append(parsed[0])
        self.records.append(StudioRecord(parsed[0], "", parsed[1], source=source_of(chunk)))

    def rejection(self, chunk: StoredChunk, reply: Reply) -> str | None:
        parsed = parse_grounded(reply.text)
        if parsed is None:
            return UNPARSED
        instruction, answer = parsed
        if not instruction or not answer:
            return EMPTY
        passage = rouge_tokens(chunk.text)
        if (
            max(rouge_l(rouge_tokens(answer), passage), rouge_l(rouge_tokens(instruction), passage))
            > DEFAULT_THRESHOLD
        ):
            return COPIED
        if _MENTIONS_PASSAGE.search(instruction):
            return NEEDS_PASSAGE
        reason = self.filter.rejection(instruction)
        if reason is None and self.index.judge(instruction).duplicate:
            reason = SIMILAR
        return reason
