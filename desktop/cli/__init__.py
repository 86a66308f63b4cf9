"""The ``huacaya`` command line: ``main.py`` parses and dispatches; each subcommand is a module
with ``NAME``, ``add_parser(commands)`` and ``run(args) -> int`` (chat, models, serve, docs),
listed in ``main.COMMANDS``. ``generate.py`` is the ``huacaya-generate-data`` entry point."""
