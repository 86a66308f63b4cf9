"""Stanford Alpaca's training recipe (``huacaya-train``). Needs the ``train`` extra.

``data`` and ``recipe`` are torch-free (options, reading and checking data); everything else
imports torch, transformers, peft or accelerate, which nothing outside this package may do.
"""
