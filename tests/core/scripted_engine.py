"""A stand-in for the chat engine that answers with scripted pieces of text, instantly: for tests
of what happens around an answer (the session, the front ends), not of the model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from desktop.core.chat.response import AnswerRequest, GenerationStats, Response


class ScriptedEngine:
    """``respond`` yields ``pieces`` one by one; ``fail_after``: raise after that many pieces;
    ``cancel_after``: cancel the request's own token after that many (as Stop would)."""

    def __init__(
        self,
        pieces: Sequence[str] = (" Hello", ",", " world", "."),
        fail_after: int | None = None,
        cancel_after: int | None = None,
    ) -> None:
        self.pieces = list(pieces)
        self.fail_after = fail_after
        self.cancel_after = cancel_after
        self.requests: list[AnswerRequest] = []

    def respond(self, request: AnswerRequest) -> Response:
        self.requests.append(request)

        def produce(response: Response) -> Iterator[str]:
            generated, reason = 0, "stop"
            try:
                for piece in self.pieces:
                    if generated == self.cancel_after:
                        request.cancel.cancel()
                    if request.cancel.cancelled:
                        reason = "cancelled"
                        return
                    if generated == self.fail_after:
                        raise RuntimeError("the scripted engine failed, as asked")
                    generated += 1
                    yield piece
            except GeneratorExit:
                reason = "cancelled"
                raise
            finally:
                response.stats = GenerationStats(
                    prompt_tokens=12,
                    evaluated_prompt_tokens=12,
                    generated_tokens=generated,
                    time_to_first_token=0.01,
                    total_seconds=0.02,
                    finish_reason=reason,
                )

        return Response(produce)
