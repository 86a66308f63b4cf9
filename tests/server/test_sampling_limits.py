"""The local API takes every sampling option the app has (OpenAI's, and top_k, min_p and
repeat_penalty as llama.cpp's server does), within exactly the app's ranges (``SAMPLING``), and
they reach the model."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from desktop.core.settings import SAMPLING
from desktop.server.runner import ApiServer
from tests.conftest import COUNT
from tests.core.test_sampling_limits import outside
from tests.scoring import Reference
from tests.server.conftest import client_for

QUESTION = [{"role": "user", "content": COUNT}]


def test_each_option_is_taken_at_its_bounds_and_refused_past_them(
    serve: Callable[..., ApiServer],
) -> None:
    # the server's own cap on answers stays out of the way of max_tokens' range
    server = serve(max_tokens_limit=SAMPLING["max_tokens"].high)
    with client_for(server) as client:
        for name, option in SAMPLING.items():
            short = {} if name == "max_tokens" else {"max_tokens": 1}
            for value in (option.low, option.high):
                reply = client.chat.completions.create(
                    model="",
                    messages=QUESTION,  # type: ignore[arg-type]
                    extra_body={**short, name: value},
                )
                assert reply.choices[0].finish_reason in ("stop", "length"), (name, value)
            for value in outside(option):
                with pytest.raises(openai.BadRequestError) as refused:
                    client.completions.create(
                        model="", prompt="Hello", extra_body={**short, name: value}
                    )
                assert refused.value.param == name, (name, value)


@pytest.mark.parametrize("narrowing", [{"top_k": 1}, {"min_p": 1.0}])
def test_top_k_and_min_p_reach_the_model(
    narrowing: dict[str, float], client: openai.OpenAI, count_reference: Reference
) -> None:
    """At the hottest temperature, top-k 1 (or min-p 1) leaves only the likeliest token: the
    answer is the greedy one this run produced."""
    reply = client.chat.completions.create(
        model="",
        messages=QUESTION,  # type: ignore[arg-type]
        temperature=SAMPLING["temperature"].high,
        max_tokens=64,
        extra_body=narrowing,
    )
    count_reference.assert_matches(reply.choices[0].message.content or "")
