"""Prompts: Qwen enhancement (cache, cleaning, token budgets) and storyboards."""
