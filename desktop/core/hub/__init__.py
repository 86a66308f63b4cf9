"""The Hugging Face Hub: search and metadata (``client``), resumable verified downloads
(``download``), and network calls a person can always stop (``transfer``)."""
