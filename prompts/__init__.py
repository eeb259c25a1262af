"""Message templates per message kind and tone, and the LLM system prompt, as files."""
