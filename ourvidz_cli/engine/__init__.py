"""Running jobs: the runner, the model manager and its memory budget, devices, and the model families.

Only code under engine/ imports torch, diffusers or transformers, and only inside the functions that
run a model.
"""
