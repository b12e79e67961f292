"""Supabase: the thin httpx client and the syncer that pushes finished jobs."""
