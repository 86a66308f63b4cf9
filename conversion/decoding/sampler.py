"""How one sequence picks its next token: its own llama.cpp sampler chain.

Every sequence decoded together has its own chain (its own temperature, top-k/p, min-p, repeat
penalty, random seed and JSON grammar), made in the same order as llama-cpp-python's
``Llama.generate``, so an answer is sampled the same way whether it is decoded alone or with
others: repeat penalty over the last 64 generated tokens, the grammar, then greedy at
temperature 0, else top-k, typical (off), top-p, min-p, temperature and a draw seeded per
sequence.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import llama_cpp
from llama_cpp.llama_grammar import JSON_GBNF

from conversion.decoding.model import GgufModel
from conversion.errors import GenerationError

PENALTY_LAST_N = 64  # llama-cpp-python's last_n_tokens_size


@dataclass(frozen=True)
class SamplerSettings:
    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    seed: int = -1  # -1: a new random seed
    json: bool = False  # constrain the answer to JSON (llama.cpp's JSON grammar)


class SamplerChain:
    """A llama.cpp sampler chain; used and freed on the decoder's thread."""

    def __init__(self, model: GgufModel, settings: SamplerSettings) -> None:
        params = llama_cpp.llama_sampler_chain_default_params()
        self.handle: Any = llama_cpp.llama_sampler_chain_init(params)
        self.seed = settings.seed if settings.seed >= 0 else random.randrange(2**31)
        try:
            for sampler in _stages(model, settings, self.seed):
                if not sampler:
                    raise GenerationError("llama.cpp could not set up sampling for this answer.")
                llama_cpp.llama_sampler_chain_add(self.handle, sampler)  # the chain owns it
        except BaseException:
            self.close()
            raise

    def sample(self, context: Any, index: int) -> int:
        """The next token from the logits at ``index`` of the last batch (and accept it)."""
        return int(llama_cpp.llama_sampler_sample(self.handle, context, index))

    def close(self) -> None:
        if self.handle is not None:
            llama_cpp.llama_sampler_free(self.handle)
            self.handle = None


def _stages(model: GgufModel, settings: SamplerSettings, seed: int) -> list[Any]:
    stages = []
    if settings.repeat_penalty != 1.0:  # 1.0 changes nothing: skip its pass over the vocabulary
        stages.append(
            llama_cpp.llama_sampler_init_penalties(
                model.n_vocab, PENALTY_LAST_N, settings.repeat_penalty, 0.0, 0.0
            )
        )
    if settings.json:
        stages.append(
            llama_cpp.llama_sampler_init_grammar(model.vocab, JSON_GBNF.encode("utf-8"), b"root")
        )
    if settings.temperature <= 0.0:
        stages.append(llama_cpp.llama_sampler_init_greedy())
        return stages
    stages += [
        llama_cpp.llama_sampler_init_top_k(settings.top_k),
        llama_cpp.llama_sampler_init_typical(1.0, 1),
        llama_cpp.llama_sampler_init_top_p(settings.top_p, 1),
        llama_cpp.llama_sampler_init_min_p(settings.min_p, 1),
        llama_cpp.llama_sampler_init_temp(settings.temperature),
        llama_cpp.llama_sampler_init_dist(seed),
    ]
    return stages
