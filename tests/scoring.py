"""Judging model output in a way that holds on any machine.

Another CPU, thread count or llama.cpp build adds floats in another order, so a greedy answer may
take another path wherever its top two tokens are nearly tied (on a 135M model that happens on
the first token of "What is the capital of France?"). So tests never assert words a model
generated. They either

- score instead of sampling: :meth:`Scorer.prefers` checks that one continuation is more likely
  than others by a stated margin of log-probability, and :func:`agreement` measures top-1
  agreement and KL divergence against reference logits; or
- compare with what the same model produced in the same run: :func:`assert_same_answer` demands
  equality up to the first position where the reference's top-1/top-2 margin is small (where
  float noise may legitimately change the path), and :meth:`Scorer.check_premise` fails with
  "premise does not hold: …" when a test would depend on such a near-tie.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np

from conversion import llama_log
from desktop.core.chat.engine import ChatEngine
from desktop.core.chat.prompts import Message
from desktop.core.chat.response import AnswerRequest
from desktop.core.settings import GenerationSettings

# Logit differences from summation order are around 1e-3 (f32) to 1e-2 (quantized matmuls);
# a top-1 lead of a whole logit is two orders of magnitude beyond that.
SAFE_MARGIN = 1.0

# Knowledge is scored, not sampled: log p(" Paris") against the likeliest other capital must lead
# by PARIS_MARGIN nats. (Asked as a question, the starter model's first token is a near-tie.)
CAPITAL_OF_FRANCE = ("The capital of France is", " Paris", (" London", " Rome", " Berlin"))
PARIS_MARGIN = 1.0


def log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def agreement(reference: np.ndarray, candidate: np.ndarray) -> tuple[float, float]:
    """(top-1 agreement, mean KL(reference ‖ candidate)) over positions of [n, vocab] logits."""
    top1 = float(np.mean(reference.argmax(-1) == candidate.argmax(-1)))
    p_log, q_log = log_softmax(reference), log_softmax(candidate)
    kl = float(np.mean((np.exp(p_log) * (p_log - q_log)).sum(-1)))
    return top1, kl


def llama_cpp_logits(path: Path, tokens: list[int]) -> np.ndarray:
    """Logits at every position of ``tokens`` from llama.cpp (a fresh model, no cache)."""
    with Scorer(path) as scorer:
        return scorer.logits(tokens)


@dataclass(frozen=True)
class Preference:
    winner: str
    winner_logprob: float
    runner_up: str
    runner_up_logprob: float

    @property
    def margin(self) -> float:
        return self.winner_logprob - self.runner_up_logprob


class Scorer:
    """A GGUF model in llama.cpp that scores text instead of sampling it."""

    def __init__(self, path: Path, n_ctx: int = 1024) -> None:
        self.path = Path(path)
        llama_log.install()  # llama.cpp as the app runs it (its AMX workaround included)
        self.llama = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_batch=n_ctx,
            logits_all=True,
            verbose=False,
            n_threads=2,
            n_gpu_layers=0,
        )

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.llama.close()

    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        return self.llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def logits(self, tokens: Sequence[int]) -> np.ndarray:
        """[len(tokens), vocab] logits, evaluated from scratch."""
        self.llama.reset()
        self.llama.eval(list(tokens))
        return np.array(self.llama.scores[: len(tokens)], dtype=np.float32)

    def logprob(self, prompt: str, continuation: str) -> float:
        """log p(continuation | prompt), summed over the continuation's tokens."""
        prompt_tokens = self.tokenize(prompt)
        tokens = self.tokenize(prompt + continuation)
        if tokens[: len(prompt_tokens)] != prompt_tokens:
            raise ValueError(f"{continuation!r} changes how the prompt is tokenized")
        logprobs = log_softmax(self.logits(tokens))
        return float(
            sum(logprobs[i - 1, tokens[i]] for i in range(len(prompt_tokens), len(tokens)))
        )

    def prefers(self, prompt: str, winner: str, losers: Sequence[str]) -> Preference:
        """How much more likely ``winner`` is than the likeliest of ``losers`` after ``prompt``."""
        scores = {text: self.logprob(prompt, text) for text in (winner, *losers)}
        runner_up = max(losers, key=lambda text: scores[text])
        return Preference(winner, scores[winner], runner_up, scores[runner_up])

    def margins(self, prompt_tokens: Sequence[int], answer_tokens: Sequence[int]) -> list[float]:
        """At each answer position: the answer token's logit minus the best other token's.

        Negative where the answer token is not the top-1 choice.
        """
        logits = self.logits([*prompt_tokens, *answer_tokens])
        found = []
        for offset, token in enumerate(answer_tokens):
            row = logits[len(prompt_tokens) + offset - 1].astype(np.float64)
            chosen = row[token]
            row[token] = -np.inf
            found.append(float(chosen - row.max()))
        return found

    def check_premise(
        self,
        prompt_tokens: Sequence[int],
        answer_tokens: Sequence[int],
        positions: int | None = None,
        minimum: float = SAFE_MARGIN,
    ) -> None:
        """Fail unless the answer's first ``positions`` tokens (all by default) are clear wins.

        A test that asserts a generated word must call this first, so that a near-tie can never
        pass by luck on one machine and fail on another.
        """
        checked = list(answer_tokens if positions is None else answer_tokens[:positions])
        for index, margin in enumerate(self.margins(prompt_tokens, checked)):
            if margin < minimum:
                raise AssertionError(
                    f"premise does not hold: margin {margin:.3f} < {minimum} at token {index} "
                    f"({self.llama.detokenize([checked[index]]).decode(errors='replace')!r})"
                )

    def safe_prefix(self, prompt_tokens: Sequence[int], answer: str) -> str:
        """The part of ``answer`` (a greedy answer to ``prompt_tokens``) that any machine
        reproduces: its tokens up to the first one whose lead is below SAFE_MARGIN."""
        return self.reference(prompt_tokens, answer, 0).safe_prefix

    def reference(
        self, prompt_tokens: Sequence[int], answer: str, premise_tokens: int = 3
    ) -> Reference:
        """``answer`` (a greedy answer to ``prompt_tokens``) with its safe prefix, in one
        evaluation; fails with "premise does not hold" unless its first ``premise_tokens``
        tokens are clear wins."""
        answer_tokens = self.tokenize(answer, add_bos=False)
        margins = self.margins(prompt_tokens, answer_tokens)
        for index, margin in enumerate(margins[:premise_tokens]):
            if margin < SAFE_MARGIN:
                piece = self.llama.detokenize([answer_tokens[index]]).decode(errors="replace")
                raise AssertionError(
                    f"premise does not hold: margin {margin:.3f} < {SAFE_MARGIN} at token "
                    f"{index} ({piece!r})"
                )
        kept: list[int] = []
        for token, margin in zip(answer_tokens, margins, strict=True):
            if margin < SAFE_MARGIN:
                break
            kept.append(token)
        return Reference(answer, self.llama.detokenize(kept).decode("utf-8", errors="ignore"))


def assert_same_answer(candidate: str, reference: str, safe_prefix: str) -> None:
    """``candidate`` is the greedy answer ``reference`` came from, allowing for float noise:
    identical if the two are, else identical as far as ``safe_prefix`` (the reference up to its
    first near-tie) reaches — or as far as the candidate reaches, if it was cut shorter."""
    candidate, reference, safe_prefix = candidate.strip(), reference.strip(), safe_prefix.strip()
    if candidate == reference:
        return
    assert reference.startswith(safe_prefix), (reference, safe_prefix)
    assert candidate, f"an empty answer where {reference!r} was expected"
    assert candidate[: len(safe_prefix)] == safe_prefix[: len(candidate)], (
        f"the answers differ before the first near-tie: {candidate!r} vs {reference!r}"
    )


@dataclass(frozen=True)
class Reference:
    """A greedy answer produced in this run, and the part of it any machine reproduces."""

    text: str
    safe_prefix: str

    def assert_matches(self, candidate: str) -> None:
        assert_same_answer(candidate, self.text, self.safe_prefix)


def greedy_reference(
    engine: ChatEngine,
    messages: list[Message],
    settings: GenerationSettings,
    premise_tokens: int = 3,
) -> Reference:
    """``engine``'s answer to ``messages`` with its cache cleared, for tests that compare.

    Fails with "premise does not hold" unless the first ``premise_tokens`` tokens are clear
    winners: a comparison that covers nothing would pass by luck.
    """
    assert settings.temperature == 0 and settings.repeat_penalty == 1.0, "greedy only"
    engine.forget_cache()
    text = engine.stream(messages, settings).text()
    prompt_tokens = engine.fit(AnswerRequest(list(messages), settings)).tokens
    with Scorer(engine.model_path) as scorer:
        return scorer.reference(prompt_tokens, text, premise_tokens)
