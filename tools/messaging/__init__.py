"""Channels the product speaks through: Twilio SMS and WhatsApp, web chat, team alerts."""
