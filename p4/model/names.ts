/**
 * The fully-qualified P4 names the model gives meaning to (PIPELINE.md). Ids always come from the
 * P4Info; only these names are fixed, so renumbering a P4Info changes nothing.
 *
 * @example
 * info.tableByName(TABLES.ctForward).id; // whatever the P4Info says
 */
export const TABLES = {
  arpToPort: 'MainControlImpl.arp_to_port',
  serviceLb: 'MainControlImpl.service_lb',
  ctForward: 'MainControlImpl.ct_forward',
  ctReverse: 'MainControlImpl.ct_reverse',
  ipv4ToPort: 'MainControlImpl.ipv4_to_port',
} as const;

/** MainControlImpl's apply order (PIPELINE.md); a test compares it with the .p4 control block. */
export const TABLE_APPLY_ORDER: readonly string[] = Object.freeze([
  TABLES.arpToPort,
  TABLES.serviceLb,
  TABLES.ctForward,
  TABLES.ctReverse,
  TABLES.ipv4ToPort,
]);

/** Index of each table in TABLE_APPLY_ORDER (also the index of its counters). */
export const T_ARP = 0;
export const T_LB = 1;
export const T_CT_FWD = 2;
export const T_CT_REV = 3;
export const T_IPV4 = 4;

export const ACTIONS = {
  noAction: 'NoAction',
  drop: 'MainControlImpl.drop',
  setPort: 'MainControlImpl.set_port',
  setDestMacPort: 'MainControlImpl.set_dest_mac_port',
  toUplink: 'MainControlImpl.to_uplink',
  lbSetEndpoint: 'MainControlImpl.lb_set_endpoint',
  lbReject: 'MainControlImpl.lb_reject',
  ctDnat: 'MainControlImpl.ct_dnat',
  ctForwardMiss: 'MainControlImpl.ct_forward_miss',
  ctSnat: 'MainControlImpl.ct_snat',
  ctReverseMiss: 'MainControlImpl.ct_reverse_miss',
} as const;

export const LB_SELECTOR = 'MainControlImpl.lb_selector';

/** Key fields of each table, in the order the data plane fills them. */
export const KEYS = {
  arpToPort: ['hdr.arp.tpa'],
  serviceLb: ['hdr.ipv4.dst_addr', 'hdr.ipv4.protocol', 'meta.l4_dst_port'],
  ctForward: ['hdr.ipv4.src_addr', 'hdr.ipv4.dst_addr', 'hdr.ipv4.protocol', 'meta.l4_src_port', 'meta.l4_dst_port'],
  ctReverse: ['meta.rk_src', 'meta.rk_dst', 'meta.rk_proto', 'meta.rk_sport', 'meta.rk_dport'],
  ipv4ToPort: ['hdr.ipv4.dst_addr'],
} as const;

/** Each table's constant default (miss) action. */
export const DEFAULT_ACTIONS: Readonly<Record<string, string>> = {
  [TABLES.arpToPort]: ACTIONS.toUplink,
  [TABLES.serviceLb]: ACTIONS.noAction,
  [TABLES.ctForward]: ACTIONS.ctForwardMiss,
  [TABLES.ctReverse]: ACTIONS.ctReverseMiss,
  [TABLES.ipv4ToPort]: ACTIONS.toUplink,
};

/** PNA expire-time profiles (ExpireTimeProfileId_t). */
export const PROFILE_TCP_ESTABLISHED = 0;
export const PROFILE_UDP = 1;
export const PROFILE_TCP_CLOSING = 2;

/** Default idle timeouts per profile, in ms: 86,400 s, 120 s, 10 s. */
export const DEFAULT_EXPIRY_MS: readonly number[] = Object.freeze([86_400_000, 120_000, 10_000]);

/** The port of the gateway / ARP proxy, and the host / uplink port. */
export const PORT_GATEWAY = 0;
export const PORT_UPLINK = 1;
