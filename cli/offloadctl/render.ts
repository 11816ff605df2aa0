/**
 * offloadctl's human-readable output: each reply of the ctl views (protocol/ctl.ts) as aligned
 * tables with a header row (table.ts), plus a line saying what the limit left out, and the JSON
 * form of the table view (match values keyed by field name, params by name) for `-o json`.
 *
 * @example
 * console.log(renderServices(reply)); // "SERVICE  KEY  GROUP  ENDPOINT  NODE  STATE  MEMBER  READY …"
 */
import type {
  LeadershipReply,
  PodsReply,
  ServicesReply,
  SupervisionNode,
  TableEntryView,
  TablesReply,
  TableView,
  TreeReply,
} from '../../protocol/ctl.js';
import type { StateSummary } from '../../protocol/sync.js';
import { duration, formatTable } from './table.js';

const yesNo = (b: boolean): string => (b ? 'yes' : 'no');
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function leftOut(omitted: number, what: string): string[] {
  return omitted > 0 ? [`${omitted} more ${what} not shown (raise --limit)`] : [];
}

/** A match field's short column name: "hdr.ipv4.dst_addr" → "dst_addr". */
function column(field: string): string {
  return field.slice(field.lastIndexOf('.') + 1);
}

function actionText(e: TableEntryView): string {
  if (e.action) return e.action;
  if (e.groupId) return `group ${e.groupId}`;
  if (e.memberId) return `member ${e.memberId}`;
  return '-';
}

function paramsText(params: readonly { name: string; value: string }[]): string {
  return params.map((p) => `${p.name}=${p.value}`).join(' ');
}

function tableSection(t: TableView): string[] {
  const title = `${t.name}: ${plural(t.count, 'entry', 'entries')} (capacity ${t.capacity})${t.entries.length < t.count ? `, ${t.entries.length} shown` : ''}`;
  if (t.entries.length === 0) return [title];
  const rows = t.entries.map((e) => [...e.match, actionText(e), paramsText(e.params)]);
  return [title, formatTable([...t.matchFields.map(column), 'action', 'params'], rows)];
}

/** `tables` (programmed tables, profiles, a count of learned connections) or `flows` (learned). */
export function renderTables(r: TablesReply, flows: boolean): string {
  const out: string[] = [`node ${r.node}, target ${r.target}, device ${r.deviceId}, election id ${r.electionId}, read in ${r.readMs} ms`];
  const sections = flows ? [] : [...r.tables];
  for (const t of sections) out.push('', ...tableSection(t));
  if (!flows) {
    for (const p of r.profiles) {
      out.push('', `${p.name}: ${plural(p.memberCount, 'member')}, ${plural(p.groupCount, 'group')}`);
      if (p.members.length > 0) out.push(formatTable(['member', 'action', 'params'], p.members.map((m) => [m.id, m.action, paramsText(m.params)])));
      if (p.groups.length > 0) out.push(formatTable(['group', 'members'], p.groups.map((g) => [g.id, g.members.join(',')])));
    }
  }
  const learned = r.learned.reduce((n, t) => n + t.count, 0);
  const listed = r.learned.filter((t) => t.entries.length > 0 || flows);
  for (const t of listed) out.push('', ...tableSection(t));
  if (!flows || listed.length === 0) {
    const parts = r.learned.map((t) => `${t.name} ${t.count}`).join(', ');
    out.push('', `learned connections: ${learned}${parts ? ` (${parts})` : ''}${flows ? '' : '; `offloadctl flows` lists them'}`);
  }
  out.push(...leftOut(r.omitted, 'entries'));
  return out.join('\n');
}

/** The JSON form of a table view: match values keyed by field name, params by name. */
export function tablesJson(r: TablesReply): unknown {
  const table = (t: TableView) => ({
    name: t.name,
    id: t.id,
    count: t.count,
    capacity: t.capacity,
    learned: t.learned,
    matchFields: t.matchFields,
    entries: t.entries.map((e) => ({
      match: Object.fromEntries(t.matchFields.map((f, i) => [f, e.match[i] ?? ''])),
      action: e.action,
      params: Object.fromEntries(e.params.map((p) => [p.name, p.value])),
      ...(e.memberId ? { memberId: e.memberId } : {}),
      ...(e.groupId ? { groupId: e.groupId } : {}),
      ...(e.isDefault ? { isDefault: true } : {}),
      ...(e.priority ? { priority: e.priority } : {}),
    })),
  });
  return {
    ...r,
    tables: r.tables.map(table),
    learned: r.learned.map(table),
    profiles: r.profiles.map((p) => ({ ...p, members: p.members.map((m) => ({ id: m.id, action: m.action, params: Object.fromEntries(m.params.map((x) => [x.name, x.value])) })) })),
  };
}

export function renderServices(r: ServicesReply): string {
  const rows: unknown[][] = [];
  for (const s of r.services) {
    const name = `${s.namespace}/${s.name}${s.portName ? ` (${s.portName})` : ''}`;
    const group = s.rejecting ? `${s.groupId} (reject)` : String(s.groupId);
    if (s.endpoints.length === 0) rows.push([name, s.key, group, '-', '', '', '', '']);
    s.endpoints.forEach((e, i) => {
      const flags = e.ready ? 'yes' : e.terminating ? (e.serving ? 'terminating, serving' : 'terminating') : 'no';
      rows.push([...(i === 0 ? [name, s.key, group] : ['', '', '']), e.address, e.node, e.state, e.memberId || '-', flags]);
    });
    if (s.endpoints.length < s.endpointCount) rows.push(['', '', '', `… ${s.endpointCount - s.endpoints.length} more`]);
  }
  const out = [
    `node ${r.node}: ${plural(r.count, 'service port')}, intent revision ${r.revision} (a group without usable endpoints points at the reject member ${r.rejectMemberId})`,
    formatTable(['service', 'cluster ip:port', 'group', 'endpoint', 'node', 'state', 'member', 'ready'], rows),
    ...leftOut(r.omittedServices, 'services'),
    ...leftOut(r.omittedEndpoints, 'endpoints'),
  ];
  return out.join('\n');
}

export function renderPods(r: PodsReply): string {
  const out: string[] = [];
  if (r.role === 'manager') {
    out.push(`manager (intent): ${plural(r.count, 'pod interface')}`);
    out.push(formatTable(['pod', 'container', 'port', 'interface', 'ip', 'mac'], r.pods.map((p) => [`${p.namespace}/${p.name}`, p.containerId, p.portId, p.poolInterface, p.ipv4, p.mac])));
  } else if (!r.hasPool) {
    out.push(`agent: no interface pool (no pods section in its configuration); ${plural(r.count, 'pod interface')} in its intent`);
    if (r.pods.length > 0) out.push(formatTable(['pod', 'container', 'port', 'interface', 'ip', 'mac'], r.pods.map((p) => [`${p.namespace}/${p.name}`, p.containerId, p.portId, p.poolInterface, p.ipv4, p.mac])));
  } else {
    out.push(`agent: ${plural(r.count, 'pod interface')}`);
    out.push(
      formatTable(
        ['pod', 'container', 'ifname', 'port', 'pool interface', 'mac', 'ip', 'netns', 'phase'],
        r.pods.map((p) => [p.namespace ? `${p.namespace}/${p.name}` : '-', p.containerId, p.ifname, p.portId, p.poolInterface, p.mac, p.ipv4, p.netns, p.phase]),
      ),
    );
    out.push('', `port map: ${plural(r.portCount, 'port')}`);
    out.push(formatTable(['port', 'name', 'netns', 'role', 'allocated'], r.ports.map((p) => [p.port, p.name, p.netns || '-', p.role, yesNo(p.allocated)])));
  }
  if (r.host) out.push(`host interface: ${r.host.interfaceName} port ${r.host.portId}, ${r.host.ipv4} ${r.host.mac}, node ${r.host.nodeIp}, pods ${r.host.podCidr || '-'}`);
  out.push(...leftOut(r.omitted, 'rows'));
  return out.join('\n');
}

function treeRows(n: SupervisionNode, prefix: string, childPrefix: string, rows: unknown[][]): void {
  rows.push([`${prefix}${n.id}`, n.kind, n.status, n.strategy, n.restarts, n.state, n.lastError]);
  n.children.forEach((c, i) => {
    const last = i === n.children.length - 1 && n.omittedChildren === 0;
    treeRows(c, `${childPrefix}${last ? '└─ ' : '├─ '}`, `${childPrefix}${last ? '   ' : '│  '}`, rows);
  });
  if (n.omittedChildren > 0) rows.push([`${childPrefix}└─ … ${n.omittedChildren} more`]);
}

export function renderTree(r: TreeReply): string {
  const rows: unknown[][] = [];
  treeRows(r.root, '', '', rows);
  const head = `${r.role} of ${r.node}, instance ${r.instanceId}, up ${duration(r.uptimeMs)}`;
  return [head, formatTable(['id', 'kind', 'status', 'strategy', 'restarts', 'state', 'last error'], rows)].join('\n');
}

export function renderLeadership(r: LeadershipReply): string {
  const flags = [r.connected ? 'connected' : 'not connected', r.primary ? 'primary' : 'not primary', r.ready ? 'ready' : 'not ready'].join(', ');
  const last = r.lastSync;
  const rows: unknown[][] = [
    ['role', r.leader ? 'leader' : 'standby'],
    ['instance', r.instanceId],
    ['lease holder', r.holder || '-'],
    ['epoch', r.epoch],
    ['lease revision', r.leaseRevision],
    ['renewed', r.leader ? `${duration(r.renewedAgoMs)} ago` : '-'],
    ['session', r.hasSession ? `${r.sessionState} (${flags})` : 'none (no p4 section)'],
    ['target', r.target ? `${r.target}, device ${r.deviceId}` : '-'],
    ['reconciles', r.reconciles],
    ['last write', last ? `${last.kind}: ${last.inserted} inserted, ${last.modified} modified, ${last.deleted} deleted, ${last.retired} retired, ${last.unchanged} unchanged, ${plural(last.writes, 'write')}, ${duration(last.agoMs)} ago` : '-'],
    ['last error', r.lastError || '-'],
    ['intent revision', r.intentRevision],
  ];
  return [`leadership of ${r.node}`, formatTable(['field', 'value'], rows)].join('\n');
}

/** One health row per process: its summary, or why it did not answer. */
export type HealthPart<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export function healthRows(manager: HealthPart<StateSummary>, agent: HealthPart<StateSummary>, leadership: HealthPart<LeadershipReply>): { text: string; healthy: boolean } {
  const rows: unknown[][] = [];
  let healthy = true;
  const summary = (name: string, p: HealthPart<StateSummary>, other: HealthPart<StateSummary>): void => {
    if (!p.ok) {
      healthy = false;
      rows.push([name, 'down', '-', p.error]);
      return;
    }
    const s = p.value;
    const same = other.ok ? (other.value.digest === s.digest ? 'same intent as the ' : 'intent differs from the ') + (name === 'manager' ? 'agent' : 'manager') : '';
    rows.push([
      name,
      'ok',
      s.instanceId,
      `revision ${s.revision}, ${plural(s.pods, 'pod')}, ${plural(s.services, 'service')}, ${plural(s.endpoints, 'endpoint')}, host ${yesNo(s.hasHost)}, digest ${s.digest.slice(0, 12)}${same ? ` (${same})` : ''}, requests ${s.requestsServed} served, ${s.requestsRejected} rejected`,
    ]);
  };
  summary('manager', manager, agent);
  summary('agent', agent, manager);
  if (!leadership.ok) {
    healthy = false;
    rows.push(['leadership', 'down', '-', leadership.error]);
  } else {
    const l = leadership.value;
    const good = l.leader && (!l.hasSession || l.ready);
    if (!good) healthy = false;
    const last = l.lastSync ? `, last ${l.lastSync.kind} ${duration(l.lastSync.agoMs)} ago` : '';
    const session = l.hasSession ? `session ${l.sessionState}, ${plural(l.reconciles, 'reconcile')}${last}${l.lastError && !l.ready ? `, last error: ${l.lastError}` : ''}` : 'no session';
    rows.push(['leadership', good ? 'ok' : 'degraded', l.holder || '-', `${l.leader ? 'leader' : 'standby'}, epoch ${l.epoch}, ${session}`]);
  }
  return { text: formatTable(['component', 'status', 'instance', 'detail'], rows), healthy };
}
