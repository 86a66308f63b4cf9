"""Make your own: the data → train → compare → use loop of one project, Qt-free.

A project is a folder in the data folder (``studio/<slug>/``) holding everything of one
fine-tune: its ``project.json`` (name, base model, teacher), the records to train on
(``data.jsonl``), data generation's resumable run, training runs and their models. The window
(``desktop/ui/studio/``) only shows these and forwards what the person does; the work is done by
the same functions the commands use (``conversion.selfinstruct``, ``huacaya-train``,
``desktop.core.evaluation``, ``conversion.train.export``)."""
