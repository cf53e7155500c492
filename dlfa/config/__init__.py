"""What a study is: its parameters (``params``: one typed, checked ``Params``), the tasks and languages
it can use (``tasks``), its grid of runs and the corpora they read (``grid``), each run's identity and
its record on disk (``identity``, ``runs``)."""
