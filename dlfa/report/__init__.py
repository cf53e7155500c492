"""What a reader sees: the study's HTML report (``page``, with its tables in ``sections``) and the
real study's findings page (``findings``)."""
