"""The engine, in three parts: engine.jobs runs a job (runner, queue loop, writer, heartbeat, prompt stage),
engine.models manages models (where their weights are, what stays loaded under the memory budget, devices),
and engine.families holds each model family's loading and generation code (SDXL, Wan, Wan VACE, Qwen).

Only code under engine/ imports torch, diffusers or transformers, and only inside the functions that
run a model.
"""
