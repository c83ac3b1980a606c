"""Naming Slack Web API failures for logs and messages (never with tokens or bodies)."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError


def slack_error(error: SlackApiError) -> str:
    """Slack's error code ("not_in_channel"), or the HTTP status when the answer was not JSON
    (a proxy's error page, a 405 from something that is not Slack)."""
    data = getattr(error.response, "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    status = getattr(error.response, "status_code", None)
    return f"HTTP {status}" if status else "error"
