"""What guards the HTTP surface beyond each endpoint's own checks: response security headers,
request body limits and read timeouts, throttling of failed authentication, and the server's
connection limits (see README, "Security")."""
