"""Running a study: the command line (``cli``), the stages in order (``pipeline``), each stage's
notebook run by papermill (``notebooks``), the runs on this machine, its GPUs or Slurm
(``executors``), the plan of a grid before it runs (``plan``), the planted-effect controls
(``validation``: docs/validation.md), the real study's findings page (``findings``: docs/findings.md)
and a one-node Slurm for tests (``local_slurm``)."""
