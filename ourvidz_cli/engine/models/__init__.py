"""Managing models: where a model's weights are and what they weigh, which models stay loaded under the
memory budget (residency, manager), devices and dtypes, and the offline smoke models. Nothing here runs
a job; engine.jobs does, through a handle on the manager."""
