"""Manifests: find the YAML files of a repository, parse them with positions, validate them
against the supported Kubernetes subset and build the typed desired state (`loader`).
"""
