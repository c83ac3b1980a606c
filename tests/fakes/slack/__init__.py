"""A strict, stateful local fake of the Slack Web API, plus signed-request builders.

The fake is the far end of the wire for the REAL ``slack_sdk.web.async_client.AsyncWebClient`` and
``slack_bolt.async_app.AsyncApp``:

    async with FakeSlack() as fake:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
        app = AsyncApp(client=client, signing_secret=SECRET)
        req = signed_request(slash_command_body("/imagine", "a cat", fake=fake), FORM, secret=SECRET)
        resp = await app.async_dispatch(req)
        await fake.wait_for(lambda: fake.messages("C0CHAN"))

It serves, on 127.0.0.1 with an ephemeral port:

* ``/api/<method>``: the Web API methods the bot uses. Arguments are merged from the query string, a
  form-encoded or multipart body and a JSON body (slack-sdk sends ``chat.*``/``views.*`` as JSON and
  ``files.*`` as query params). A bot token is required (``Authorization: Bearer`` or a ``token``
  body param), and scopes are checked.
* ``/upload/<id>``: the upload URL handed out by ``files.getUploadURLExternal`` (raw bytes or
  multipart, no auth, like ``files.slack.com/upload/v1``).
* ``/files-pri/<team>-<file_id>/<name>`` and ``.../download/<name>``: file downloads. Without a valid
  bot token carrying ``files:read`` they answer an HTML login page with status 200, as Slack does.
* ``/response/<id>``: ``response_url`` endpoints minted by :meth:`FakeSlack.response_url`.
* ``/link/?ticket=...``: the Socket Mode WebSocket handed out by ``apps.connections.open`` (which
  takes the app-level token). It says ``hello``, sends what :meth:`FakeSlack.send_envelope` is given
  and records every acknowledgement in ``fake.acks``.

It is strict: an unknown method or route answers ``unknown_method``, is recorded in
``fake.unexpected`` and makes ``__aexit__`` (and any pending :meth:`FakeSlack.wait_for`) fail.
Block Kit payloads and modal views are validated against Slack's documented limits.

The package, by job: ``state`` (the FakeSlack class: state, lifecycle, scripting, waiting),
``rest`` and ``methods`` (the Web API), ``files`` (uploads, downloads, response_url),
``socket_mode`` (the Socket Mode WebSocket), ``validators`` (Block Kit and views), ``payloads``
(signed requests and what Slack sends an app), ``constants`` and ``records``.
"""

from .constants import (
    DEFAULT_APP_ID,
    DEFAULT_BOT_ID,
    DEFAULT_BOT_USER_ID,
    DEFAULT_CHANNEL_ID,
    DEFAULT_SCOPES,
    DEFAULT_TEAM_ID,
    DEFAULT_USER_ID,
    FORM,
    JSON,
    new_trigger_id,
    new_ts,
)
from .payloads import (
    app_mention_event,
    block_actions_body,
    event_body,
    message_event,
    signed_request,
    slash_command_body,
    url_verification_body,
    view_submission_body,
)
from .records import Call
from .state import FakeSlack
from .validators import validate_blocks, validate_view

__all__ = [
    "DEFAULT_APP_ID",
    "DEFAULT_BOT_ID",
    "DEFAULT_BOT_USER_ID",
    "DEFAULT_CHANNEL_ID",
    "DEFAULT_SCOPES",
    "DEFAULT_TEAM_ID",
    "DEFAULT_USER_ID",
    "FORM",
    "JSON",
    "Call",
    "FakeSlack",
    "app_mention_event",
    "block_actions_body",
    "event_body",
    "message_event",
    "new_trigger_id",
    "new_ts",
    "signed_request",
    "slash_command_body",
    "url_verification_body",
    "validate_blocks",
    "validate_view",
    "view_submission_body",
]
