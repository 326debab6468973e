#!/usr/bin/env python3
"""Adds Docker's Healthcheck to the config of an OCI image in a layout.

    oci-healthcheck.py LAYOUT TAG COMMAND...

The OCI image spec has no health check; Docker and Podman read
config.Healthcheck (Docker's image format) when present. The config blob
changes, so the manifest and index.json are rewritten with new digests.
"""
import hashlib
import json
import os
import sys

SECOND = 1_000_000_000  # Docker counts in nanoseconds


def blob_path(layout, digest):
    algorithm, hexdigest = digest.split(":")
    return os.path.join(layout, "blobs", algorithm, hexdigest)


def read_blob(layout, digest):
    with open(blob_path(layout, digest), "rb") as f:
        return json.load(f)


def write_blob(layout, value):
    data = json.dumps(value, separators=(",", ":")).encode()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(blob_path(layout, digest), "wb") as f:
        f.write(data)
    return digest, len(data)


def main():
    layout, tag, command = sys.argv[1], sys.argv[2], sys.argv[3:]
    index_path = os.path.join(layout, "index.json")
    with open(index_path) as f:
        index = json.load(f)
    entry = next(
        m for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    )
    manifest = read_blob(layout, entry["digest"])
    config = read_blob(layout, manifest["config"]["digest"])
    config.setdefault("config", {})["Healthcheck"] = {
        "Test": ["CMD"] + command,
        "Interval": 30 * SECOND,
        "Timeout": 10 * SECOND,
        "StartPeriod": 20 * SECOND,
        "Retries": 3,
    }
    manifest["config"]["digest"], manifest["config"]["size"] = write_blob(layout, config)
    entry["digest"], entry["size"] = write_blob(layout, manifest)
    with open(index_path, "w") as f:
        json.dump(index, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
