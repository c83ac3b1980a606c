"""Socket Mode: the WebSocket handed out by apps.connections.open, envelopes sent to the app and the
acknowledgements it sends back."""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import WSMsgType, web


class SocketMode:
    """Mixin of FakeSlack: the Socket Mode WebSocket."""

    async def send_envelope(
        self,
        kind: str,
        payload: Mapping[str, Any] | str,
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Send a Socket Mode envelope (``slash_commands``, ``interactive`` or ``events_api``) over
        the newest open connection; returns its envelope id (pass one to send a redelivery).
        ``payload`` may be a form body (``slash_command_body``) or a JSON one (``event_body``)."""
        if not self.sockets:
            raise AssertionError("FakeSlack: no Socket Mode connection is open")
        if isinstance(payload, str):
            payload = (
                json.loads(payload) if payload.startswith("{") else dict(urllib.parse.parse_qsl(payload))
            )
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id or str(uuid.uuid4()),
            "payload": dict(payload),
            "type": kind,
            "accepts_response_payload": kind != "events_api",
        }
        if kind == "events_api":
            envelope |= {"retry_attempt": retry_attempt, "retry_reason": retry_reason}
        await self.sockets[-1].send_json(envelope)
        return str(envelope["envelope_id"])

    def acked(self, envelope_id: str) -> list[dict[str, Any]]:
        """The acknowledgements received for ``envelope_id`` (one per delivery acked)."""
        return [a for a in self.acks if a.get("envelope_id") == envelope_id]

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            self._unexpected(f"GET {request.path_qs} (Socket Mode ticket not issued or used already)")
            return web.json_response({"ok": False, "error": "invalid_ticket"}, status=401)
        self._tickets.discard(ticket)
        socket = web.WebSocketResponse()  # autoping: answers the client's pings as Slack does
        await socket.prepare(request)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self.sockets) + 1,
                "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        )
        self.sockets.append(socket)
        self._changed()
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(message.data)
                except ValueError:
                    data = None
                if not isinstance(data, dict) or not data.get("envelope_id"):
                    self._unexpected(f"Socket Mode message without an envelope_id: {message.data[:200]!r}")
                    continue
                self.acks.append(data)
                self._changed()
        finally:
            self.sockets.remove(socket)  # closed by either side, or the app's process died
            self._changed()
        return socket
