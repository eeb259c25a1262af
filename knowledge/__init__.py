"""The database: models, engine and sessions, migrations, seed data and the KnowledgeService.

Everything the business edits (policies, prices, add-ons, FAQs, offers) and everything the
product records (customers, bookings, conversations, messages, escalations) lives here.
This package imports nothing else of ours.
"""
