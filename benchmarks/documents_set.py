"""Parts 4 and 5 of benchmarks/documents.py: our own question set (documents_questions.py).

Prints recall@5 per kind of question for fts / vector / hybrid / hybrid+rerank, how the
similarity threshold (relevance.py) separates answerable from unanswerable questions, the
false-answer rate, the latency the reranker adds, and (``answers``) the starter model's answers
before and after passages were fitted to it.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from benchmarks import documents_questions, documents_tuning
from benchmarks.documents_questions import KINDS, Question

SETS = {"benchmark": documents_questions.write, "tuning": documents_tuning.write}

RECALL_GOALS = {"code": 0.98, "number": 0.98, "name": 0.98, "paraphrase": 0.85}
REJECT_GOAL = 0.90
NOT_FOUND_WORDS = ("not ", "no information", "cannot", "can't", "does not", "doesn't", "unable")


def _recall(documents, asked: list[Question], method: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    found: dict[str, list[bool]] = {}
    for q in asked:
        if q.kind == "unanswerable":
            continue
        hits = documents.search(["set"], q.text, 5, method)
        found.setdefault(q.kind, []).append(any(Path(h.chunk.path).name == q.file for h in hits))
    return {kind: sum(v) / len(v) for kind, v in found.items()}


def _reranked_recall(documents, asked: list[Question]) -> tuple[dict[str, float], list[float]]:  # type: ignore[no-untyped-def]
    found: dict[str, list[bool]] = {}
    added: list[float] = []
    reranker = documents.reranker
    for q in asked:
        if q.kind == "unanswerable":
            continue
        documents.reranker = None
        started = time.perf_counter()
        documents.find(["set"], q.text, 5)
        plain = time.perf_counter() - started
        documents.reranker = reranker
        started = time.perf_counter()
        hits = documents.find(["set"], q.text, 5).hits
        added.append((time.perf_counter() - started - plain) * 1000)
        found.setdefault(q.kind, []).append(any(Path(h.chunk.path).name == q.file for h in hits))
    return {kind: sum(v) / len(v) for kind, v in found.items()}, added


def _calibration(documents, asked: list[Question]) -> None:  # type: ignore[no-untyped-def]
    from desktop.core.documents.context import NEAREST_SHOWN
    from desktop.core.documents.relevance import THRESHOLDS, relevant_hits

    searches = [(q, documents.find(["set"], q.text, NEAREST_SHOWN)) for q in asked]
    print("  threshold calibration (cosine, all-MiniLM-L6-v2): answerable kept / right file kept "
          "/ unanswerable recognised")  # fmt: skip
    for threshold in (0.0, 0.2, 0.25, 0.28, 0.3, 0.35, 0.4, 0.45, 0.5):
        kept = right = rejected = 0
        for q, found in searches:
            relevant = relevant_hits(found, lambda _hit, t=threshold: t)
            if q.kind == "unanswerable":
                rejected += not relevant
            else:
                kept += bool(relevant)
                right += any(Path(h.chunk.path).name == q.file for h in relevant[:2])
        answerable = sum(q.kind != "unanswerable" for q in asked)
        unanswerable = len(asked) - answerable
        marker = "  ← used" if threshold in THRESHOLDS.values() else ""
        print(
            f"    {threshold:.2f}: {kept / answerable:.2f} / {right / answerable:.2f} / "
            f"{rejected / unanswerable:.2f}{marker}"
        )
    best = {
        kind: [max((h.similarity or 0.0) for h in f.hits) for q, f in searches if q.kind == kind]
        for kind in KINDS
    }
    print(
        "  best similarity per kind (median, min): "
        + ", ".join(f"{k} {statistics.median(v):.2f} {min(v):.2f}" for k, v in best.items())
    )


def _answers(documents, asked: list[Question], count: int, model: Path | None) -> None:  # type: ignore[no-untyped-def]
    from desktop.core.chat.answer import run_answer
    from desktop.core.chat.engine import ChatEngine
    from desktop.core.chat.session import ChatSession
    from desktop.core.documents.context import (
        NEAREST_SHOWN,
        Passages,
        budget_chars,
        budget_for,
        citation,
    )
    from desktop.core.models.starter import starter_model_path
    from desktop.core.settings import GenerationSettings

    context, answer_tokens = 4096, 64
    engine = ChatEngine(model or starter_model_path(), context_length=context)
    info = engine.load()
    print(f"chat model: {info.name} {info.quantization}")
    settings = GenerationSettings(temperature=0.0, max_tokens=answer_tokens)

    def before(question: str, names: list[str]) -> Passages:
        """What the app gave the model until now: eight passages within half the context."""
        hits, used, room = (
            documents.search(names, question, 8),
            0,
            budget_chars(context, answer_tokens),
        )
        given = []
        for hit in hits:
            used += len(hit.chunk.text) + len(hit.chunk.path) + 24
            if used > room:
                break
            given.append(citation(len(given) + 1, hit))
        return Passages(given, [], tuple(names))

    budget = budget_for(info.parameter_count, context, answer_tokens)

    def after(question: str, names: list[str]) -> Passages:
        return documents.passages(question, names, budget)

    answerable = [q for q in asked if q.kind != "unanswerable"]
    step = max(len(answerable) // max(count, 1), 1)
    chosen = answerable[::step][:count] + [q for q in asked if q.kind == "unanswerable"]
    print(
        f"starter model ({info.parameter_count / 1e6:.0f}M, context {context}) on "
        f"{len(chosen) - 25} answerable and 25 unanswerable questions; after: up to "
        f"{budget.count} passages of {budget.chars} characters (nearest shown: {NEAREST_SHOWN})"
    )
    for label, finder in (("before", before), ("after", after)):
        right: dict[str, list[bool]] = {}
        started = time.perf_counter()
        for q in chosen:
            session = ChatSession(None, lambda _model: settings)
            session.find_passages = finder
            session.configure(collections=["set"])
            request = session.ask(q.text)
            reply = run_answer(session, engine, request)
            text = reply.content.lower()
            if q.kind == "unanswerable":
                ok = bool(request.reply) or any(w in text for w in NOT_FOUND_WORDS)
            else:
                ok = not request.reply and q.fact.lower() in text
            right.setdefault("unanswerable" if q.kind == "unanswerable" else "answerable", [])
            right["unanswerable" if q.kind == "unanswerable" else "answerable"].append(ok)
        seconds = time.perf_counter() - started
        print(
            f"  {label:<6} right answers: "
            + ", ".join(f"{k} {sum(v)}/{len(v)} ({sum(v) / len(v):.0%})" for k, v in right.items())
            + f"  ({seconds:.0f} s)"
        )
    engine.close()


def random_cross_encoder(folder: Path) -> Path:
    """A cross-encoder of cross-encoder/ms-marco-MiniLM-L-6-v2's shape (6 layers, 384 wide)
    with random weights: no real one can be had offline, and its speed is what it costs."""
    import torch
    import transformers

    from desktop.core.models.embedding_model import embedding_checkpoint

    if not (folder / "config.json").is_file():
        tokenizer = transformers.BertTokenizerFast.from_pretrained(embedding_checkpoint())
        config = transformers.BertConfig(
            vocab_size=tokenizer.vocab_size,
            hidden_size=384,
            num_hidden_layers=6,
            num_attention_heads=12,
            intermediate_size=1536,
            num_labels=1,
        )
        torch.manual_seed(0)
        transformers.BertForSequenceClassification(config).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return folder


def _alphas(documents, asked: list[Question], alphas: list[float]) -> None:  # type: ignore[no-untyped-def]
    """Recall@5 per kind at each weight of the fusion (for tuning, on the tuning set)."""
    from desktop.core.documents import fusion

    chosen = fusion.ALPHA
    print("  fusion weight α (cosine) vs recall@5: " + "  ".join(KINDS[:4]))
    for alpha in alphas:
        fusion.ALPHA = alpha
        recall = _recall(documents, asked, "hybrid")
        marker = "  ← used" if alpha == chosen else ""
        print(f"    α {alpha:.2f}: " + "  ".join(f"{recall[k]:.2f}" for k in KINDS[:4]) + marker)
    fusion.ALPHA = chosen


def question_set(  # type: ignore[no-untyped-def]
    home: Path,
    reranker: Path | None,
    answers: int,
    embedder=None,
    model: Path | None = None,
    which: str = "benchmark",
    alphas: list[float] | None = None,
) -> None:
    from desktop.core.documents.library import Documents

    folder = home / f"question-set-{which}"
    asked = SETS[which](folder)
    documents = Documents(home / f"set-{which}.sqlite3", embedder)
    documents.add("set", [folder])
    report = documents.index("set")
    print(
        f"question set “{which}”: {len(report.indexed)} files, {report.chunks} chunks, "
        f"{len(asked)} questions "
        f"({', '.join(f'{sum(q.kind == k for q in asked)} {k}' for k in KINDS)})"
    )
    methods = ("fts", "vector", "rrf", "hybrid")  # rrf: hybrid as fused before fusion.py
    table = {method: _recall(documents, asked, method) for method in methods}
    if alphas:
        _alphas(documents, asked, alphas)
    added: list[float] = []
    if reranker is not None:
        from desktop.core.documents.reranker import Reranker

        random_weights = str(reranker) == "random"
        if random_weights:
            reranker = random_cross_encoder(home / "random-cross-encoder")
        loaded = Reranker.load(reranker)
        documents.reranker = loaded
        recall, added = _reranked_recall(documents, asked)
        if not random_weights:  # random weights: the latency is real, the order is not
            table["hybrid+rerank"] = recall
        documents.reranker = None
        loaded.close()
    print("  recall@5      " + "".join(f"{m:>15}" for m in table) + "   goal")
    for kind in ("code", "number", "name", "paraphrase"):
        print(
            f"  {kind:<13} "
            + "".join(f"{table[m][kind]:>15.2f}" for m in table)
            + f"   ≥ {RECALL_GOALS[kind]:.2f}"
        )
    if added:
        print(
            f"  the reranker ({reranker.name if reranker else ''}, top 50) adds "
            f"{statistics.median(added):.0f} ms per question (median; max {max(added):.0f} ms)"
        )
    else:
        print("  hybrid+rerank: no reranker given (--reranker PATH)")
    _calibration(documents, asked)
    from desktop.core.documents.context import budget_for

    budget = budget_for(135_000_000, 4096, 96)
    false_answers = sum(
        documents.passages(q.text, ["set"], budget).found for q in asked if q.kind == "unanswerable"
    )
    kept = sum(
        documents.passages(q.text, ["set"], budget).found for q in asked if q.kind != "unanswerable"
    )
    print(
        f"  false answers on unanswerable questions: {false_answers}/25 "
        f"({false_answers / 25:.0%}; recognised {1 - false_answers / 25:.0%}, goal ≥ "
        f"{REJECT_GOAL:.0%}); answerable questions still answered: {kept}/100"
    )
    if answers:
        _answers(documents, asked, answers, model)
    documents.close()
