"""Hugging Face checkpoint → GGUF conversion, quantization and the Alpaca training recipe.

Torch-free except for ``conversion.train`` (the ``train`` extra). This package never imports
``desktop``: the app and the ``huacaya-convert`` command call the same functions.
"""

from conversion import openmp as _openmp

_openmp.configure()  # before anything loads llama.cpp (see conversion/openmp.py)
