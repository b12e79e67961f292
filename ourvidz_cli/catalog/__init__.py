"""The catalog (models.toml) as data: schema.py (frozen dataclasses), load.py (reading and validating,
overlays), job.py (the typed JobConfig a job runs from), resolve.py (a job type plus overrides into a
JobSpec), jobfile.py (batches from JSONL or CSV). Nothing here imports a model library."""
