"""Self-instruct data generation: Stanford Alpaca's pipeline with a local or remote teacher.

``seeds`` reads the human-written seed tasks, ``prompt`` builds the teacher's prompt from three
of them, ``parse`` reads the numbered tasks back, ``filters`` drops what a text model cannot do,
``dedup`` drops near-duplicates by ROUGE-L, ``teachers`` talks to a GGUF model or an
OpenAI-compatible server, ``journal`` keeps what was generated so a run can be resumed, and
``runner`` ties them together. ``cli`` is the ``huacaya-generate-data`` command.
"""
