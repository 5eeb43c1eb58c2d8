"""Real-time events: queues, shards and the router that feeds them (no database here)."""
