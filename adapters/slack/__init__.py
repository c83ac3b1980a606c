"""The Slack adapter (slack-bolt): /imagine, @mentions and thread replies as editing sessions."""

from adapters.slack.app import SlackAdapter, build_client
from adapters.slack.users import SlackUser, UserLookup

__all__ = ["SlackAdapter", "SlackUser", "UserLookup", "build_client"]
