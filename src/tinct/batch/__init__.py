"""Folder runs (``tinct colorize`` on many files): the plan and the per-file work
(:mod:`.jobs`), the pipelined local run and ``--jobs N`` worker processes (:mod:`.local`), and the
same run on a Ray cluster (:mod:`.cluster`)."""
