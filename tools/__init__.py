"""Actions a turn may take: bookings, policy, quotes, FAQ lookup, escalations, messaging."""
