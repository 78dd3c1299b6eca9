"""The daemon's HTTP face: health and readiness probes, /status, Prometheus /metrics and the push
webhook. Reads the state store; the daemon loop (runtime) owns and starts it.
"""
