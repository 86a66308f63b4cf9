"""Huacaya: a private, offline, Alpaca-style assistant on your own computer."""

import conversion as _conversion  # noqa: F401  sets how llama.cpp's threads wait (conversion/openmp.py)

__version__ = "0.1.0"
APP_NAME = "Huacaya"
APP_ID = "org.huacaya.Huacaya"
