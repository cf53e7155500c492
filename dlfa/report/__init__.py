"""What a reader sees of a study: its HTML report (``page``, with its tables in ``sections``)."""
