"""ORM models, one module per group of tables; importing this registers them all."""

from knowledge.models.base import Base
from knowledge.models.catalog import (
    AddonItem,
    BusinessRule,
    BusinessRuleVersion,
    FaqItem,
    SavedReply,
    SeasonalOffer,
)
from knowledge.models.conversations import (
    ApiUser,
    AutomatedReminder,
    CaseNote,
    ConsoleSession,
    Conversation,
    Escalation,
    InboundEmail,
    Message,
    TeamAlert,
    WebSession,
)
from knowledge.models.customers import (
    Booking,
    BookingHistory,
    Customer,
    CustomerAddress,
    CustomerSentiment,
    Feedback,
    Lead,
)

__all__ = [
    "AddonItem",
    "ApiUser",
    "AutomatedReminder",
    "Base",
    "Booking",
    "BookingHistory",
    "BusinessRule",
    "BusinessRuleVersion",
    "CaseNote",
    "ConsoleSession",
    "Conversation",
    "Customer",
    "CustomerAddress",
    "CustomerSentiment",
    "Escalation",
    "FaqItem",
    "Feedback",
    "InboundEmail",
    "Lead",
    "Message",
    "SavedReply",
    "SeasonalOffer",
    "TeamAlert",
    "WebSession",
]
