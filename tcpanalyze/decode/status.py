"""Where each record lands: one decode status per record, and the class it belongs to.

Every record gets exactly one status; the status decides its class (tcp, other_ip, non_ip,
malformed), so the class counts always add up to the records read.
"""

from __future__ import annotations

import numpy as np

TCP = 0
NOT_TCP = 1
IP_FRAGMENT = 2
NON_IP = 3
UNSUPPORTED_LINKTYPE = 4
LINK_HEADER_TRUNCATED = 5
IP_HEADER_TRUNCATED = 6
IP_VERSION = 7
IP_HEADER_LENGTH = 8
IP_TOTAL_LENGTH = 9
IPV6_EXTENSION_HEADER = 10
TCP_HEADER_TRUNCATED = 11
TCP_DATA_OFFSET = 12
TCP_HEADER_PAST_IP_PAYLOAD = 13
NON_PACKET_RECORD = 14
IPV4_OPTION = 15
TUNNEL_HEADER_TRUNCATED = 16
TUNNEL_HEADER_MALFORMED = 17

CLASS_TCP = "tcp"
CLASS_OTHER_IP = "other_ip"
CLASS_NON_IP = "non_ip"
CLASS_MALFORMED = "malformed"
CLASSES = (CLASS_TCP, CLASS_OTHER_IP, CLASS_NON_IP, CLASS_MALFORMED)

# status -> (name, class, what it means)
STATUSES: dict[int, tuple[str, str, str]] = {
    TCP: ("tcp", CLASS_TCP, "TCP segment decoded"),
    NOT_TCP: ("not_tcp", CLASS_OTHER_IP, "IP packet carrying another protocol (UDP, ICMP, ...)"),
    IP_FRAGMENT: ("ip_fragment", CLASS_OTHER_IP, "IP fragment; the datagram's TCP segment, if it completes, is on the completing fragment"),
    NON_IP: ("non_ip", CLASS_NON_IP, "link layer carries something other than IP (ARP, LLC, ...)"),
    UNSUPPORTED_LINKTYPE: ("unsupported_linktype", CLASS_NON_IP, "link type tcpanalyze does not decode"),
    LINK_HEADER_TRUNCATED: ("link_header_truncated", CLASS_MALFORMED, "record shorter than its link-layer header"),
    IP_HEADER_TRUNCATED: ("ip_header_truncated", CLASS_MALFORMED, "IP header cut off by the snapshot length or record end"),
    IP_VERSION: ("ip_version", CLASS_MALFORMED, "IP version field does not match the link layer's protocol"),
    IP_HEADER_LENGTH: ("ip_header_length", CLASS_MALFORMED, "IPv4 header length below 20 bytes"),
    IP_TOTAL_LENGTH: ("ip_total_length", CLASS_MALFORMED, "IP total length smaller than its header"),
    IPV6_EXTENSION_HEADER: ("ipv6_extension_header", CLASS_MALFORMED, "IPv6 extension header cut off or running past the payload"),
    TCP_HEADER_TRUNCATED: ("tcp_header_truncated", CLASS_MALFORMED, "fewer than 20 bytes of TCP header captured"),
    TCP_DATA_OFFSET: ("tcp_data_offset", CLASS_MALFORMED, "TCP data offset below 5 (header shorter than 20 bytes)"),
    TCP_HEADER_PAST_IP_PAYLOAD: ("tcp_header_past_ip_payload", CLASS_MALFORMED, "TCP header (with options) runs past the IP payload"),
    NON_PACKET_RECORD: ("non_packet_record", CLASS_NON_IP, "a record that is not a packet (pcapng Custom Block), numbered as a frame like Wireshark does"),
    IPV4_OPTION: ("ipv4_option", CLASS_MALFORMED, "IPv4 option shorter than its fields (Wireshark: Malformed Packet, TCP not dissected)"),
    TUNNEL_HEADER_TRUNCATED: ("tunnel_header_truncated", CLASS_MALFORMED, "a tunnel header (GRE, VXLAN, GTP-U, ...) cut off by the snapshot length or its packet's end"),
    TUNNEL_HEADER_MALFORMED: ("tunnel_header_malformed", CLASS_MALFORMED, "a tunnel header with impossible fields (UDP length, GRE version, header lengths past the packet)"),
}

STATUS_NAMES = np.array([STATUSES[s][0] for s in range(len(STATUSES))], dtype=object)
CLASS_OF_STATUS = np.array([CLASSES.index(STATUSES[s][1]) for s in range(len(STATUSES))], dtype=np.uint8)
