"""Real local stand-ins for the platforms listener talks to (HTTP servers on 127.0.0.1)."""
