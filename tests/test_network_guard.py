"""The suite itself keeps to loopback (see the `_loopback_only` fixture)."""

from __future__ import annotations


def test_tests_cannot_reach_an_outside_address() -> None:
    import socket

    import pytest

    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe,
        pytest.raises(ConnectionRefusedError, match="loopback only"),
    ):
        probe.connect(("192.0.2.1", 443))  # TEST-NET-1: never routed anywhere
