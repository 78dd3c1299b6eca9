"""The pure middle of a reconcile: desired objects and observed hosts in, a `Plan` out, no I/O.

`pipeline.build_plan()` is the entry point the CLI's `diff` and the daemon share. It runs
`expand` (Deployments to pods), `resolve` (env, files, mounts), `binding` (the scheduler, sticky),
`podrun` (labels and spec hash) and `diff` (create / replace / delete). `render` and `export`
turn the result into `kubectl diff`-like text and JSON, secret values redacted.
"""
