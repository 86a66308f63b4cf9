"""Is a fine-tune any good? Alpaca's blind pairwise evaluation, Qt-free.

- ``items.py``: instruction sets (Alpaca JSON/JSONL, Self-Instruct user-oriented, plain lists);
- ``answer_files.py``: answer sets on disk (ours, or any file with a ``response`` per item);
- ``answering.py`` + ``answerers.py``: a model (or an OpenAI-compatible endpoint) answering a set,
  batched through the engine, cached, resumable, cancellable;
- ``votes.py``: a blind human comparison session, saved as votes are cast;
- ``judge.py`` + ``judging.py``: an automatic pairwise judge, in both orders;
- ``stats.py``: win rates, Wilson intervals, the length-controlled win rate.

Everything here takes ``progress`` and ``cancel`` where it runs long, and writes what the user
owns atomically or as append-only JSON Lines (``journal.py``) that survive a kill.
"""
