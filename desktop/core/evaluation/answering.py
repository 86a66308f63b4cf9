"""A model answering an instruction set: :class:`AnswerRun`, the object a terminal command or a
window drives (``run(progress, cancel)``; ``report`` after).

Every answer is appended to the answer cache as soon as it is decoded (``journal.py``), keyed by
what the answer depends on: the model (its file's SHA-256, or the endpoint and model id), the
item's text and the settings. So a killed run continues where it stopped, a cancelled one too,
and a second run of the same command is instant (nothing is loaded when every answer is
cached). The answer file itself is rewritten whole and atomically as answers arrive, marked
``complete: false`` until the last one.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from conversion.errors import AnswerFileError, Cancelled, EvaluationError
from conversion.progress import NEVER_CANCELLED, CancelToken, Progress, no_progress
from desktop.core import paths
from desktop.core.evaluation.answer_files import (
    Answer,
    AnswerSet,
    load_answer_set,
    write_answer_set,
)
from desktop.core.evaluation.answerers import Answerer, AnswerSettings, Generated
from desktop.core.evaluation.items import EvalItem
from desktop.core.evaluation.journal import JsonLines

SAVE_EVERY = 5.0  # seconds between rewrites of the answer file while answers arrive


def cache_folder() -> Path:
    return paths.data_dir() / "evaluation" / "answers"


class AnswerCache:
    """Answers already decoded, one append-only file per model (or endpoint)."""

    def __init__(self, fingerprint: dict[str, Any], folder: Path | None = None) -> None:
        self.fingerprint = fingerprint
        name = _digest(fingerprint)[:24]
        self.journal = JsonLines((folder or cache_folder()) / f"{name}.jsonl")
        self._known: dict[str, dict[str, Any]] = {
            r["key"]: r for r in self.journal.read() if isinstance(r.get("key"), str)
        }

    def key(self, item: EvalItem, settings: AnswerSettings) -> str:
        return _digest(
            {
                "model": self.fingerprint,
                "instruction": item.instruction,
                "input": item.input,
                "settings": settings.record(),
            }
        )

    def get(self, item: EvalItem, settings: AnswerSettings) -> Generated | None:
        record = self._known.get(self.key(item, settings))
        if record is None or not isinstance(record.get("response"), str):
            return None
        return Generated(
            item,
            record["response"],
            str(record.get("finish_reason", "stop")),
            int(record.get("generated_tokens", 0)),
        )

    def put(self, answer: Generated, settings: AnswerSettings) -> None:
        key = self.key(answer.item, settings)
        record: dict[str, Any] = {
            "key": key,
            "response": answer.response,
            "finish_reason": answer.finish_reason,
            "generated_tokens": answer.generated_tokens,
        }
        self.journal.append(record)
        self._known[key] = record


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AnswerReport:
    out: Path
    total: int
    written: int  # answers in the file
    generated: int  # decoded in this run
    cached: int  # found in the cache
    generated_tokens: int
    seconds: float
    complete: bool

    def describe(self) -> str:
        rate = self.generated / self.seconds * 60 if self.seconds > 0 and self.generated else 0
        speed = f", {rate:.1f} answers/min" if rate else ""
        return (
            f"Wrote {self.written:,} of {self.total:,} answers to {self.out} "
            f"({self.generated:,} generated in {self.seconds:.1f} s{speed}, "
            f"{self.cached:,} from the cache)."
        )


class AnswerRun:
    """``answerer`` answering ``items`` into the answer file ``out``."""

    def __init__(
        self,
        answerer: Answerer,
        items: list[EvalItem],
        out: Path,
        settings: AnswerSettings | None = None,
        *,
        prompts_name: str = "",
        force: bool = False,
        cache_dir: Path | None = None,
    ) -> None:
        self.answerer = answerer
        self.items = items
        self.out = out
        self.settings = settings or AnswerSettings()
        self.prompts_name = prompts_name
        self.cache = AnswerCache(answerer.fingerprint, cache_dir)
        self.report: AnswerReport | None = None
        self._answers: dict[str, Generated] = {}
        if not force:
            self._check_out()

    def _meta(self, complete: bool) -> dict[str, Any]:
        return {
            "model": self.answerer.fingerprint,
            "prompt_format_used": getattr(self.answerer, "prompt_format", "") or "",
            "settings": self.settings.record(),
            "prompts": self.prompts_name,
            "items": len(self.items),
            "complete": complete,
            "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

    def _check_out(self) -> None:
        """Nothing the user had is overwritten: ``out`` may only be this very run's file."""
        if not self.out.exists():
            if not self.out.parent.is_dir():
                raise EvaluationError(f"The folder “{self.out.parent}” does not exist.")
            return
        try:
            existing = load_answer_set(self.out)
        except AnswerFileError:
            existing = None
        same = (
            existing is not None
            and existing.meta.get("model") == self.answerer.fingerprint
            and existing.meta.get("settings") == self.settings.record()
        )
        if not same:
            raise EvaluationError(
                f"“{self.out}” already exists and holds other answers.",
                "Choose another --out, or pass --force to replace it.",
            )

    def run(
        self, progress: Progress = no_progress, cancel: CancelToken = NEVER_CANCELLED
    ) -> AnswerReport:
        started = time.perf_counter()
        total = len(self.items)
        todo = []
        for item in self.items:
            found = self.cache.get(item, self.settings)
            if found is None:
                todo.append(item)
            else:
                self._answers[item.id] = found
        cached = total - len(todo)
        generated = tokens = 0
        last_save = time.monotonic()
        if cached:  # (with nothing cached, the first news is the first answer: a model that
            # does not load then ends with its one message, no progress line before it)
            progress(cached / total, f"{cached}/{total} answers from the cache")

        def on_answer(answer: Generated) -> None:
            nonlocal generated, tokens, last_save
            self.cache.put(answer, self.settings)
            self._answers[answer.item.id] = answer
            generated += 1
            tokens += answer.generated_tokens
            done = cached + generated
            progress(done / total, f"{done}/{total} answers ({cached} from the cache)")
            if time.monotonic() - last_save > SAVE_EVERY:
                self._save(complete=False)
                last_save = time.monotonic()

        try:
            if todo:
                cancel.check()
                self.answerer.answer_all(todo, self.settings, on_answer, cancel)
        except Cancelled:
            self._save(complete=False)
            raise
        except BaseException:
            if self._answers:
                self._save(complete=False)
            raise
        complete = len(self._answers) == total
        self._save(complete=complete)
        self.report = AnswerReport(
            self.out,
            total,
            len(self._answers),
            generated,
            cached,
            tokens,
            time.perf_counter() - started,
            complete,
        )
        return self.report

    def _save(self, complete: bool) -> None:
        answers = [
            Answer(
                item.id,
                item.instruction,
                item.input,
                found.response,
                found.finish_reason,
                found.generated_tokens,
            )
            for item in self.items
            if (found := self._answers.get(item.id)) is not None
        ]
        write_answer_set(self.out, AnswerSet(self.answerer.name, answers, self._meta(complete)))
