"""The fast AWS client: boto3 on the wire, at a fraction of its CPU per request."""
