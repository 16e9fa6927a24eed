import { connectorSpecs, secretFields } from '../../connectors';
import { STATES } from '../status';
import { channelKinds } from '../../core/alert-spec';
import { age, Html, html, num, url } from './html';

/** Page layout and the page bodies, as functions of /v1 answers. Styles in assets/console.css. */
const NAV: [string, string][] = [
  ['/console', 'Pipelines'],
  ['/console/consumer-groups', 'Consumer groups'],
  ['/console/sources', 'Sources'],
  ['/console/destinations', 'Destinations'],
  ['/console/transforms', 'Transforms'],
  ['/console/alerts', 'Alerts'],
];
export const REFRESH_S = 3;

export function layout(
  title: string,
  body: Html,
  o: { active?: string; signedIn?: boolean; flash?: string | null; error?: string | null; charts?: boolean } = {},
): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{"includeIndicatorStyles": false, "defaultSwapStyle": "outerHTML"}'>
<title>${title} · Sluice console</title>
${
  o.charts
    ? html`<link rel="stylesheet" href="/console/assets/uPlot.min.css">
`
    : ''
}<link rel="stylesheet" href="/console/assets/console.css">
<script src="/console/assets/htmx.min.js" defer></script>
${
  o.charts
    ? html`<script src="/console/assets/uPlot.iife.min.js" defer></script>
`
    : ''
}<script src="/console/assets/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <span class="brand">Sluice</span>
  ${
    o.signedIn
      ? html`<nav aria-label="Main"><ul>${NAV.map(([href, label]) => html`<li><a href="${href}"${o.active === href ? html` aria-current="page"` : ''}>${label}</a></li>`)}</ul></nav>
  <form method="post" action="/console/logout" class="signout"><button type="submit">Sign out</button></form>`
      : ''
  }
</header>
<main id="main" tabindex="-1">
${o.flash ? html`<p class="flash" role="status">${o.flash}</p>` : ''}
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
${body}
</main>
</body>
</html>`.text;
}

export function loginPage(next: string, error?: string): string {
  return layout(
    'Sign in',
    html`<h1>Sign in</h1>
<form method="post" action="/console/login" class="login">
  <input type="hidden" name="next" value="${next}">
  <label for="token">API token</label>
  <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
  <p class="hint">The token is kept for this browser session only. With <code>sluice dev</code> it is in
  <code>.sluice/token</code> (or the value of <code>SLUICE_BOOTSTRAP_TOKEN</code>).</p>
  <button type="submit">Sign in</button>
</form>`,
    { error },
  );
}

const badge = (state: string) => html`<span class="state state-${state.toLowerCase()}">${state}</span>`;

export function errorBlock(message: string): Html {
  return html`<p class="error" role="alert">${message}</p>`;
}

// ---- Pipelines ----

export interface StatusItem {
  id: string;
  name: string;
  state: string;
  reason: string | null;
  since: string;
  source: {
    last_event_at: string | null;
    replication_lag_bytes: number | null;
    position: unknown;
    state: string;
    reason: string | null;
  };
  sink: {
    lag: number | null;
    last_write_at: string | null;
    state: string;
    reason: string | null;
    partitions: { topic: string; partition: number; lag: number }[];
  };
  dlq: { count: number };
  throughput: { events_in_per_s: number; events_out_per_s: number } | null;
  desired_state: string;
  tags: Record<string, string>;
}

/** The part of the Pipelines page that refreshes itself: the summary line and the table. */
export function pipelinesLive(
  items: StatusItem[],
  filter: { state?: string; name?: string },
  total: number,
  counts: Record<string, number>,
): Html {
  const now = Date.now();
  return html`<div id="pipelines-live" hx-get="${url('/console/fragments/pipelines', filter)}" hx-trigger="every ${REFRESH_S}s" data-total="${total}">
<p class="summary" id="pipeline-summary" aria-live="polite">${total} pipeline(s)${Object.entries(counts)
    .filter(([, n]) => n)
    .map(([s, n]) => html` · ${n} ${s}`)}</p>
<table class="pipelines">
<caption>Refreshes every ${REFRESH_S} s</caption>
<thead><tr><th scope="col">Pipeline</th><th scope="col">State</th><th scope="col">Lag (records)</th>
<th scope="col">Events/s in</th><th scope="col">Events/s out</th><th scope="col">Last source event</th><th scope="col">DLQ</th></tr></thead>
<tbody>
${
  items.length
    ? items.map(
        (p) => html`<tr data-pipeline="${p.name}">
  <th scope="row"><a href="/console/pipelines/${p.id}">${p.name}</a></th>
  <td class="state-cell">${badge(p.state)}${p.reason ? html` <span class="reason">${p.reason}</span>` : ''}</td>
  <td class="n">${num(p.sink.lag)}</td>
  <td class="n">${p.throughput ? num(p.throughput.events_in_per_s) : '–'}</td>
  <td class="n">${p.throughput ? num(p.throughput.events_out_per_s) : '–'}</td>
  <td>${age(p.source.last_event_at, now)}</td>
  <td class="n">${p.dlq.count ? html`<a href="/console/pipelines/${p.id}#dlq">${num(p.dlq.count)}</a>` : '0'}</td>
</tr>`,
      )
    : html`<tr><td colspan="7">No pipeline matches.</td></tr>`
}
</tbody>
</table>
</div>`;
}

export function pipelinesPage(
  items: StatusItem[],
  filter: { state?: string; name?: string },
  total: number,
  counts: Record<string, number>,
): Html {
  return html`<h1>Pipelines</h1>
<form method="get" action="/console" class="filters" role="search">
  <label for="f-state">State</label>
  <select id="f-state" name="state">
    <option value="">All</option>
    ${STATES.map((s) => html`<option value="${s}"${filter.state === s ? html` selected` : ''}>${s}</option>`)}
  </select>
  <label for="f-name">Name contains</label>
  <input id="f-name" name="name" value="${filter.name ?? ''}" type="search">
  <button type="submit">Filter</button>
</form>
${pipelinesLive(items, filter, total, counts)}`;
}

// ---- Pipeline detail ----

export function statusPanel(id: string, s: StatusItem): Html {
  const now = Date.now();
  return html`<section id="live" hx-get="/console/pipelines/${id}/fragments/status"
  hx-trigger="every ${REFRESH_S}s" aria-live="polite" aria-labelledby="live-h">
<h2 id="live-h">Status</h2>
<p class="big">${badge(s.state)} since ${new Date(s.since).toISOString().replace('T', ' ').slice(0, 19)} UTC${s.reason ? html` — <span class="reason">${s.reason}</span>` : ''}</p>
<div class="cols">
<dl>
  <dt>Source</dt><dd>${s.source.state}${s.source.reason ? html` (${s.source.reason})` : ''}</dd>
  <dt>Source position</dt>
<dd><code>${s.source.position === null ? '–' : typeof s.source.position === 'string' ? s.source.position : JSON.stringify(s.source.position)}</code></dd>
  <dt>Replication lag</dt>
<dd>${s.source.replication_lag_bytes === null || s.source.replication_lag_bytes < 0 ? '–' : `${num(s.source.replication_lag_bytes)} bytes`}</dd>
  <dt>Last source event</dt><dd>${age(s.source.last_event_at, now)}</dd>
</dl>
<dl>
  <dt>Sink</dt><dd>${s.sink.state}${s.sink.reason ? html` (${s.sink.reason})` : ''}</dd>
  <dt>Lag</dt><dd>${num(s.sink.lag)} records</dd>
  <dt>Last write</dt><dd>${age(s.sink.last_write_at, now)}</dd>
  <dt>DLQ</dt><dd data-dlq-count="${s.dlq.count}">${num(s.dlq.count)} record(s)</dd>
</dl>
</div>
<table class="compact"><caption>Consumer-group lag per partition</caption>
<thead><tr><th scope="col">Topic</th><th scope="col">Partition</th><th scope="col">Lag</th></tr></thead>
<tbody>${
    s.sink.partitions.length
      ? s.sink.partitions.map(
          (p) => html`<tr><td>${p.topic}</td>
<td class="n">${p.partition}</td><td class="n">${num(p.lag)}</td></tr>`,
        )
      : html`<tr><td colspan="3">No partition reported yet.</td></tr>`
  }</tbody>
</table>
</section>`;
}

export interface Snapshot {
  id: string;
  status: string;
  mode: string;
  tables: string[];
  filter: string | null;
  percent: number;
  rows_done: number;
  rows_total: number;
  created_at: string;
  error: string | null;
  reason: string;
}

export function snapshotsPanel(id: string, items: Snapshot[]): Html {
  const live = items.some((s) => !['done', 'failed', 'cancelled'].includes(s.status));
  return html`<div id="snapshots" hx-get="/console/pipelines/${id}/fragments/snapshots" hx-trigger="every ${live ? 2 : 10}s" aria-live="polite">
<table class="compact"><caption>Snapshots</caption>
<thead><tr><th scope="col">Started</th><th scope="col">Tables</th><th scope="col">Mode</th><th scope="col">Status</th><th scope="col">Progress</th></tr></thead>
<tbody>${
    items.length
      ? items.slice(0, 20).map(
          (s) => html`<tr data-snapshot="${s.id}" data-status="${s.status}">
  <td>${s.created_at.replace('T', ' ').slice(0, 19)}</td>
<td>${s.tables.join(', ')}${s.filter ? html`<br><small>where ${s.filter}</small>` : ''}</td><td>${s.mode} (${s.reason})</td>
  <td>${s.status}${s.error ? html` <span class="reason">${s.error}</span>` : ''}</td>
  <td><progress max="100" value="${s.percent}" aria-label="snapshot progress">${s.percent}%</progress> ${s.percent}% · ${num(s.rows_done)} / ${s.rows_total ? num(s.rows_total) : '?'} rows</td>
</tr>`,
        )
      : html`<tr><td colspan="5">No snapshot yet.</td></tr>`
  }</tbody></table>
</div>`;
}

export interface DlqItem {
  id: number;
  status: string;
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  error_class: string;
  error_message: string;
  attempts: number;
  record: unknown;
  created_at: string;
}

function dlqSection(id: string, d: { items: DlqItem[]; total: number }): Html {
  return html`<section id="dlq" aria-labelledby="dlq-h">
<h2 id="dlq-h">Dead-letter queue <small>(${d.total} pending)</small></h2>
<p><a href="/console/pipelines/${id}#dlq">Reload</a></p>
<form method="post" action="/console/pipelines/${id}/dlq">
<table class="compact"><caption>Records the destination rejected after all retries</caption>
<thead><tr><th scope="col"><span class="sr">Select</span></th><th scope="col">Id</th>
<th scope="col">Topic / partition / offset</th><th scope="col">Error</th><th scope="col">Attempts</th><th scope="col">Record</th></tr></thead>
<tbody>${
    d.items.length
      ? d.items.map(
          (r) => html`<tr data-dlq="${r.id}">
  <td><input type="checkbox" name="ids" value="${r.id}" id="dlq-${r.id}" aria-label="select DLQ record ${r.id}"></td>
  <td>${r.id}</td><td>${r.topic} / ${r.partition} / ${r.offset}</td>
  <td><strong>${r.error_class}</strong>: ${r.error_message}</td><td class="n">${r.attempts}</td>
  <td><details><summary>View record ${r.id}</summary><pre>${JSON.stringify({ key: r.key, value: r.record }, null, 2)}</pre></details></td>
</tr>`,
        )
      : html`<tr><td colspan="6">The DLQ is empty.</td></tr>`
  }</tbody></table>
<div class="buttons">
  <button type="submit" name="op" value="replay">Replay selected</button>
  <button type="submit" name="op" value="discard">Discard selected</button>
  <button type="submit" name="op" value="replay-all">Replay all</button>
  <button type="submit" name="op" value="discard-all">Discard all</button>
</div>
</form>
</section>`;
}

export interface AuditItem {
  at: string;
  actor: string;
  origin: string;
  action: string;
  changed_fields: string[];
  remote_addr: string | null;
}

export function detailPage(
  p: { id: string; name: string; tables: string[]; desired_state: string },
  s: StatusItem,
  snaps: Snapshot[],
  dlq: { items: DlqItem[]; total: number },
  audit: AuditItem[],
): Html {
  return html`<h1>Pipeline ${p.name}</h1>
<div class="buttons actions">
  <form method="post" action="/console/pipelines/${p.id}/${p.desired_state === 'paused' ? 'resume' : 'pause'}">
  <button type="submit">${p.desired_state === 'paused' ? 'Resume' : 'Pause'}</button></form>
  <form method="post" action="/console/pipelines/${p.id}/restart"><button type="submit">Restart</button></form>
</div>
${statusPanel(p.id, s)}
<section aria-labelledby="charts-h">
<h2 id="charts-h">Last hour</h2>
<div class="charts" data-metrics="/console/pipelines/${p.id}/metrics.json">
  <figure><figcaption>Lag (records)</figcaption><div class="chart" data-series="lag" role="img" aria-label="sink lag over the last hour"></div></figure>
  <figure><figcaption>Throughput (events/s in and out)</figcaption>
<div class="chart" data-series="throughput" role="img" aria-label="events per second in and out over the last hour"></div></figure>
</div>
</section>
<section aria-labelledby="snap-h">
<h2 id="snap-h">Snapshots</h2>
${snapshotsPanel(p.id, snaps)}
<form method="post" action="/console/pipelines/${p.id}/snapshots" class="snapshot-form">
  <label for="snap-tables">Tables (schema.table, comma-separated)</label>
  <input id="snap-tables" name="tables" required value="${p.tables.join(', ')}" placeholder="public.orders, public.customers">
  <label for="snap-filter">Filter (optional SQL predicate)</label>
  <input id="snap-filter" name="filter" placeholder="created_at > '2026-01-01'">
  <label for="snap-mode">Mode</label>
  <select id="snap-mode" name="mode"><option value="incremental">incremental (streaming continues)</option><option value="blocking">blocking</option></select>
  <button type="submit">Start snapshot</button>
</form>
</section>
${dlqSection(p.id, dlq)}
<section aria-labelledby="verify-h">
<h2 id="verify-h">Verify</h2>
<div id="verify" hx-get="/console/pipelines/${p.id}/fragments/verify" hx-trigger="load"><p>Running the checklist…</p></div>
</section>
<section aria-labelledby="audit-h">
<h2 id="audit-h">Recent changes</h2>
<table class="compact"><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">From</th>
<th scope="col">Action</th><th scope="col">Fields</th></tr></thead>
<tbody>${
    audit.length
      ? audit.map(
          (a) => html`<tr><td>${a.at.replace('T', ' ').slice(0, 19)}</td><td>${a.actor}</td>
<td>${a.origin}</td><td>${a.action}</td><td>${a.changed_fields.join(', ')}</td>
</tr>`,
        )
      : html`<tr><td colspan="5">No change recorded.</td></tr>`
  }</tbody></table>
</section>`;
}

export function verifyPanel(
  id: string,
  v: { pass: boolean; checks: { check: string; pass: boolean; detail: string; table?: string }[]; checked_at: string },
): Html {
  return html`<div id="verify">
<p class="big">${v.pass ? html`<span class="state state-active">PASS</span>` : html`<span class="state state-broken">FAIL</span>`} checked ${v.checked_at.replace('T', ' ').slice(0, 19)} UTC
<button type="button" hx-get="/console/pipelines/${id}/fragments/verify" hx-target="#verify">Run again</button></p>
<ul class="checklist">${v.checks.map((c) => html`<li class="${c.pass ? 'pass' : 'fail'}"><span class="mark">${c.pass ? 'pass' : 'fail'}</span> <strong>${c.check}</strong>${c.table ? html` ${c.table}` : ''}: ${c.detail}</li>`)}</ul>
</div>`;
}

// ---- Consumer groups ----

export function groupsPage(
  items: {
    group: string;
    pipeline_id: string;
    pipeline: string;
    state: string;
    members: number;
    lag: number;
    partitions: { topic: string; partition: number; committed_offset: number; end_offset: number; lag: number }[];
  }[],
): Html {
  return html`<h1>Consumer groups</h1>
${
  items.length
    ? items.map(
        (g) => html`<section class="group" aria-label="${g.group}">
<h2><code>${g.group}</code> <small>pipeline
  <a href="/console/pipelines/${g.pipeline_id}">${g.pipeline}</a> · ${g.state} · ${g.members} member(s) · total lag ${num(g.lag)}</small></h2>
<table class="compact"><thead><tr><th scope="col">Topic</th><th scope="col">Partition</th>
<th scope="col">Committed</th><th scope="col">End</th><th scope="col">Lag</th></tr></thead>
<tbody>${
          g.partitions.length
            ? g.partitions.map(
                (p) => html`<tr><td>${p.topic}</td><td class="n">${p.partition}</td>
<td class="n">${num(p.committed_offset)}</td><td class="n">${num(p.end_offset)}</td><td class="n">${num(p.lag)}</td>
</tr>`,
              )
            : html`<tr><td colspan="5">No committed offsets yet.</td></tr>`
        }</tbody></table>
</section>`,
      )
    : html`<p>No consumer groups.</p>`
}`;
}

// ---- Sources, destinations, transforms ----

function configList(config: Record<string, unknown>, secrets: string[], secretsSet: string[]): Html {
  return html`<dl class="config">${Object.entries(config).map(
    ([k, v]) => html`<dt>${k}</dt>
<dd><code>${typeof v === 'string' ? v : JSON.stringify(v)}</code></dd>`,
  )}
${secrets.map((k) => html`<dt>${k}</dt><dd class="secret">${secretsSet.includes(k) ? 'set' : 'not set'}</dd>`)}</dl>`;
}

export function connectorsPage(
  category: 'source' | 'destination' | 'transform',
  title: string,
  items: {
    id: string;
    name: string;
    kind: string;
    config: Record<string, unknown>;
    secrets_set?: string[];
    tags: Record<string, string>;
  }[],
  users: Map<string, { id: string; name: string }[]>,
): Html {
  return html`<h1>${title}</h1>
<p class="hint">Read-only: change these through the API, Terraform or <code>sluice import</code>. Secret fields show only whether they are set.</p>
${
  items.length
    ? items.map((c) => {
        const spec = connectorSpecs.find((s) => s.category === category && s.kind === c.kind);
        const used = users.get(c.id) ?? [];
        return html`<section class="object" aria-label="${c.name}">
<h2>${c.name} <small>${c.kind}</small></h2>
${configList(c.config, spec ? secretFields(spec) : [], c.secrets_set ?? [])}
${Object.keys(c.tags).length ? html`<p>Tags: ${Object.entries(c.tags).map(([k, v]) => html`<code>${k}=${v}</code> `)}</p>` : ''}
<p>Used by: ${used.length ? used.map((u, i) => html`${i ? ', ' : ''}<a href="/console/pipelines/${u.id}">${u.name}</a>`) : 'no pipeline'}</p>
</section>`;
      })
    : html`<p>None yet.</p>`
}`;
}

// ---- Alerts ----

export function alertsPage(channels: any[], rules: any[], events: any[], pipelineNames: Map<string, string>): Html {
  const chName = new Map(channels.map((c) => [c.id, c.name]));
  return html`<h1>Alerts</h1>
<p class="hint">Read-only: manage channels and rules through <code>/v1/alert-channels</code>, <code>/v1/alert-rules</code>,
  Terraform or <code>sluice import</code>.</p>
<section aria-labelledby="ch-h"><h2 id="ch-h">Channels</h2>
${
  channels.length
    ? html`<table class="compact"><thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Settings</th></tr></thead><tbody>
${channels.map((c) => {
  const kind = channelKinds.find((k) => k.kind === c.kind);
  const secrets = Object.entries(kind?.fields ?? {})
    .filter(([, f]) => f.sensitive)
    .map(([k]) => k);
  // In declaration order (jsonb stores keys in its own order).
  const ordered = Object.fromEntries(
    Object.keys(kind?.fields ?? c.config)
      .filter((k) => k in c.config)
      .map((k) => [k, c.config[k]]),
  );
  return html`<tr><th scope="row">${c.name}</th><td>${c.kind}</td><td>${configList(ordered, secrets, c.secrets_set ?? [])}</td></tr>`;
})}</tbody></table>`
    : html`<p>No channel.</p>`
}
</section>
<section aria-labelledby="rules-h"><h2 id="rules-h">Rules</h2>
${
  rules.length
    ? html`<table class="compact"><thead><tr><th scope="col">Name</th><th scope="col">Condition</th>
<th scope="col">Watches</th><th scope="col">Channels</th><th scope="col">Firing now</th></tr></thead><tbody>
${rules.map(
  (
    r,
  ) => html`<tr data-rule="${r.name}"><th scope="row">${r.name}${r.enabled ? '' : html` <small>(disabled)</small>`}</th>
  <td>${r.condition}${['lag_above', 'dlq_above'].includes(r.condition) ? ` > ${r.threshold}` : ''} for ${r.for_seconds} s</td>
  <td>${
    r.pipeline_id
      ? html`<a href="/console/pipelines/${r.pipeline_id}">${pipelineNames.get(r.pipeline_id) ?? r.pipeline_id}</a>`
      : Object.keys(r.selector).length
        ? `pipelines tagged ${Object.entries(r.selector)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}`
        : 'every pipeline'
  }</td>
  <td>${r.channel_ids.map((id: string) => chName.get(id) ?? id).join(', ')}</td>
  <td>${r.firing.length ? r.firing.map((f: any) => html`<span class="state state-broken">${f.pipeline}</span> `) : 'no'}</td></tr>`,
)}</tbody></table>`
    : html`<p>No rule.</p>`
}
</section>
<section aria-labelledby="ev-h"><h2 id="ev-h">Recent notifications</h2>
${
  events.length
    ? html`<table class="compact"><thead><tr><th scope="col">When</th><th scope="col">Event</th>
<th scope="col">Rule</th><th scope="col">Pipeline</th><th scope="col">Detail</th><th scope="col">Deliveries</th></tr></thead><tbody>
${events.map(
  (e) => html`<tr data-event="${e.event}"><td>${e.at.replace('T', ' ').slice(0, 19)}</td>
<td><span class="state state-${e.event === 'firing' ? 'broken' : 'active'}">${e.event}</span></td>
  <td>${e.rule}</td><td>${e.pipeline}</td><td>${e.value ?? ''}${e.reason ? html` <span class="reason">${e.reason}</span>` : ''}</td>
  <td>${e.deliveries.map((d: any) => html`<span class="delivery delivery-${d.status}">${d.channel}: ${d.status}${d.attempts > 1 ? ` after ${d.attempts} attempts` : ''}${d.status !== 'delivered' && d.last_error ? ` (${d.last_error})` : ''}</span> `)}</td></tr>`,
)}</tbody></table>`
    : html`<p>No notification yet.</p>`
}
</section>`;
}
