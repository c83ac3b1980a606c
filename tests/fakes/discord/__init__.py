"""A strict, stateful local fake of Discord (REST API v10, CDN and a minimal gateway) for hermetic tests.

The fake speaks to the *real* discord.py client. It keeps channels, threads, messages (with the uploaded
bytes), application commands and interactions in memory, validates requests the way Discord does and
answers with Discord-shaped errors. Anything it does not know is a 404 recorded in ``fake.unexpected``;
leaving ``async with FakeDiscord()`` with unexpected calls fails the test.

Two ways to drive a client:

* ``connected_client(client, fake)``: ``login()`` over REST, then feed raw gateway payloads with
  ``feed(client, "INTERACTION_CREATE", fake.slash_interaction(...))`` (no websocket at all).
* ``running_client(client, fake)``: ``client.start()`` against the fake gateway websocket
  (HELLO / IDENTIFY / READY / GUILD_CREATE / heartbeats); then ``await fake.dispatch(event, payload)``.
  REST actions are echoed as gateway events (MESSAGE_CREATE, THREAD_CREATE...) like Discord does.

Payloads are built by the ``make_*`` / ``*_interaction`` / ``message_create`` methods and are shaped like
Discord's, including the keys discord.py indexes directly (``member.flags``, ``attachment_size_limit``,
full ``message`` with components on component interactions). See
``/work/shared/reference/platform-notes.md`` §1.7 for the traps this package works around.

The package, by job: ``state`` (the FakeDiscord class: state, lifecycle, waiting, faults),
``payloads`` and ``interactions`` (payload builders), ``rest`` and ``routes`` (the REST API),
``messages`` (message building and checks), ``gateway`` (the websocket), ``validators`` (request
validation), ``constants`` and ``records`` (limits, flags, records), ``client`` (pointing a real
discord.py client at the fake).
"""

from .client import connected_client, feed, patched_discord, running_client
from .constants import DEFAULT_FILE_SIZE_LIMIT
from .records import ApiError, Call, FakeInteraction, SnowflakeDict, UploadedFile
from .state import FakeDiscord

__all__ = [
    "DEFAULT_FILE_SIZE_LIMIT",
    "ApiError",
    "Call",
    "FakeDiscord",
    "FakeInteraction",
    "SnowflakeDict",
    "UploadedFile",
    "connected_client",
    "feed",
    "patched_discord",
    "running_client",
]
