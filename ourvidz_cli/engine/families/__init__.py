"""Model families: one module per kind of model (sdxl, wan, qwen), the protocol they share (base.py) and
the registry that maps a catalog `kind` to its family (registry.py)."""
