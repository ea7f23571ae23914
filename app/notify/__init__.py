"""Notifications to people: DingTalk, WeCom and Feishu robots, email and Standard Webhooks,
with routing, digests, escalation and one-click acknowledge (docs/modules/notifications.md)."""
