"""The fake gateway websocket (HELLO / IDENTIFY / READY / heartbeats) and dispatching events to
connected sessions, including the echo of REST actions."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import WSMsgType, web

from .constants import FLAG_EPHEMERAL, I_GUILDS, PRIVILEGED_INTENTS
from .records import _GatewaySession
from .validators import _visible_to


class Gateway:
    """Mixin of FakeDiscord: the gateway websocket and event dispatch."""

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        session = _GatewaySession(ws=ws, session_id=secrets.token_hex(16))
        self.gateway_sessions.append(session)
        try:
            await self._ws_send(session, {"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    break
                msg = json.loads(frame.data)
                session.received.append(msg)
                await self._gateway_op(session, msg)
                await self.notify()
        finally:
            self.gateway_sessions.remove(session)
            await self.notify()
        return ws

    async def _gateway_op(self, session: _GatewaySession, msg: dict[str, Any]) -> None:
        op, data = msg.get("op"), msg.get("d")
        if op == 1:
            await self._ws_send(session, {"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            if data.get("token") not in (self.token, f"Bot {self.token}"):
                await session.ws.close(code=4004, message=b"Authentication failed.")
                return
            session.intents = int(data.get("intents", 0))
            if session.intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
                # What Discord does when the portal has not enabled a requested privileged intent.
                await session.ws.close(code=4014, message=b"Disallowed intent(s).")
                return
            session.identified = True
            ready = {
                "v": 10,
                "user": self.bot_user,
                "guilds": [{"id": gid, "unavailable": True} for gid in self.guilds],
                "session_id": session.session_id,
                "session_type": "normal",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": self.application_id, "flags": (1 << 19) | (1 << 23)},
                "private_channels": [],
                "presences": [],
                "relationships": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "user_settings": {},
                "auth": {},
                "_trace": ["fake-discord"],
            }
            if data.get("shard"):
                ready["shard"] = data["shard"]
            await self._dispatch_to(session, "READY", ready)
            if session.intents & I_GUILDS:
                for gid in list(self.guilds):
                    await self._dispatch_to(session, "GUILD_CREATE", self.guild_create(gid))
        elif op == 6:
            session.identified = True
            await self._dispatch_to(session, "RESUMED", {"_trace": ["fake-discord"]})
        elif op == 8:
            gid = str(data.get("guild_id"))
            if gid in self.guilds:
                chunk = {
                    "guild_id": gid,
                    "members": list(self.members[gid].values()),
                    "chunk_index": 0,
                    "chunk_count": 1,
                    "not_found": [],
                }
                if data.get("nonce"):
                    chunk["nonce"] = data["nonce"]
                await self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", chunk)
        # op 3 (presence) and op 4 (voice state) are only recorded in session.received

    async def _ws_send(self, session: _GatewaySession, frame: dict[str, Any]) -> None:
        session.sent.append(frame)
        if not session.ws.closed:
            await session.ws.send_str(json.dumps(frame))

    async def _dispatch_to(self, session: _GatewaySession, event: str, payload: dict[str, Any]) -> None:
        session.seq += 1
        await self._ws_send(session, {"op": 0, "t": event, "s": session.seq, "d": payload})

    async def dispatch(self, event: str, payload: Mapping[str, Any]) -> int:
        """Send a gateway event to every identified session (filtered by intents, content redacted as
        Discord does without MESSAGE_CONTENT). Returns the number of sessions it was sent to."""
        sent = 0
        for session in list(self.gateway_sessions):
            if not session.identified:
                continue
            visible = _visible_to(session.intents, event, dict(payload), self.application_id)
            if visible is not None:
                await self._dispatch_to(session, event, visible)
                sent += 1
        await self.notify()
        return sent

    async def _echo(self, event: str, payload: dict[str, Any]) -> None:
        if self.echo_events and self.gateway_sessions:
            await self.dispatch(event, payload)

    async def _echo_create(self, message: dict[str, Any]) -> None:
        if not message["flags"] & FLAG_EPHEMERAL:
            channel = self.channels.get(message["channel_id"]) or {}
            await self._echo("MESSAGE_CREATE", self._gateway_message(message, channel.get("guild_id")))

    async def _echo_update(self, message: dict[str, Any]) -> None:
        if not message["flags"] & FLAG_EPHEMERAL:
            channel = self.channels.get(message["channel_id"]) or {}
            await self._echo("MESSAGE_UPDATE", self._gateway_message(message, channel.get("guild_id")))
