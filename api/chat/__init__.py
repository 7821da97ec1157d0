"""OpenAI-compatible chat completions over research jobs, for clients that speak OpenAI's API."""
