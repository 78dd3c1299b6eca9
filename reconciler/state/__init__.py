"""What the daemon remembers between reconciles: sync history, conditions, events (SQLite).

Written by the daemon loop, read by `reconciler status|history` and the HTTP `/status` endpoint.
"""
