import { Client } from 'pg';
import { Logger } from 'pino';
import { SecretBox } from '../../core/secrets';
import { allStatuses, PipelineStatus } from '../status';
import { SAMPLE_MS, sampleMetrics } from '../metrics-history';
import { Notification, scrub, send } from './channels';
import { openChannel, RuleRow } from './objects';
import { findChannelKind } from '../../core/alert-spec';

/** Advisory-lock key of the alert leader (any constant unique to Sluice). */
const LEADER_LOCK = 727274015;
const TICK_MS = 1000;
const EVALUATE_MS = 2000;
const VERIFY_EVERY_MS = 60_000;
const MAX_ATTEMPTS = 20;
const BACKOFF_MAX_MS = 300_000;

type Q = (sql: string, args?: unknown[]) => Promise<any[]>;
interface StateRow {
  rule_id: string;
  pipeline_id: string;
  firing: boolean;
  pending_since: Date | null;
  seq: number;
}
interface Verdict {
  holds: boolean;
  since?: string;
  holdMs: number;
  value: string | null;
  reason: string | null;
}

export interface AlertEngineOptions {
  databaseUrl: string;
  secrets: SecretBox;
  log: Logger;
  /** Runs the verify checklist of a pipeline (api/routes/operations.ts). */
  verify: (
    pipelineId: string,
  ) => Promise<{ pass: boolean; checks: { check: string; pass: boolean; table?: string }[] }>;
  /** Public base URL of the console, for links in notifications (SLUICE_CONSOLE_URL). */
  consoleUrl?: string;
}

/**
 * Alert evaluation, the metrics history and notification delivery, in exactly one process at a
 * time: every API process runs an AlertEngine, and only the one holding a Postgres advisory lock
 * (on a session of its own) works. Every write of the leader goes through that same session, so a
 * process that lost the lock (its session died) cannot write a transition after another process
 * took over: the lock is the fence.
 *
 * Exactly once per transition: the transition (alert_states) and its notification (alert_events,
 * unique per rule, pipeline, transition number and event) and the deliveries to each channel
 * (alert_deliveries, the outbox, unique per notification and channel) commit in one transaction.
 * Delivery retries with exponential backoff until it succeeds or MAX_ATTEMPTS, and survives a
 * restart because the outbox is in the control DB. A crash between a receiver's 2xx and the
 * delivered mark resends that one delivery; it carries the same notification id (header
 * X-Sluice-Notification-Id, email Message-ID), so receivers can drop it.
 */
export class AlertEngine {
  private lead: Client | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private lastSample = 0;
  private lastEvaluate = 0;
  private verdicts = new Map<string, { at: number; pass: boolean; failing: string }>();
  private verifying = new Set<string>();

  constructor(private o: AlertEngineOptions) {}

  get isLeader(): boolean {
    return this.lead !== null;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.resign();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.lead) await this.campaign();
        if (this.lead) await this.tick();
      } catch (e) {
        this.o.log.warn({ err: (e as Error).message }, 'alert engine tick failed');
        if (this.lead && !(await this.alive())) await this.resign();
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, this.lead ? TICK_MS : 2000);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  private async campaign(): Promise<void> {
    const c = new Client({
      connectionString: this.o.databaseUrl,
      application_name: 'sluice-alert-leader',
      keepAlive: true,
      connectionTimeoutMillis: 5000,
    });
    c.on('error', () => undefined);
    try {
      await c.connect();
      const { rows } = await c.query('SELECT pg_try_advisory_lock($1) AS got', [LEADER_LOCK]);
      if (!rows[0].got) {
        await c.end();
        return;
      }
    } catch {
      await c.end().catch(() => undefined);
      return;
    }
    c.on('end', () => {
      if (this.lead === c) this.lead = null;
    });
    this.lead = c;
    this.o.log.info('alert engine: this process is the leader (evaluation, metrics history, deliveries)');
  }

  private async alive(): Promise<boolean> {
    try {
      await this.lead!.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  private async resign(): Promise<void> {
    const c = this.lead;
    this.lead = null;
    await c?.end().catch(() => undefined);
  }

  private q: Q = async (sql, args) => {
    if (!this.lead) throw new Error('not the alert leader');
    return (await this.lead.query(sql, args as unknown[])).rows;
  };

  private async tick(): Promise<void> {
    const now = Date.now();
    if (now - this.lastSample >= SAMPLE_MS) {
      this.lastSample = now;
      await sampleMetrics({ query: this.q });
    }
    if (now - this.lastEvaluate >= EVALUATE_MS) {
      this.lastEvaluate = now;
      await this.evaluate();
    }
    await this.deliver();
  }

  // ---- evaluation ----

  private async evaluate(): Promise<void> {
    const rules: RuleRow[] = await this.q(`SELECT * FROM alert_rules ORDER BY created_at`);
    const states: StateRow[] = await this.q(`SELECT * FROM alert_states`);
    if (!rules.length && !states.length) return;
    const statuses = await allStatuses({ query: this.q });
    const heartbeats = new Map<string, number>(
      (
        await this.q(
          "SELECT p.id, coalesce((c.config->>'heartbeat_interval_ms')::int, 0) " +
            'AS hb FROM pipelines p JOIN connectors c ON c.id = p.source_id',
        )
      ).map((r) => [r.id, r.hb]),
    );
    const key = (r: string, p: string) => `${r}/${p}`;
    const byKey = new Map(states.map((s) => [key(s.rule_id, s.pipeline_id), s]));
    const seen = new Set<string>();
    const now = Date.now();
    for (const rule of rules) {
      for (const st of statuses.filter((s) => watches(rule, s))) {
        const k = key(rule.id, st.id);
        seen.add(k);
        const v = rule.enabled
          ? this.verdict(rule, st, heartbeats.get(st.id) ?? 0, now)
          : { holds: false, holdMs: 0, value: null, reason: 'rule disabled' };
        await this.step(rule, st, byKey.get(k), v, now);
      }
    }
    // A firing alert whose rule or pipeline no longer applies resolves; idle states are dropped.
    for (const s of states.filter((x) => !seen.has(key(x.rule_id, x.pipeline_id)))) {
      const rule = rules.find((r) => r.id === s.rule_id);
      const st = statuses.find((p) => p.id === s.pipeline_id);
      if (s.firing && rule && st)
        await this.step(
          rule,
          st,
          s,
          { holds: false, holdMs: 0, value: null, reason: 'the rule no longer watches this pipeline' },
          now,
        );
      else
        await this.q(`DELETE FROM alert_states WHERE rule_id = $1 AND pipeline_id = $2 AND NOT firing`, [
          s.rule_id,
          s.pipeline_id,
        ]);
    }
  }

  private verdict(rule: RuleRow, st: PipelineStatus, heartbeatMs: number, now: number): Verdict {
    const holdMs = rule.for_seconds * 1000;
    const threshold = Number(rule.threshold);
    switch (rule.condition) {
      case 'broken':
        return { holds: st.state === 'Broken', since: st.since, holdMs, value: st.state, reason: st.reason };
      case 'lag_above':
        return {
          holds: st.state !== 'Paused' && st.sink.lag !== null && st.sink.lag > threshold,
          holdMs,
          value: `lag ${st.sink.lag ?? 'unknown'}`,
          reason: `sink lag above ${threshold} records`,
        };
      case 'dlq_above':
        return {
          holds: st.dlq.count > threshold,
          holdMs,
          value: `${st.dlq.count} in the DLQ`,
          reason: `DLQ count above ${threshold}`,
        };
      case 'no_source_event': {
        const last = Date.parse(st.source.last_event_at ?? st.since);
        const silent = now - last;
        const holds = heartbeatMs > 0 && st.desired_state === 'running' && st.state !== 'Paused' && silent > holdMs;
        return {
          holds,
          holdMs: 0,
          value: `last source event ${st.source.last_event_at ?? 'never'}`,
          reason: `no source event for ${Math.round(silent / 1000)} s (heartbeats every ${heartbeatMs} ms)`,
        };
      }
      case 'verify_failing': {
        this.refreshVerify(st, now);
        const r = this.verdicts.get(st.id);
        return {
          holds: !!r && !r.pass,
          holdMs,
          value: r ? (r.pass ? 'pass' : 'fail') : null,
          reason: r && !r.pass ? `failing: ${r.failing}` : null,
        };
      }
      default:
        return { holds: false, holdMs, value: null, reason: null };
    }
  }

  /** Verify opens the source and destination databases: run it at most once a minute per pipeline, in the background. */
  private refreshVerify(st: PipelineStatus, now: number) {
    const have = this.verdicts.get(st.id);
    if ((have && now - have.at < VERIFY_EVERY_MS) || this.verifying.has(st.id) || this.verifying.size >= 2) return;
    this.verifying.add(st.id);
    this.o
      .verify(st.id)
      .then(
        (v) =>
          this.verdicts.set(st.id, {
            at: Date.now(),
            pass: v.pass,
            failing: v.checks
              .filter((c) => !c.pass)
              .map((c) => (c.table ? `${c.check} ${c.table}` : c.check))
              .join(', '),
          }),
        (e) =>
          this.verdicts.set(st.id, { at: Date.now(), pass: false, failing: `verify error: ${(e as Error).message}` }),
      )
      .finally(() => this.verifying.delete(st.id));
  }

  /** Advances one (rule, pipeline) state machine; a transition and its outbox rows commit together. */
  private async step(
    rule: RuleRow,
    st: PipelineStatus,
    prev: StateRow | undefined,
    v: Verdict,
    now: number,
  ): Promise<void> {
    const firing = prev?.firing ?? false;
    const pendingSince = v.holds
      ? prev?.pending_since
        ? new Date(prev.pending_since).getTime()
        : Math.min(now, v.since ? Date.parse(v.since) : now)
      : null;
    const fire = v.holds && !firing && now - pendingSince! >= v.holdMs;
    const resolve = !v.holds && firing;
    if (!fire && !resolve) {
      const had = prev?.pending_since ? new Date(prev.pending_since).getTime() : null;
      if (had !== pendingSince) {
        await this.q(
          `INSERT INTO alert_states (rule_id, pipeline_id, pending_since) VALUES ($1, $2, $3)
                      ON CONFLICT (rule_id, pipeline_id) DO UPDATE SET pending_since = EXCLUDED.pending_since`,
          [rule.id, st.id, pendingSince ? new Date(pendingSince) : null],
        );
      }
      return;
    }
    const seq = (prev?.seq ?? 0) + (fire ? 1 : 0);
    const event = fire ? 'firing' : 'resolved';
    await this.q('BEGIN');
    try {
      // The state row guards the transition: it changes only from the state this evaluation read.
      const moved = await this.q(
        `INSERT INTO alert_states (rule_id, pipeline_id, firing, pending_since, changed_at, seq) VALUES ($1, $2, $3, $4, now(), $5)
         ON CONFLICT (rule_id, pipeline_id) DO UPDATE SET firing = EXCLUDED.firing, pending_since =
         EXCLUDED.pending_since, changed_at = now(), seq = EXCLUDED.seq
         WHERE alert_states.firing = $6 AND alert_states.seq = $7 RETURNING 1`,
        [rule.id, st.id, fire, pendingSince ? new Date(pendingSince) : null, seq, firing, prev?.seq ?? 0],
      );
      if (moved.length) {
        const ev = await this.q(
          `INSERT INTO alert_events (rule_id, rule_name, pipeline_id, pipeline_name, seq, event, condition, value,
          reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT ON CONSTRAINT alert_events_transition DO NOTHING RETURNING id`,
          [rule.id, rule.name, st.id, st.name, seq, event, rule.condition, v.value, v.reason],
        );
        if (ev.length) {
          await this.q(
            'INSERT INTO alert_deliveries (event_id, channel_id, channel_name) ' +
              'SELECT $1, id, name FROM alert_channels WHERE id = ANY($2::uuid[]) ON ' +
              'CONFLICT DO NOTHING',
            [ev[0].id, rule.channel_ids],
          );
        }
      }
      await this.q('COMMIT');
      if (moved.length)
        this.o.log.info({ rule_id: rule.id, pipeline_id: st.id, event, value: v.value }, `alert ${event}`);
    } catch (e) {
      await this.q('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  // ---- delivery (the outbox) ----

  private async deliver(): Promise<void> {
    // The oldest pending delivery of a (channel, rule, pipeline) goes first: a resolve never overtakes its fire.
    const due = await this.q(`
      SELECT d.id, d.attempts, d.channel_id, e.id AS event_id, e.event, e.rule_id, e.rule_name, e.pipeline_id,
      e.pipeline_name, e.condition, e.value, e.reason, e.at,
             c.kind, c.config, c.secrets, r.threshold, r.for_seconds
      FROM alert_deliveries d JOIN alert_events e ON e.id = d.event_id
      LEFT JOIN alert_channels c ON c.id = d.channel_id LEFT JOIN alert_rules r ON r.id = e.rule_id
      WHERE d.status = 'pending' AND d.next_attempt_at <= now()
        AND NOT EXISTS (SELECT 1 FROM alert_deliveries d2 JOIN alert_events e2 ON e2.id = d2.event_id
                        WHERE d2.status = 'pending' AND d2.channel_id = d.channel_id AND e2.rule_id = e.rule_id AND
                        e2.pipeline_id = e.pipeline_id AND d2.id < d.id)
      ORDER BY d.id LIMIT 20`);
    await Promise.all(due.map((d) => this.deliverOne(d)));
  }

  private async deliverOne(d: any): Promise<void> {
    if (!d.kind) {
      await this.q(
        `UPDATE alert_deliveries SET status = 'dropped', last_error = 'the channel was deleted' WHERE id = $1`,
        [d.id],
      );
      return;
    }
    let cfg: Record<string, any> = {};
    const secretFields = Object.entries(findChannelKind(d.kind)?.fields ?? {})
      .filter(([, f]) => f.sensitive)
      .map(([k]) => k);
    const n: Notification = {
      id: `sluice-alert-${d.event_id}`,
      event: d.event,
      rule: {
        id: d.rule_id,
        name: d.rule_name,
        condition: d.condition,
        threshold: Number(d.threshold ?? 0),
        for_seconds: Number(d.for_seconds ?? 0),
      },
      pipeline: { id: d.pipeline_id, name: d.pipeline_name },
      value: d.value,
      reason: d.reason,
      at: new Date(d.at).toISOString(),
      console_url: this.o.consoleUrl
        ? `${this.o.consoleUrl.replace(/\/$/, '')}/console/pipelines/${d.pipeline_id}`
        : null,
    };
    try {
      cfg = openChannel(d, this.o.secrets);
      await send(d.kind, cfg, n);
      await this.q(
        "UPDATE alert_deliveries SET status = 'delivered', attempts = attempts " +
          '+ 1, delivered_at = now(), last_error = NULL WHERE id = $1',
        [d.id],
      );
      this.o.log.info(
        { delivery_id: Number(d.id), channel_id: d.channel_id, pipeline_id: d.pipeline_id, event: d.event },
        'alert delivered',
      );
    } catch (e) {
      const attempts = d.attempts + 1;
      const err = scrub(
        String((e as Error & { cause?: Error }).cause?.message ?? (e as Error).message),
        cfg,
        secretFields,
      );
      const wait = Math.min(BACKOFF_MAX_MS, 1000 * 2 ** (attempts - 1)) * (0.8 + Math.random() * 0.4);
      await this.q(
        `UPDATE alert_deliveries SET attempts = $2::int, last_error = $3, status = CASE WHEN $2::int >= $4::int THEN 'failed' ELSE 'pending' END,
                    next_attempt_at = now() + make_interval(secs => $5::float8 / 1000) WHERE id = $1`,
        [d.id, attempts, err, MAX_ATTEMPTS, wait],
      );
      this.o.log.warn(
        { delivery_id: Number(d.id), channel_id: d.channel_id, pipeline_id: d.pipeline_id, attempts, err },
        'alert delivery failed; will retry',
      );
    }
  }
}

/** Whether a rule watches a pipeline: its pipeline_id, else every pipeline carrying all selector tags. */
export function watches(
  rule: Pick<RuleRow, 'pipeline_id' | 'selector'>,
  st: Pick<PipelineStatus, 'id' | 'tags'>,
): boolean {
  if (rule.pipeline_id) return rule.pipeline_id === st.id;
  return Object.entries(rule.selector ?? {}).every(([k, v]) => st.tags[k] === v);
}
