"""Transports: one module per provider API, behind the protocol in :mod:`.base`.

The list of transports, with what each calls and how its quota is found, is
:mod:`.registry`; :mod:`.classify` maps provider answers to verdicts; :mod:`.aws` is the
base the API transports share; :mod:`.memory` is an in-memory fake for tests.

Usage::

    from toolkit.transports.registry import make_transport
    transport = make_transport("ses", AwsTarget(region="eu-west-1"), workers=8)
"""
