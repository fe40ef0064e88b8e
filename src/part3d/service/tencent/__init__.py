"""Tencent Cloud API 3.0 protocol: signatures, envelopes, error codes (see shared/spec/API.md)."""
