"""The web dashboard's view model and static assets (served by server/http.py)."""
