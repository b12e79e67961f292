"""Running a job: the runner and its queue loop, the prompt stage, the heartbeat, the output writer, the
out-of-memory retry, deterministic kernels, `queue plan` and `selftest`. Models come from engine.models;
what runs them is engine.families."""
