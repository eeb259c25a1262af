"""Reading a customer's message: tone, intents and entities, without an LLM by default."""
