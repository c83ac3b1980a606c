"""Payload builders for interactions (slash and context-menu commands, components, modals) and the
permission helpers they and the REST routes share."""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .constants import BOT_PERMISSIONS, EVERYONE_PERMISSIONS, INTERACTIVE_TYPES, P_ADMINISTRATOR, SELECT_TYPES
from .records import ApiError, FakeInteraction, _find_component
from .validators import _infer_option_type, _option_spec, _without


class InteractionBuilders:
    """Mixin of FakeDiscord: INTERACTION_CREATE payloads and permission checks."""

    def slash_interaction(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: Mapping[str, Any] | None = None,
        channel: Mapping[str, Any] | object = None,
        guild_id: object = None,
        locale: str = "en-US",
        attachment_size_limit: int | None = None,
    ) -> dict[str, Any]:
        """INTERACTION_CREATE payload (type 2) for the chat-input command ``name``.

        ``name`` may contain subcommands ("image edit"). ``options`` maps option names to values: str, int,
        float, bool, an attachment dict from ``add_attachment`` (goes to ``resolved.attachments``), a user
        dict, a channel dict or a role dict. When the command was synced to the fake, option types and the
        command id come from it, unknown or missing required options raise ``ValueError``.
        """
        base = self._interaction_base(2, user, channel, guild_id, locale, attachment_size_limit)
        root, *subs = name.split()
        command = self._find_command(root, base.get("guild_id"), 1)
        resolved: dict[str, dict[str, Any]] = {}
        spec_options = command.get("options", []) if command else None
        opts: list[dict[str, Any]] = []
        container = opts
        for sub in subs:
            spec = _option_spec(spec_options, sub) if spec_options is not None else None
            if spec_options is not None and (spec is None or spec["type"] not in (1, 2)):
                raise ValueError(f"{name!r}: {sub!r} is not a subcommand")
            node = {
                "name": sub,
                "type": spec["type"] if spec else (1 if sub == subs[-1] else 2),
                "options": [],
            }
            container.append(node)
            container = node["options"]
            spec_options = spec.get("options", []) if spec else None
        container.extend(
            self._encode_options(name, options or {}, spec_options, resolved, base.get("guild_id"))
        )
        data: dict[str, Any] = {"id": command["id"] if command else self.snowflake(), "name": root, "type": 1}
        if opts:
            data["options"] = opts
        if resolved:
            data["resolved"] = resolved
        if command and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        base["data"] = data
        return self._register_interaction(base)

    def context_menu_interaction(
        self,
        name: str,
        target: Mapping[str, Any],
        *,
        user: Mapping[str, Any] | None = None,
        channel: Mapping[str, Any] | object = None,
        guild_id: object = None,
    ) -> dict[str, Any]:
        """INTERACTION_CREATE (type 2) for a message (target = message dict) or user context-menu command."""
        base = self._interaction_base(2, user, channel, guild_id, "en-US", None)
        is_message = "channel_id" in target and "author" in target
        ctype = 3 if is_message else 2
        command = self._find_command(name, base.get("guild_id"), ctype)
        resolved: dict[str, Any]
        if is_message:
            resolved = {"messages": {target["id"]: copy.deepcopy(dict(target))}}
        else:
            resolved = {"users": {target["id"]: dict(target)}}
            gid = base.get("guild_id")
            if gid and target["id"] in self.members[gid]:
                member = _without(self.members[gid][target["id"]], "user")
                resolved["members"] = {target["id"]: {**member, "permissions": str(EVERYONE_PERMISSIONS)}}
        data = {
            "id": command["id"] if command else self.snowflake(),
            "name": name,
            "type": ctype,
            "target_id": target["id"],
            "resolved": resolved,
        }
        if command and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        base["data"] = data
        return self._register_interaction(base)

    def component_interaction(
        self,
        message: Mapping[str, Any] | object,
        custom_id: str,
        user: Mapping[str, Any] | None = None,
        *,
        values: Sequence[str] | None = None,
        component_type: int | None = None,
        strict: bool = True,
    ) -> dict[str, Any]:
        """INTERACTION_CREATE (type 3): ``user`` clicked ``custom_id`` on ``message`` (dict or stored id).

        The payload carries the full message with its components (discord.py rebuilds DynamicItems from
        it). ``strict=False`` allows a custom_id the message does not have (to show it is dropped).
        """
        msg = copy.deepcopy(dict(message)) if isinstance(message, Mapping) else self.message(message)
        comp = _find_component(msg.get("components", []), custom_id)
        if comp is None and strict:
            raise ValueError(f"message {msg['id']} has no component with custom_id {custom_id!r}")
        if strict and comp is not None and component_type not in (None, comp["type"]):
            raise ValueError(f"{custom_id!r} is a type {comp['type']} component, not {component_type}")
        ctype = component_type or (comp["type"] if comp else 2)
        if strict and comp is not None and ctype in SELECT_TYPES:
            picked = list(values or [])
            if not comp.get("min_values", 1) <= len(picked) <= comp.get("max_values", 1):
                raise ValueError(f"{len(picked)} values for {custom_id!r} is outside min_values/max_values")
            options = {o["value"] for o in comp.get("options", [])}
            if ctype == 3 and set(picked) - options:
                raise ValueError(f"{sorted(set(picked) - options)} are not options of {custom_id!r}")
        if ctype not in INTERACTIVE_TYPES - {4, 19}:
            raise ValueError(f"component {custom_id!r} of type {ctype} cannot be clicked")
        channel = self.channels.get(msg["channel_id"]) or {"id": msg["channel_id"], "type": 0}
        base = self._interaction_base(3, user, channel, channel.get("guild_id"), "en-US", None)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if comp is not None and "id" in comp:
            data["id"] = comp["id"]
        if ctype in SELECT_TYPES:
            data["values"] = [str(v) for v in (values or [])]
            if ctype != 3 and values:
                data["resolved"] = self._resolve_ids(values, base.get("guild_id"))
        elif values is not None:
            raise ValueError("values only apply to select menus")
        base["data"] = data
        base["message"] = msg
        return self._register_interaction(base, message_id=msg["id"])

    def modal_submit(
        self,
        custom_id: str,
        values: Mapping[str, Any],
        *,
        message: Mapping[str, Any] | object = None,
        user: Mapping[str, Any] | None = None,
        channel: Mapping[str, Any] | object = None,
        guild_id: object = None,
    ) -> dict[str, Any]:
        """INTERACTION_CREATE (type 5): submit modal ``custom_id`` with ``values`` (component custom_id ->
        str for text inputs, list of str for selects, list of attachment dicts for file uploads).

        If the bot opened that modal through the fake, the submit mirrors its layout (action rows or
        labels), defaults to its channel/message/user, and unknown or missing required fields raise.
        """
        opened = self.modals.get(custom_id)
        source = self.interactions.get(opened["interaction_id"]) if opened else None
        if source is not None:
            user = user or source.user
            channel = channel if channel is not None else source.channel_id
            if message is None and source.message_id is not None:
                message = source.message_id
        if message is not None and not isinstance(message, Mapping):
            message = self.message(message)
        if channel is None and isinstance(message, Mapping):
            channel = message["channel_id"]
        base = self._interaction_base(5, user, channel, guild_id, "en-US", None)
        resolved: dict[str, Any] = {}
        remaining = dict(values)
        if opened:
            components = [
                self._submit_component(c, remaining, resolved) for c in opened["modal"]["components"]
            ]
            if remaining:
                raise ValueError(f"modal {custom_id!r} has no inputs {sorted(remaining)}")
        else:
            components = [
                {"type": 1, "components": [{"type": 4, "custom_id": k, "value": str(v)}]}
                for k, v in values.items()
            ]
        data: dict[str, Any] = {"custom_id": custom_id, "components": components}
        if resolved:
            data["resolved"] = resolved
        base["data"] = data
        if isinstance(message, Mapping):
            base["message"] = copy.deepcopy(dict(message))
        return self._register_interaction(
            base, message_id=message["id"] if isinstance(message, Mapping) else None
        )

    def _submit_component(
        self, comp: dict[str, Any], values: dict[str, Any], resolved: dict
    ) -> dict[str, Any]:
        ctype = comp["type"]
        if ctype == 1:
            return {
                "type": 1,
                "id": comp.get("id"),
                "components": [self._submit_component(c, values, resolved) for c in comp["components"]],
            }
        if ctype == 18:
            return {
                "type": 18,
                "id": comp.get("id"),
                "component": self._submit_component(comp["component"], values, resolved),
            }
        if ctype == 10:
            return {"type": 10, "id": comp.get("id")}
        cid = comp["custom_id"]
        out: dict[str, Any] = {"type": ctype, "id": comp.get("id"), "custom_id": cid}
        if ctype == 4:
            if cid not in values and comp.get("required", True):
                raise ValueError(f"required text input {cid!r} missing from modal submit")
            out["value"] = str(values.pop(cid, ""))
        elif ctype == 19:
            atts = list(values.pop(cid, []))
            out["values"] = [a["id"] for a in atts]
            resolved.setdefault("attachments", {}).update({a["id"]: dict(a) for a in atts})
        else:
            out["values"] = [str(v) for v in values.pop(cid, [])]
        return out

    def _interaction_base(
        self,
        itype: int,
        user: Mapping[str, Any] | None,
        channel: Mapping[str, Any] | object,
        guild_id: object,
        locale: str,
        attachment_size_limit: int | None,
    ) -> dict[str, Any]:
        user = dict(user or self.default_user)
        if channel is None:
            channel = self._default_channel(guild_id)
        chan = copy.deepcopy(self.channels.get(channel["id"] if isinstance(channel, Mapping) else channel))
        if chan is None:
            raise ValueError(f"unknown channel {channel!r}")
        gid = chan.get("guild_id") or (str(guild_id) if guild_id is not None else None)
        iid = self.snowflake()
        payload: dict[str, Any] = {
            "id": iid,
            "application_id": self.application_id,
            "type": itype,
            "token": f"itok_{iid}_{secrets.token_hex(8)}",
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": attachment_size_limit or self._attachment_limit(gid),
            "channel_id": chan["id"],
            "channel": chan,
        }
        if gid is not None:
            members = self.members[gid]
            if user["id"] not in members:
                self.make_member(gid, user)
            perms = self._permissions(gid, user["id"])
            bot_perms = self._permissions(gid, self.application_id)
            chan["permissions"] = str(perms)
            payload.update(
                {
                    "guild_id": gid,
                    "guild": {"id": gid, "locale": self.guilds[gid]["preferred_locale"], "features": []},
                    "guild_locale": self.guilds[gid]["preferred_locale"],
                    "member": {**copy.deepcopy(members[user["id"]]), "permissions": str(perms)},
                    "app_permissions": str(bot_perms),
                    "authorizing_integration_owners": {"0": gid},
                    "context": 0,
                }
            )
        else:
            payload.update(
                {
                    "user": user,
                    "app_permissions": str(BOT_PERMISSIONS),
                    "authorizing_integration_owners": {"0": "0"},
                    "context": 1,
                }
            )
        return payload

    def _default_channel(self, guild_id: object) -> str:
        if guild_id is None:
            if len(self.guilds) != 1:
                raise ValueError("pass channel= (or guild_id=) when the fake has no or several guilds")
            guild_id = next(iter(self.guilds))
        for ch in self.channels.values():
            if ch.get("guild_id") == str(guild_id) and ch["type"] == 0:
                return ch["id"]
        raise ValueError(f"guild {guild_id} has no text channel")

    def _register_interaction(self, payload: dict[str, Any], *, message_id: str | None = None) -> dict:
        user = payload["member"]["user"] if "member" in payload else payload["user"]
        record = FakeInteraction(
            id=payload["id"],
            token=payload["token"],
            type=payload["type"],
            payload=copy.deepcopy(payload),
            channel_id=payload["channel_id"],
            guild_id=payload.get("guild_id"),
            user=dict(user),
            created=time.monotonic(),
            message_id=message_id,
        )
        self.interactions[record.id] = record
        return payload

    def _find_command(self, name: str, guild_id: str | None, ctype: int) -> dict[str, Any] | None:
        for scope in ([guild_id] if guild_id else []) + [None]:
            for cmd in self.commands.get(scope, []):
                if cmd["name"] == name and cmd.get("type", 1) == ctype:
                    return cmd
        return None

    def _encode_options(
        self,
        command: str,
        values: Mapping[str, Any],
        specs: list[dict[str, Any]] | None,
        resolved: dict[str, dict[str, Any]],
        guild_id: str | None,
    ) -> list[dict[str, Any]]:
        out = []
        if specs is not None:
            missing = [s["name"] for s in specs if s.get("required") and s["name"] not in values]
            if missing:
                raise ValueError(f"/{command}: required options missing: {missing}")
        for key, value in values.items():
            if specs is not None:
                spec = _option_spec(specs, key)
                if spec is None or spec["type"] in (1, 2):
                    raise ValueError(f"/{command} has no option {key!r}")
                otype = spec["type"]
                choices = [c["value"] for c in spec.get("choices") or []]
                if choices and value not in choices:
                    raise ValueError(f"/{command} {key}={value!r} is not one of the choices {choices}")
            else:
                otype = _infer_option_type(value)
            out.append(
                {"name": key, "type": otype, "value": self._encode_value(otype, value, resolved, guild_id)}
            )
        return out

    def _encode_value(
        self, otype: int, value: Any, resolved: dict[str, dict[str, Any]], guild_id: str | None
    ):
        if otype in (3, 4, 5, 10):
            return value
        if otype == 11:
            if not isinstance(value, Mapping) or value["id"] not in self.files:
                raise ValueError("attachment options take a dict returned by fake.add_attachment()")
            resolved.setdefault("attachments", {})[value["id"]] = {**value, "ephemeral": True}
            return value["id"]
        oid = str(value["id"] if isinstance(value, Mapping) else value)
        resolved_part = self._resolve_ids([oid], guild_id)
        if not resolved_part:
            raise ValueError(f"cannot resolve option value {value!r}")
        for k, v in resolved_part.items():
            resolved.setdefault(k, {}).update(v)
        return oid

    def _resolve_ids(self, ids: Iterable[object], guild_id: str | None) -> dict[str, dict[str, Any]]:
        resolved: dict[str, dict[str, Any]] = {}
        roles = {r["id"]: r for r in self.guilds[guild_id]["roles"]} if guild_id else {}
        for raw in ids:
            oid = str(raw)
            if oid in self.users:
                resolved.setdefault("users", {})[oid] = copy.deepcopy(self.users[oid])
                if guild_id and oid in self.members[guild_id]:
                    member = _without(self.members[guild_id][oid], "user")
                    member["permissions"] = str(self._permissions(guild_id, oid))
                    resolved.setdefault("members", {})[oid] = member
            elif oid in roles:
                resolved.setdefault("roles", {})[oid] = copy.deepcopy(roles[oid])
            elif oid in self.channels:
                ch = self.channels[oid]
                part = {k: ch[k] for k in ("id", "name", "type", "parent_id", "thread_metadata") if k in ch}
                part["permissions"] = str(BOT_PERMISSIONS)
                resolved.setdefault("channels", {})[oid] = part
        return resolved

    # ------------------------------------------------------------------ permissions helpers

    def _permissions(self, guild_id: str, user_id: str) -> int:
        guild = self.guilds[guild_id]
        if guild["owner_id"] == str(user_id):
            return (1 << 51) - 1
        member = self.members[guild_id].get(user_id)
        roles = {r["id"]: int(r["permissions"]) for r in guild["roles"]}
        perms = roles[guild_id]
        for rid in member["roles"] if member else []:
            perms |= roles.get(rid, 0)
        if perms & P_ADMINISTRATOR:
            return (1 << 51) - 1
        return perms

    def _attachment_limit(self, guild_id: str | None) -> int:
        tier = self.guilds[guild_id]["premium_tier"] if guild_id else 0
        return max(self.file_size_limit, {2: 50 * 1024 * 1024, 3: 100 * 1024 * 1024}.get(tier, 0))

    def _require(self, channel: dict[str, Any], needed: int) -> None:
        gid = channel.get("guild_id")
        if gid is None:
            return
        have = self._permissions(gid, self.application_id)
        if have & needed != needed:
            raise ApiError(403, 50013, "Missing Permissions")
