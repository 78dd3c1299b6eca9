"""Controllers: the reconcile steps that tie manifests, planner and executor together."""
