"""(routes arrive here)."""
