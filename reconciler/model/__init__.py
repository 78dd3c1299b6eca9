"""Typed desired-state objects: frozen dataclasses and enums, no I/O.

The manifest loader (`reconciler.manifests`) builds these from YAML; the scheduler, planner and
controllers consume them. Nothing in this package reads files or talks to hosts.
"""
