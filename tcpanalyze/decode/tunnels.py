"""Tunnel kinds, the UDP ports that carry them, and the names of tunnel chains.

The decoder follows a packet through every tunnel it knows (``kernels.decode_ip``) and
writes per record the ``tunnel_chain``: one 4-bit kind per layer, outermost in the highest
nibble used (``chain_name`` spells it: ``"gre>vxlan"``). Zero means no tunnel.

UDP tunnels are found by port, as Wireshark finds them; the standard ports are set here and
another port can carry a kind where a deployment uses one::

    from tcpanalyze.decode import tunnels
    tunnels.set_udp_port(8472, "vxlan")    # Linux's old VXLAN port
    tunnels.set_udp_port(4789, None)       # stop reading 4789 as VXLAN

The table is read by every decoder made after the change (in this process).
"""

from __future__ import annotations

import numpy as np

# Tunnel kinds: one nibble each in ``tunnel_chain`` (0: no tunnel).
IPIP = 1  # IPv4 in IPv4
SIX_IN_FOUR = 2  # IPv6 in IPv4 (6in4, sit)
FOUR_IN_SIX = 3  # IPv4 in IPv6
SIX_IN_SIX = 4  # IPv6 in IPv6 (ip6tnl)
GRE = 5  # GRE (RFC 2784/2890) and PPTP's enhanced GRE
ERSPAN = 6  # ERSPAN types I, II and III (in GRE)
VXLAN = 7
VXLAN_GPE = 8
GENEVE = 9
GTP_U = 10
TEREDO = 11
AYIYA = 12
MPLS_UDP = 13  # MPLS in UDP (RFC 7510)

KIND_NAMES = {IPIP: "ipip", SIX_IN_FOUR: "6in4", FOUR_IN_SIX: "4in6", SIX_IN_SIX: "6in6", GRE: "gre",
              ERSPAN: "erspan", VXLAN: "vxlan", VXLAN_GPE: "vxlan-gpe", GENEVE: "geneve", GTP_U: "gtp-u",
              TEREDO: "teredo", AYIYA: "ayiya", MPLS_UDP: "mpls-udp"}
KINDS_BY_NAME = {name: kind for kind, name in KIND_NAMES.items()}
UDP_KINDS = (VXLAN, VXLAN_GPE, GENEVE, GTP_U, TEREDO, AYIYA, MPLS_UDP)

# Tunnels a record may nest: one nibble per layer in the 32-bit chain.
MAX_TUNNEL_LAYERS = 8
CHAIN_BITS = 4

# IANA-assigned ports, the ones Wireshark 4.0 dissects without "decode as".
DEFAULT_UDP_PORTS = {4789: VXLAN, 4790: VXLAN_GPE, 6081: GENEVE, 2152: GTP_U, 3544: TEREDO, 5072: AYIYA,
                     6635: MPLS_UDP}


def default_udp_ports() -> np.ndarray:
    """UDP port -> tunnel kind (0: none), 65536 entries, with the standard ports."""
    table = np.zeros(1 << 16, np.uint8)
    table[list(DEFAULT_UDP_PORTS)] = list(DEFAULT_UDP_PORTS.values())
    return table


# The port table decoders pass to the kernel (``set_udp_port`` changes it).
udp_ports = default_udp_ports()


def set_udp_port(port: int, kind: str | None) -> None:
    """Read UDP ``port`` as the tunnel ``kind`` (a name of ``UDP_KINDS``: "vxlan", "geneve", ...),
    or as no tunnel with ``None``. Either end's port selects the tunnel, the lower one first."""
    if not 0 < port < 1 << 16:
        raise ValueError(f"not a UDP port: {port}")
    if kind is None:
        udp_ports[port] = 0
        return
    code = KINDS_BY_NAME.get(kind)
    if code not in UDP_KINDS:
        raise ValueError(f"not a UDP tunnel: {kind!r} (one of {', '.join(KIND_NAMES[k] for k in UDP_KINDS)})")
    udp_ports[port] = code


def reset_udp_ports() -> None:
    """Back to the standard ports only."""
    udp_ports[:] = default_udp_ports()


def chain_kinds(chain: int) -> list[int]:
    """The kinds of a ``tunnel_chain`` code, outermost first."""
    kinds = []
    while chain:
        kinds.append(chain & ((1 << CHAIN_BITS) - 1))
        chain >>= CHAIN_BITS
    return kinds[::-1]


def chain_name(chain: int) -> str:
    """``tunnel_chain`` as text, outermost first: ``"gre>vxlan"``; ``""`` for no tunnel."""
    return ">".join(KIND_NAMES.get(kind, f"kind_{kind}") for kind in chain_kinds(int(chain)))


def count_by_chain(chains: np.ndarray) -> dict[str, int]:
    """How many of ``chains`` (tunnel_chain values) come through each chain; untunnelled left out."""
    codes, counts = np.unique(chains[chains != 0], return_counts=True)
    return {chain_name(int(code)): int(n) for code, n in zip(codes, counts)}
