"""A task list API."""
