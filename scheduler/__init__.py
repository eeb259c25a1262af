"""Plans each booking's proactive touchpoints, stores them durably, and runs them as turns."""
