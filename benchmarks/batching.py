"""Answers decoded together against the one-at-a-time engine: same model, questions, threads,
greedy decoding.

    python benchmarks/batching.py [--model FILE.gguf | --build-1b DIR] [--tokens 64] [--rounds 2]

For 1, 2, 4 and 8 concurrent questions (each a different long story, so each answer runs to
``--tokens``), alternately in each round, from an empty cache:

- one at a time: a one-slot ChatEngine (the engine as it was) answers them in turn;
- together: an eight-slot ChatEngine gets them all at once, each Response iterated on a thread
  of its own (as the local API's slot threads do).

Printed per count: the aggregate tokens/s (all tokens / wall time), the mean and worst time to
first token, and the ratios (medians over the rounds). Then token agreement: the eight greedy
answers decoded together against each decoded alone, token by token; where they part, the lead
of the alone answer's token there (a near-tie below one logit may flip under another batch shape).

``--build-1b DIR`` makes a ~1B-parameter Llama (random weights, SmolLM2's tokenizer) with
transformers, converts it with our converter and quantizes it to Q4_K_M with our quantizer (the
GGUF is kept in DIR for the next run; needs the ``train`` extra).

Then llama.cpp's own limits for the same model and threads, without our scheduler: the tokens/s of
bare decoding steps of 8 sequences against 1 (the most batching can give with this model's
quantization on this CPU), and the time to evaluate 8 prompts in one batch against one (on a CPU,
bound by compute: about 8×, so 8 questions arriving together cannot all see their first token
as soon as one alone would).

Goal: ≥ 2.5× the one-at-a-time aggregate throughput at 8, time to first token within 1.5× of one
alone. The last line reads ``speed-up at 8 sequences: N.NN×``.
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import conversion  # noqa: F401  first: how llama.cpp's threads wait (conversion/openmp.py)

# isort: split
import llama_cpp
import numpy as np

from conversion.decoding.batch import TokenBatch
from conversion.decoding.decoder import BatchDecoder, cells_and_attention
from conversion.decoding.model import GgufModel
from conversion.decoding.sampler import SamplerSettings
from conversion.decoding.stream import DecodeJob
from desktop.core import hardware
from desktop.core.chat.engine import ChatEngine
from desktop.core.chat.response import Response
from desktop.core.models.starter import starter_model_path
from desktop.core.settings import GenerationSettings

COUNTS = (1, 2, 4, 8)
TOPICS = (
    "a lighthouse keeper", "a seagull", "a clockmaker", "a desert town",
    "a red kite", "a lost key", "a snow leopard", "a paper boat",
)  # fmt: skip
GOAL_SPEED, GOAL_TTFT = 2.5, 1.5
NEAR_TIE = 1.0  # logits: tests/scoring.py's SAFE_MARGIN


def question(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Write a long story about {TOPICS[i % len(TOPICS)]}."}]


@dataclass(frozen=True)
class Run:
    tokens: int
    seconds: float
    first_tokens: list[float]  # seconds from the start to each answer's first token

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds


def one_at_a_time(engine: ChatEngine, count: int, settings: GenerationSettings) -> Run:
    engine.forget_cache()
    started = time.perf_counter()
    tokens, firsts = 0, []
    for i in range(count):
        response = engine.stream(question(i), settings)
        response.text()
        assert response.stats is not None
        tokens += response.stats.generated_tokens
        firsts.append(response.stats.time_to_first_token)  # its own wait, as alone
    return Run(tokens, time.perf_counter() - started, firsts)


def together(engine: ChatEngine, count: int, settings: GenerationSettings) -> Run:
    engine.forget_cache()
    responses: list[Response] = [engine.stream(question(i), settings) for i in range(count)]
    firsts = [0.0] * count
    gate = threading.Barrier(count + 1)
    started = 0.0

    def read(i: int) -> None:
        pieces = iter(responses[i])
        gate.wait()
        for _ in pieces:
            firsts[i] = firsts[i] or time.perf_counter() - started
            break
        list(pieces)

    threads = [threading.Thread(target=read, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    gate.wait()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    tokens = sum(r.stats.generated_tokens for r in responses if r.stats)
    return Run(tokens, seconds, firsts)


def agreement(model: GgufModel, prompts: list[list[int]], tokens: int, threads: int) -> list[str]:
    """The eight greedy answers together against each alone, token by token."""
    greedy = SamplerSettings(temperature=0.0)
    alone_decoder = BatchDecoder(model, context=1024, slots=1, threads=threads)
    alone = []
    for prompt in prompts:
        alone_decoder.forget_cache()
        stream = alone_decoder.submit(DecodeJob(prompt, greedy, tokens))
        stream.text()
        alone.append(stream.result.tokens if stream.result else ())
    alone_decoder.close()
    batch_decoder = BatchDecoder(model, context=1024, slots=8, threads=threads)
    streams = batch_decoder.submit_all([DecodeJob(p, greedy, tokens) for p in prompts])
    joint = []
    for stream in streams:
        stream.text()
        joint.append(stream.result.tokens if stream.result else ())
    batch_decoder.close()
    lines, same, compared = [], 0, 0
    for i, (a, b) in enumerate(zip(alone, joint, strict=True)):
        part = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
        compared += len(a)
        if part is None:
            same += len(a)
            lines.append(f"  answer {i + 1}: all {len(a)} tokens the same")
            continue
        same += part
        lead = _lead(model, prompts[i], list(a[: part + 1]), threads)
        kind = "a near-tie" if lead < NEAR_TIE else "NOT A NEAR-TIE"
        lines.append(
            f"  answer {i + 1}: the same for {part} of {len(a)} tokens, then parts at a lead of "
            f"{lead:.3f} logits ({kind})"
        )
    lines.insert(0, f"token agreement: {same}/{compared} = {same / compared:.1%} (up to parting)")
    return lines


def _lead(model: GgufModel, prompt: list[int], answer: list[int], threads: int) -> float:
    """How far the last of ``answer`` led the runner-up, decoded alone with the decoder's own
    context settings."""
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = params.n_batch = params.n_ubatch = 1024
    params.n_threads = params.n_threads_batch = threads
    cells_and_attention(params, model.on_cpu)
    ctx = llama_cpp.llama_init_from_model(model.handle, params)
    try:
        batch = TokenBatch(1024, 1)
        batch.add([*prompt, *answer[:-1]], 0, [0], True)
        assert llama_cpp.llama_decode(ctx, batch.as_llama_batch()) == 0
        pointer = llama_cpp.llama_get_logits_ith(ctx, batch.size - 1)
        row = np.ctypeslib.as_array(
            ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), (model.n_vocab,)
        )
        row = row.astype(np.float64)
        chosen = row[answer[-1]]
        row[answer[-1]] = -np.inf
        return float(chosen - row.max())
    finally:
        llama_cpp.llama_free(ctx)


@dataclass(frozen=True)
class Limits:
    """llama.cpp's own figures for this model, threads and quantization, without our scheduler:
    what batching can give at most."""

    step_rate: dict[int, float]  # tokens/s of decoding steps with N sequences in the batch
    prompt_seconds: dict[int, float]  # evaluating N of the questions' prompts in one batch


def kernel_limits(model: GgufModel, prompts: list[list[int]], threads: int, steps: int) -> Limits:
    """Time llama_decode alone: N prompts in one batch, then ``steps`` steps of N next tokens."""
    rates, prompt_seconds = {}, {}
    for count in (1, max(COUNTS)):
        params = llama_cpp.llama_context_default_params()
        params.n_ctx, params.n_batch = 1024 * count, 1024
        params.n_ubatch, params.n_seq_max = 1024, count
        params.n_threads = params.n_threads_batch = threads
        cells_and_attention(params, model.on_cpu)  # as the decoder's
        ctx = llama_cpp.llama_init_from_model(model.handle, params)
        try:
            batch = TokenBatch(1024, count)
            for i in range(count):
                batch.add(prompts[i], 0, [i], True)
            started = time.perf_counter()
            assert llama_cpp.llama_decode(ctx, batch.as_llama_batch()) == 0
            prompt_seconds[count] = time.perf_counter() - started
            started = time.perf_counter()
            for step in range(steps):
                batch.clear()
                for i in range(count):
                    batch.add([prompts[i][-1]], len(prompts[i]) + step, [i], True)
                assert llama_cpp.llama_decode(ctx, batch.as_llama_batch()) == 0
            rates[count] = count * steps / (time.perf_counter() - started)
        finally:
            llama_cpp.llama_free(ctx)
    return Limits(rates, prompt_seconds)


def build_1b(folder: Path) -> Path:
    """A ~1B Llama (random weights, SmolLM2's tokenizer) converted and quantized by us."""
    gguf_path = folder / "llama-1b-random.Q4_K_M.gguf"
    if gguf_path.is_file():
        return gguf_path
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from conversion.convert import convert
    from conversion.quantize import quantize

    checkpoint = folder / "checkpoint"
    checkpoint.mkdir(parents=True, exist_ok=True)
    starter = starter_model_path()
    tokenizer = AutoTokenizer.from_pretrained(starter.parent, gguf_file=starter.name)
    tokenizer.save_pretrained(checkpoint)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=2048, intermediate_size=8192,
        num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
        max_position_embeddings=8192, rope_theta=100000.0, tie_word_embeddings=True,
        bos_token_id=1, eos_token_id=2,
    )  # fmt: skip
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    print(f"built a {model.num_parameters() / 1e9:.2f}B-parameter Llama", file=sys.stderr)
    model.save_pretrained(checkpoint)
    del model
    f16 = folder / "llama-1b-random.f16.gguf"
    convert(checkpoint, f16, "f16", force=True, name="Llama 1B (random weights)")
    quantize(f16, gguf_path, "Q4_K_M")
    f16.unlink()
    return gguf_path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--build-1b", type=Path, metavar="DIR", help="a ~1B model, made here")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=hardware.default_threads())
    parser.add_argument("--ctx", type=int, default=1024, help="per answer")
    args = parser.parse_args()
    model_path = args.model or (build_1b(args.build_1b) if args.build_1b else starter_model_path())
    settings = GenerationSettings(temperature=0.0, repeat_penalty=1.0, max_tokens=args.tokens)

    def engine(slots: int) -> ChatEngine:
        made = ChatEngine(model_path, context_length=args.ctx, threads=args.threads, slots=slots)
        made.load()
        return made

    single, batched = engine(1), engine(max(COUNTS))
    single.stream(question(0), settings.overridden(max_tokens=4)).text()  # warm-up both
    batched.stream(question(0), settings.overridden(max_tokens=4)).text()
    runs: dict[tuple[str, int], list[Run]] = {}
    for _ in range(args.rounds):
        for count in COUNTS:
            runs.setdefault(("alone", count), []).append(one_at_a_time(single, count, settings))
            runs.setdefault(("together", count), []).append(together(batched, count, settings))
    prompts = [single.prompt_tokens(question(i))[0] for i in range(max(COUNTS))]
    single.close()
    batched.close()
    model = GgufModel.load(model_path)
    try:
        agreed = agreement(model, prompts, args.tokens, args.threads)
        limits = kernel_limits(model, prompts, args.threads, args.tokens)
    finally:
        model.close()

    def median(kind: str, count: int, pick) -> float:  # type: ignore[no-untyped-def]
        return statistics.median(pick(run) for run in runs[(kind, count)])

    alone_ttft = median("alone", 1, lambda r: r.first_tokens[0])
    print(
        f"model: {model_path.name}; {args.threads} threads; {args.rounds} rounds; answers of up to "
        f"{args.tokens} tokens, greedy; one-at-a-time engine (1 slot) vs 8 slots"
    )
    print(
        f"{'answers':>8}{'one at a time':>15}{'together':>11}{'speed-up':>10}"
        f"{'first token: alone':>21}{'together (mean/worst)':>24}{'ratio':>8}"
    )
    for count in COUNTS:
        alone_rate = median("alone", count, lambda r: r.rate)
        joint_rate = median("together", count, lambda r: r.rate)
        mean_first = median("together", count, lambda r: statistics.mean(r.first_tokens))
        worst_first = median("together", count, lambda r: max(r.first_tokens))
        speed = joint_rate / alone_rate
        print(
            f"{count:>8}{alone_rate:>11.1f} t/s{joint_rate:>7.1f} t/s{speed:>9.2f}×"
            f"{alone_ttft * 1000:>17.0f} ms{mean_first * 1000:>13.0f} / "
            f"{worst_first * 1000:>5.0f} ms{mean_first / alone_ttft:>7.2f}×"
        )
    for line in agreed:
        print(line)
    eight = max(COUNTS)
    print(
        f"llama.cpp alone (no scheduler, same threads): decoding steps of {eight} sequences give "
        f"{limits.step_rate[eight]:.1f} t/s against {limits.step_rate[1]:.1f} t/s for one = "
        f"{limits.step_rate[eight] / limits.step_rate[1]:.2f}×, the most batching can give here; "
        f"{eight} prompts in one batch take {limits.prompt_seconds[eight] * 1000:.0f} ms against "
        f"{limits.prompt_seconds[1] * 1000:.0f} ms for one = "
        f"{limits.prompt_seconds[eight] / limits.prompt_seconds[1]:.2f}×"
    )
    speed = median("together", 8, lambda r: r.rate) / median("alone", 8, lambda r: r.rate)
    first = median("together", 8, lambda r: statistics.mean(r.first_tokens)) / alone_ttft
    verdicts = (
        f"throughput {'meets' if speed >= GOAL_SPEED else 'MISSES'} the goal of ≥ {GOAL_SPEED}×; "
        f"first token {'meets' if first <= GOAL_TTFT else 'MISSES'} the goal of ≤ {GOAL_TTFT}×"
    )
    print(verdicts)
    print(f"speed-up at 8 sequences: {speed:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
