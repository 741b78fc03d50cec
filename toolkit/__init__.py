"""Send transactional email from a pandas DataFrame through SES, Pinpoint or SMTP."""
