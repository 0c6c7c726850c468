"""Browser helpers shared by the browser tests."""

from __future__ import annotations


def login(page, hub, demo_name: str) -> None:
    """Log in through the hub's login page as the account standing for ``demo_name``."""
    name = hub.names[demo_name]
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", hub.passwords[name])
    page.click("#login_submit")
