"""Outbound webhooks: endpoints that subscribe to revops events, signed deliveries, retries and replays."""
