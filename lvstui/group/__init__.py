"""The director group: the directors of one site hold the same operator intent.

clock.py (hybrid logical clock), store.py (the replicated overrides map and its merge),
sync.py (digests and anti-entropy), channel.py (mutual-TLS links between members),
agree.py (config / VRRP / table digests, drift and split brain). Everything but channel.py
is pure; channel.py is the only module that touches the network.
"""
