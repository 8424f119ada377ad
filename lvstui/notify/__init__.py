"""Notifications: SMTP alerts and notify / quorum scripts."""
