"""Huacaya: a private, offline, Alpaca-style assistant on your own computer."""

__version__ = "0.1.0"
APP_NAME = "Huacaya"
APP_ID = "org.huacaya.Huacaya"
