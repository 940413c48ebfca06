"""Support shared by every layer: argument validation, strict JSON, lazy exports, memory guards, threads."""
