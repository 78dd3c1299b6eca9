"""Scheduler: binds desired pods to hosts between controller expansion and planning; pure.

`placement.schedule(hosts, pods) -> result.Placement` is the entry point; `inputs` holds its own
input values (an adapter maps the manifest model onto them); `reference` is the slow, plain
implementation that tests and the benchmark compare it with.
"""
