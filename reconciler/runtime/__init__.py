"""The daemon: reconcile loop, sources of revisions, signals, systemd notification."""
