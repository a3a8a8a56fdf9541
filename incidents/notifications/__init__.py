"""Notification channels: one small module per transport behind `base.Channel`, looked up by kind."""
