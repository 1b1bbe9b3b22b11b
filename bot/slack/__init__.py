"""Slack plumbing: text safety (`text`) and the Web API client (`client`)."""
