"""Training: one loop (``loop.train``) and the jobs that plug into it."""
