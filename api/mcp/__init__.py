"""Infrence as an MCP server: research tools over Streamable HTTP at `/mcp`, by API key."""
