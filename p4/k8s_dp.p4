/*
 * k8s_dp: Kubernetes pod networking, ClusterIP load balancing and connection tracking,
 * for the Portable NIC Architecture (PNA; the P4-DPDK target).
 *
 * The specification is PIPELINE.md beside this file; the P4Info is k8s_dp.p4info.json. The
 * control plane and the behavioural model (model/) know this program only through the P4Info,
 * so every table, action, parameter and key below carries exactly the P4Info's name and width
 * (test/p4/p4-program.test.ts checks both ways with p4-source.ts).
 *
 * What the original pipeline (IPDK k8s-infra-offload) did differently, and why we changed it:
 *  - one load-balancing table for TCP and UDP (the protocol is a key field), not two;
 *  - the selector's member carries the endpoint itself (ep_ip, ep_port), so no pointer tables
 *    (write_dest_ip / write_source_ip / set_meta) and no 15-endpoint limit per service;
 *  - the reverse entry learns the VIP:port of its own connection, so one backend pod:port can
 *    serve several services;
 *  - FIN/RST move entries to a short expiry profile instead of leaving them to age for a day;
 *  - no recirculation: one pass does LB, connection tracking, NAT and forwarding.
 *
 * Ports (PortId_t, bit<32>): 0 = gateway / ARP proxy, 1 = host / uplink, 2... = pods.
 */

#include <core.p4>
#include <pna.p4>

/* ------------------------------------------------------------------------------------------
 * Types and constants
 * ------------------------------------------------------------------------------------------ */

typedef bit<48> mac_addr_t;
typedef bit<32> ipv4_addr_t;
typedef bit<16> l4_port_t;
// A port number as the control plane writes it. PNA's PortId_t is a P4Runtime-translated `type`;
// our P4Info gives the port parameters a plain 32-bit width without a translated type name, so
// the parameters are bit<32> and the actions cast to PortId_t when they forward.
typedef bit<32> port_num_t;

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<16> ETHERTYPE_ARP  = 0x0806;
const bit<16> ETHERTYPE_VLAN = 0x8100;

const bit<8> IP_PROTO_ICMP = 1;
const bit<8> IP_PROTO_TCP  = 6;
const bit<8> IP_PROTO_UDP  = 17;

const bit<8> TCP_FIN = 0x01;
const bit<8> TCP_SYN = 0x02;
const bit<8> TCP_RST = 0x04;
const bit<8> TCP_ACK = 0x10;

const port_num_t PORT_GATEWAY = 0;   // the ARP proxy answering for 169.254.1.1
const port_num_t PORT_UPLINK  = 1;   // the host interface: every non-local destination

// Expiry profiles of learned entries (PIPELINE.md "Expiry profiles"); the durations are the
// control plane's configuration, the program only names the profile.
const ExpireTimeProfileId_t EXPIRE_TCP_ESTABLISHED = (ExpireTimeProfileId_t) 8w0;  // 86,400 s
const ExpireTimeProfileId_t EXPIRE_UDP             = (ExpireTimeProfileId_t) 8w1;  // 120 s
const ExpireTimeProfileId_t EXPIRE_TCP_CLOSING     = (ExpireTimeProfileId_t) 8w2;  // 10 s

// Table and selector sizes (PIPELINE.md "Sizes"): 10,000 services x 10 endpoints plus 5,000
// pods, and 131,072 learned connections per direction with hash-table headroom.
const bit<32> ARP_TABLE_SIZE      = 65536;
const bit<32> LB_TABLE_SIZE       = 65536;
const bit<32> LB_SELECTOR_MEMBERS = 131072;
const bit<32> CT_TABLE_SIZE       = 262144;
const bit<32> IPV4_TABLE_SIZE     = 65536;

error {
    IPv4BadVersion,
    IPv4BadIHL,
    IPv4TotalLenBeyondFrame
}

/* ------------------------------------------------------------------------------------------
 * Headers
 * ------------------------------------------------------------------------------------------ */

header ethernet_t {
    mac_addr_t dst_addr;
    mac_addr_t src_addr;
    bit<16>    ether_type;
}

// At most one 802.1Q tag; a second one (Q-in-Q) is an unsupported ethertype.
header vlan_tag_t {
    bit<3>  pcp;
    bit<1>  dei;
    bit<12> vid;
    bit<16> ether_type;
}

header arp_t {
    bit<16>     htype;
    bit<16>     ptype;
    bit<8>      hlen;
    bit<8>      plen;
    bit<16>     oper;
    mac_addr_t  sha;
    ipv4_addr_t spa;
    mac_addr_t  tha;
    ipv4_addr_t tpa;
}

header ipv4_t {
    bit<4>      version;
    bit<4>      ihl;
    bit<8>      diffserv;
    bit<16>     total_len;
    bit<16>     identification;
    bit<3>      flags;
    bit<13>     frag_offset;
    bit<8>      ttl;
    bit<8>      protocol;
    bit<16>     hdr_checksum;
    ipv4_addr_t src_addr;
    ipv4_addr_t dst_addr;
}

// IPv4 options are carried, never interpreted: IHL is honoured so the L4 header is found.
header ipv4_options_t {
    varbit<320> options;
}

header tcp_t {
    l4_port_t src_port;
    l4_port_t dst_port;
    bit<32>   seq_no;
    bit<32>   ack_no;
    bit<4>    data_offset;
    bit<4>    res;
    bit<8>    flags;
    bit<16>   window;
    bit<16>   checksum;
    bit<16>   urgent_ptr;
}

header udp_t {
    l4_port_t src_port;
    l4_port_t dst_port;
    bit<16>   length;
    bit<16>   checksum;
}

header icmp_t {
    bit<8>  icmp_type;
    bit<8>  icmp_code;
    bit<16> checksum;
    bit<32> rest;
}

struct headers_t {
    ethernet_t     ethernet;
    vlan_tag_t     vlan;
    arp_t          arp;
    ipv4_t         ipv4;
    ipv4_options_t ipv4_options;
    tcp_t          tcp;
    udp_t          udp;
    icmp_t         icmp;
}

/* ------------------------------------------------------------------------------------------
 * Metadata (PIPELINE.md "Metadata")
 * ------------------------------------------------------------------------------------------ */

struct main_metadata_t {
    l4_port_t   l4_src_port;   // from TCP or UDP; 0 otherwise
    l4_port_t   l4_dst_port;
    bool        new_conn;      // TCP SYN without ACK, or any UDP
    // The load balancer's choice (service_lb), and the destination it replaces.
    bool        lb_hit;
    ipv4_addr_t ep_ip;
    l4_port_t   ep_port;
    ipv4_addr_t vip;
    l4_port_t   vport;
    // The key of ct_reverse (see the apply block for its two meanings).
    ipv4_addr_t rk_src;
    ipv4_addr_t rk_dst;
    bit<8>      rk_proto;
    l4_port_t   rk_sport;
    l4_port_t   rk_dport;
    bool        rk_learn;      // "rk_learn = 1" in PIPELINE.md
}

// The parameters of the learned hit actions, for add_entry(): PNA requires a struct whose fields
// have the action's parameter names, order and types.
struct ct_dnat_params_t {
    ipv4_addr_t ep_ip;
    l4_port_t   ep_port;
}

struct ct_snat_params_t {
    ipv4_addr_t vip;
    l4_port_t   vport;
}

/* ------------------------------------------------------------------------------------------
 * Parser
 * ------------------------------------------------------------------------------------------ */

// Malformed frames end with a parser error (PacketTooShort from extract, or one of ours from
// verify); PNA still runs the main control, which drops and counts them (parser_errors).
parser MainParserImpl(packet_in pkt,
                      out headers_t hdr,
                      inout main_metadata_t meta,
                      in pna_main_parser_input_metadata_t istd) {
    bit<32> l2_bytes = 14;   // Ethernet, plus 4 with the 802.1Q tag

    state start {
        meta.l4_src_port = 0;
        meta.l4_dst_port = 0;
        meta.new_conn = false;
        meta.lb_hit = false;
        meta.rk_learn = false;
        pkt.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_VLAN: parse_vlan;
            ETHERTYPE_ARP:  parse_arp;
            ETHERTYPE_IPV4: parse_ipv4;
            default:        accept;   // neither ARP nor IPv4: the control drops and counts it
        }
    }

    state parse_vlan {
        pkt.extract(hdr.vlan);
        l2_bytes = 18;
        transition select(hdr.vlan.ether_type) {
            ETHERTYPE_ARP:  parse_arp;
            ETHERTYPE_IPV4: parse_ipv4;
            default:        accept;
        }
    }

    state parse_arp {
        pkt.extract(hdr.arp);
        transition accept;
    }

    state parse_ipv4 {
        pkt.extract(hdr.ipv4);
        verify(hdr.ipv4.version == 4, error.IPv4BadVersion);
        verify(hdr.ipv4.ihl >= 5, error.IPv4BadIHL);
        // packet_in.length() is optional in P4-16; a target without it must do this check in
        // its port code (the model does it in software).
        verify((bit<32>) hdr.ipv4.total_len + l2_bytes <= pkt.length(),
               error.IPv4TotalLenBeyondFrame);
        transition select(hdr.ipv4.ihl) {
            5:       parse_l4;
            default: parse_ipv4_options;
        }
    }

    state parse_ipv4_options {
        pkt.extract(hdr.ipv4_options, ((bit<32>) hdr.ipv4.ihl - 5) * 32);
        transition parse_l4;
    }

    // Only a first (or unfragmented) fragment carries the L4 header.
    state parse_l4 {
        transition select(hdr.ipv4.frag_offset, hdr.ipv4.protocol) {
            (0, IP_PROTO_TCP):  parse_tcp;
            (0, IP_PROTO_UDP):  parse_udp;
            (0, IP_PROTO_ICMP): parse_icmp;
            default:            accept;
        }
    }

    state parse_tcp {
        pkt.extract(hdr.tcp);
        meta.l4_src_port = hdr.tcp.src_port;
        meta.l4_dst_port = hdr.tcp.dst_port;
        meta.new_conn = (hdr.tcp.flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
        transition accept;
    }

    state parse_udp {
        pkt.extract(hdr.udp);
        meta.l4_src_port = hdr.udp.src_port;
        meta.l4_dst_port = hdr.udp.dst_port;
        meta.new_conn = true;
        transition accept;
    }

    state parse_icmp {
        pkt.extract(hdr.icmp);
        transition accept;
    }
}

control PreControlImpl(in headers_t hdr,
                       inout main_metadata_t meta,
                       in pna_pre_input_metadata_t istd,
                       inout pna_pre_output_metadata_t ostd) {
    apply { }
}

/* ------------------------------------------------------------------------------------------
 * Main control
 * ------------------------------------------------------------------------------------------ */

control MainControlImpl(inout headers_t hdr,
                        inout main_metadata_t meta,
                        in pna_main_input_metadata_t istd,
                        inout pna_main_output_metadata_t ostd) {

    Counter<bit<64>, bit<1>>(1, PNA_CounterType_t.PACKETS) parser_errors;
    Counter<bit<64>, bit<1>>(1, PNA_CounterType_t.PACKETS) unsupported_ethertype;

    InternetChecksum() ipv4_ck;
    InternetChecksum() l4_ck;

    /* --- Forwarding actions ----------------------------------------------------------------- */

    action drop() {
        drop_packet();
    }

    action set_port(port_num_t port) {
        send_to_port((PortId_t) port);
    }

    action to_uplink() {
        send_to_port((PortId_t) PORT_UPLINK);
    }

    // The sender addressed the frame to the gateway MAC; the receiver sees it come from there.
    action set_dest_mac_port(port_num_t port, mac_addr_t dmac) {
        hdr.ethernet.src_addr = hdr.ethernet.dst_addr;
        hdr.ethernet.dst_addr = dmac;
        send_to_port((PortId_t) port);
    }

    /* --- NAT helpers (called by the actions below, never by a table) -----------------------
     * Incremental checksum update, RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). With the
     * InternetChecksum extern: subtract the old checksum (adds ~HC), subtract the old words
     * (adds ~m), add the new words (m'); get() returns the complement of the sum. The TCP/UDP
     * checksum covers the pseudo-header, so it changes with the address as well as the port.
     * A UDP checksum of 0 means "none" and stays 0; a computed 0 is sent as 0xFFFF (RFC 768). */

    action rewrite_dst(ipv4_addr_t addr, l4_port_t port) {
        ipv4_ck.clear();
        ipv4_ck.subtract(hdr.ipv4.hdr_checksum);
        ipv4_ck.subtract(hdr.ipv4.dst_addr);
        ipv4_ck.add(addr);
        hdr.ipv4.hdr_checksum = ipv4_ck.get();
        l4_ck.clear();
        if (hdr.tcp.isValid()) {
            l4_ck.subtract(hdr.tcp.checksum);
            l4_ck.subtract({ hdr.ipv4.dst_addr, hdr.tcp.dst_port });
            l4_ck.add({ addr, port });
            hdr.tcp.checksum = l4_ck.get();
            hdr.tcp.dst_port = port;
        } else if (hdr.udp.isValid()) {
            if (hdr.udp.checksum != 0) {
                l4_ck.subtract(hdr.udp.checksum);
                l4_ck.subtract({ hdr.ipv4.dst_addr, hdr.udp.dst_port });
                l4_ck.add({ addr, port });
                bit<16> sum = l4_ck.get();
                hdr.udp.checksum = (sum == 0) ? 16w0xFFFF : sum;
            }
            hdr.udp.dst_port = port;
        }
        hdr.ipv4.dst_addr = addr;
        meta.l4_dst_port = port;
    }

    action rewrite_src(ipv4_addr_t addr, l4_port_t port) {
        ipv4_ck.clear();
        ipv4_ck.subtract(hdr.ipv4.hdr_checksum);
        ipv4_ck.subtract(hdr.ipv4.src_addr);
        ipv4_ck.add(addr);
        hdr.ipv4.hdr_checksum = ipv4_ck.get();
        l4_ck.clear();
        if (hdr.tcp.isValid()) {
            l4_ck.subtract(hdr.tcp.checksum);
            l4_ck.subtract({ hdr.ipv4.src_addr, hdr.tcp.src_port });
            l4_ck.add({ addr, port });
            hdr.tcp.checksum = l4_ck.get();
            hdr.tcp.src_port = port;
        } else if (hdr.udp.isValid()) {
            if (hdr.udp.checksum != 0) {
                l4_ck.subtract(hdr.udp.checksum);
                l4_ck.subtract({ hdr.ipv4.src_addr, hdr.udp.src_port });
                l4_ck.add({ addr, port });
                bit<16> sum = l4_ck.get();
                hdr.udp.checksum = (sum == 0) ? 16w0xFFFF : sum;
            }
            hdr.udp.src_port = port;
        }
        hdr.ipv4.src_addr = addr;
        meta.l4_src_port = port;
    }

    /* --- Load balancing ---------------------------------------------------------------------- */

    // A member of a service's group: the endpoint this connection goes to. Nothing is
    // rewritten here: ct_forward decides whether the tracked endpoint or this choice wins.
    action lb_set_endpoint(ipv4_addr_t ep_ip, l4_port_t ep_port) {
        meta.lb_hit = true;
        meta.ep_ip = ep_ip;
        meta.ep_port = ep_port;
        meta.vip = hdr.ipv4.dst_addr;
        meta.vport = meta.l4_dst_port;
    }

    // A service without endpoints: its packets are dropped (like kube-proxy's reject rule,
    // without the ICMP error).
    action lb_reject() {
        drop_packet();
    }

    /* --- Connection tracking ------------------------------------------------------------------
     * The hit actions below run on packets of tracked connections. They also steer the entry's
     * expiry: FIN and RST move it to the closing profile (2); a SYN re-arms it as established
     * (0), since a SYN reusing the tuple opens a new connection; anything else restarts the
     * timer in its current profile (so a closing entry keeps closing). */

    // Forward direction, client -> VIP: the learned endpoint wins over the selector's choice,
    // so a connection stays on its endpoint when the group's membership changes.
    action ct_dnat(ipv4_addr_t ep_ip, l4_port_t ep_port) {
        rewrite_dst(ep_ip, ep_port);
        if (hdr.tcp.isValid()) {
            if ((hdr.tcp.flags & (TCP_FIN | TCP_RST)) != 0) {
                set_entry_expire_time(EXPIRE_TCP_CLOSING);
            } else if ((hdr.tcp.flags & TCP_SYN) != 0) {
                set_entry_expire_time(EXPIRE_TCP_ESTABLISHED);
            } else {
                restart_expire_timer();
            }
        } else {
            restart_expire_timer();
        }
    }

    // The miss of ct_forward (its const default). A new connection the selector placed is
    // learned with the selector's endpoint; any packet the selector placed (the learning one,
    // or a mid-flow packet of a connection nobody tracks) is rewritten to that endpoint.
    action ct_forward_miss() {
        if (meta.lb_hit && meta.new_conn) {
            meta.rk_learn = add_entry(
                action_name = "ct_dnat",
                action_params = (ct_dnat_params_t) { ep_ip = meta.ep_ip, ep_port = meta.ep_port },
                expire_time_profile_id = hdr.tcp.isValid() ? EXPIRE_TCP_ESTABLISHED : EXPIRE_UDP
            ) == ADD_ENTRY_SUCCESS;
        }
        if (meta.lb_hit) {
            rewrite_dst(meta.ep_ip, meta.ep_port);
        }
    }

    // Reply direction, endpoint -> client: the source goes back to the VIP:port the client
    // used. When rk_learn is set the key is the reply tuple of the packet being learned, not
    // the packet's own: a hit then finds the leftover entry of an earlier connection on the
    // same tuple, which is re-armed but must not rewrite this (forward) packet.
    action ct_snat(ipv4_addr_t vip, l4_port_t vport) {
        if (!meta.rk_learn) {
            rewrite_src(vip, vport);
        }
        if (hdr.tcp.isValid()) {
            if ((hdr.tcp.flags & (TCP_FIN | TCP_RST)) != 0) {
                set_entry_expire_time(EXPIRE_TCP_CLOSING);
            } else if ((hdr.tcp.flags & TCP_SYN) != 0) {
                set_entry_expire_time(EXPIRE_TCP_ESTABLISHED);
            } else {
                restart_expire_timer();
            }
        } else {
            restart_expire_timer();
        }
    }

    // The miss of ct_reverse (its const default): learn the reply direction of the connection
    // ct_forward just learned, keyed by the reply's tuple, with the VIP:port to restore.
    action ct_reverse_miss() {
        if (meta.rk_learn) {
            add_entry(
                action_name = "ct_snat",
                action_params = (ct_snat_params_t) { vip = meta.vip, vport = meta.vport },
                expire_time_profile_id = hdr.tcp.isValid() ? EXPIRE_TCP_ESTABLISHED : EXPIRE_UDP
            );
        }
    }

    /* --- Tables, in apply order ----------------------------------------------------------------
     * Every default action is `const`: the misses are part of the design, not configuration.
     * PNA targets may require a const default on add_on_miss tables (the miss action is what
     * learns), and a const default lets the P4Info say so (constDefaultActionId), so the
     * control plane never has a default to program, read back or get wrong. */

    // ARP requests go to the ARP proxy (169.254.1.1 -> port 0), the proxy's replies to the pod
    // whose address they target; anything else (the host's own ARP) to the uplink.
    table arp_to_port {
        key = {
            hdr.arp.tpa : exact;
        }
        actions = {
            set_port;
            drop;
            @defaultonly to_uplink;
        }
        const default_action = to_uplink;
        size = ARP_TABLE_SIZE;
    }

    // ClusterIP:port/protocol -> one of the service's endpoints. The selector hashes the
    // client's address and port: every packet of a connection picks the same member (so even
    // a mid-flow packet of an untracked connection lands on the endpoint that learned it, as
    // long as the group is unchanged), while different clients and source ports spread out.
    // The two `selector` fields are the hash input, not part of the match: as p4c does, the
    // P4Info lists only the exact fields in match_fields.
    table service_lb {
        key = {
            hdr.ipv4.dst_addr : exact;
            hdr.ipv4.protocol : exact;
            meta.l4_dst_port  : exact;
            hdr.ipv4.src_addr : selector;
            meta.l4_src_port  : selector;
        }
        actions = {
            @tableonly lb_set_endpoint;
            @tableonly lb_reject;
            @defaultonly NoAction;
        }
        const default_action = NoAction;
        pna_implementation = lb_selector;
        size = LB_TABLE_SIZE;
    }

    // The members of every service's group: CRC32 over (hdr.ipv4.src_addr, meta.l4_src_port)
    // with a 32-bit hash output picks the member. 131,072 members in all, groups of at most
    // 4,096 (@max_group_size becomes the P4Info's max_group_size).
    @max_group_size(4096)
    ActionSelector(PNA_HashAlgorithm_t.CRC32, LB_SELECTOR_MEMBERS, 32) lb_selector;

    // Why two connection-tracking tables: a learned entry's key is the tuple of the packet
    // that missed, so one table can learn only one direction per packet. ct_forward learns
    // the client -> VIP tuple (DNAT); ct_reverse, looked up with the reply's tuple computed
    // from the same packet, learns endpoint -> client (SNAT) in the same pass, before the
    // first reply exists. All keys are exact, as PNA requires of add_on_miss tables.
    table ct_forward {
        key = {
            hdr.ipv4.src_addr : exact;
            hdr.ipv4.dst_addr : exact;
            hdr.ipv4.protocol : exact;
            meta.l4_src_port  : exact;
            meta.l4_dst_port  : exact;
        }
        actions = {
            @tableonly ct_dnat;
            @defaultonly ct_forward_miss;
        }
        const default_action = ct_forward_miss;
        add_on_miss = true;
        pna_idle_timeout = PNA_IdleTimeout_t.NOTIFY_CONTROL;
        size = CT_TABLE_SIZE;
    }

    table ct_reverse {
        key = {
            meta.rk_src   : exact;
            meta.rk_dst   : exact;
            meta.rk_proto : exact;
            meta.rk_sport : exact;
            meta.rk_dport : exact;
        }
        actions = {
            @tableonly ct_snat;
            @defaultonly ct_reverse_miss;
        }
        const default_action = ct_reverse_miss;
        add_on_miss = true;
        pna_idle_timeout = PNA_IdleTimeout_t.NOTIFY_CONTROL;
        size = CT_TABLE_SIZE;
    }

    // Local delivery by the (possibly translated) destination: a pod or the host interface
    // gets its port and MAC; every other address leaves through the uplink unchanged.
    table ipv4_to_port {
        key = {
            hdr.ipv4.dst_addr : exact;
        }
        actions = {
            set_dest_mac_port;
            drop;
            @defaultonly to_uplink;
        }
        const default_action = to_uplink;
        size = IPV4_TABLE_SIZE;
    }

    apply {
        if (istd.parser_error != error.NoError) {
            parser_errors.count(0);
            drop_packet();
            exit;
        }
        if (hdr.arp.isValid()) {
            arp_to_port.apply();
            exit;
        }
        if (!hdr.ipv4.isValid()) {
            unsupported_ethertype.count(0);
            drop_packet();
            exit;
        }
        if (hdr.tcp.isValid() || hdr.udp.isValid()) {
            switch (service_lb.apply().action_run) {
                lb_reject: {
                    exit;   // dropped by the action
                }
                default: { }
            }
            ct_forward.apply();
            // ct_reverse's key. For the connection ct_forward just learned: the tuple its
            // replies will carry (endpoint -> client; the destination is already the
            // endpoint). For every other packet: its own tuple, so replies of tracked
            // connections hit and are rewritten back to VIP:port.
            meta.rk_proto = hdr.ipv4.protocol;
            if (meta.rk_learn) {
                meta.rk_src = hdr.ipv4.dst_addr;
                meta.rk_dst = hdr.ipv4.src_addr;
                meta.rk_sport = meta.l4_dst_port;
                meta.rk_dport = meta.l4_src_port;
            } else {
                meta.rk_src = hdr.ipv4.src_addr;
                meta.rk_dst = hdr.ipv4.dst_addr;
                meta.rk_sport = meta.l4_src_port;
                meta.rk_dport = meta.l4_dst_port;
            }
            ct_reverse.apply();
        }
        // TTL is not decremented (PIPELINE.md): pods see one L2 hop through the gateway.
        ipv4_to_port.apply();
    }
}

/* ------------------------------------------------------------------------------------------
 * Deparser: invalid headers are not emitted; the payload follows unchanged.
 * ------------------------------------------------------------------------------------------ */

control MainDeparserImpl(packet_out pkt,
                         in headers_t hdr,
                         in main_metadata_t meta,
                         in pna_main_output_metadata_t ostd) {
    apply {
        pkt.emit(hdr.ethernet);
        pkt.emit(hdr.vlan);
        pkt.emit(hdr.arp);
        pkt.emit(hdr.ipv4);
        pkt.emit(hdr.ipv4_options);
        pkt.emit(hdr.tcp);
        pkt.emit(hdr.udp);
        pkt.emit(hdr.icmp);
    }
}

PNA_NIC(
    MainParserImpl(),
    PreControlImpl(),
    MainControlImpl(),
    MainDeparserImpl()
) main;
