"""The read-only web dashboard the daemon serves under /ui/: a snapshot of each sync, the pages
(server-rendered HTML), and the bearer-token check of the HTTP endpoints."""
