"""The LangGraph turn graph and its nodes, and the runtime every entry point uses for a turn."""
