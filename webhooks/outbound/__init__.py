"""Outbound merchant webhooks: events, endpoints, signed deliveries with retries.

The inbound side of this app (operator callbacks) lives in webhooks.services and friends;
this package is what the gateway sends to merchants.
"""
