"""The LAN mesh: mDNS discovery, pairing, the peer registry, health checks, the peer TLS
listener's certificate. Daemon-side; the client reaches peers through ``loopsy.client``.
"""
