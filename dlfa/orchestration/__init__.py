"""Running a study: the command line (``cli``), the stages in order (``pipeline``), each stage's
notebook run by papermill (``notebooks``), the runs on this machine, its GPUs or Slurm
(``executors``), the plan of a grid before it runs (``plan``) and the planted-effect controls
(``validation``)."""
