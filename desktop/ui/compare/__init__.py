"""The Compare models window: a blind human comparison of two sides (installed models, or a
model against an answer file) over an instruction set.

``window.py`` holds the pages together; ``setup.py`` picks the sides and the set;
``voting.py`` shows each item blind and takes the votes; ``results.py`` reveals the names and
exports. Everything they do is ``desktop.core.evaluation``'s: answering (cached, resumable) is
``answer_set_for`` run as a background task, and the votes are a ``VoteSession``, saved as they
are cast and resumed when the same sides and set are picked again.
"""
