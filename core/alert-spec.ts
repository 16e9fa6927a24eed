import type { FieldSpec } from './spec';
import { HTTP_URL_RE, UUID_RE as uuid } from './patterns';

/**
 * The one declaration of alert channels and alert rules, in the same FieldSpec form as connector
 * kinds: API validation, OpenAPI, the Terraform resources sluice_alert_channel and sluice_alert_rule,
 * export/import and docs/alerts.md are derived from it. Kept free of database imports (the provider
 * loads it).
 *
 * A channel's fields are named uniquely across kinds (webhook_url, slack_webhook_url, smtp_host, ...)
 * because Terraform has one resource for every kind: its attributes are the union, and a field of
 * another kind must stay unset. Channel fields have no declared defaults for the same reason (a
 * default would show up in the state of every other kind); defaults apply when sending.
 */
export interface ChannelKind {
  kind: string;
  title: string;
  description: string;
  fields: Record<string, FieldSpec>;
}

const httpUrl = HTTP_URL_RE;

export const channelKinds: readonly ChannelKind[] = [
  {
    kind: 'webhook',
    title: 'Webhook',
    description:
      'POSTs each notification as JSON, signed with HMAC-SHA256 in the X-Sluice-Signature header (see docs/alerts.md).',
    fields: {
      webhook_url: {
        type: 'string',
        required: true,
        pattern: httpUrl,
        patternHint: 'an http:// or https:// URL',
        maxLength: 2000,
        description: 'URL the notification is POSTed to.',
      },
      webhook_secret: {
        type: 'string',
        required: true,
        sensitive: true,
        maxLength: 1024,
        description: 'Key of the HMAC-SHA256 signature over "<timestamp>.<body>". Write-only.',
      },
    },
  },
  {
    kind: 'slack',
    title: 'Slack-compatible incoming webhook',
    description: 'POSTs {"text": ...} to a Slack (or Mattermost, Rocket.Chat, ...) incoming webhook.',
    fields: {
      slack_webhook_url: {
        type: 'string',
        required: true,
        sensitive: true,
        pattern: httpUrl,
        patternHint: 'an http:// or https:// URL',
        maxLength: 2000,
        description: 'Incoming webhook URL. It is a credential: write-only.',
      },
    },
  },
  {
    kind: 'email',
    title: 'Email over SMTP',
    description: 'Sends a plain-text email per notification through an SMTP server (nodemailer).',
    fields: {
      smtp_host: { type: 'string', required: true, maxLength: 255, description: 'SMTP server host name or address.' },
      smtp_port: {
        type: 'integer',
        min: 1,
        max: 65535,
        description: 'SMTP port. Unset: 465 with smtp_tls "tls", else 587.',
      },
      smtp_tls: {
        type: 'string',
        enum: ['starttls', 'tls', 'none'],
        description:
          'starttls (upgrade, required; the unset default), tls (TLS from the ' +
          'first byte) or none (plain text, for a local relay).',
      },
      smtp_user: {
        type: 'string',
        maxLength: 255,
        description: 'User for SMTP AUTH; unset sends without authentication.',
      },
      smtp_password: {
        type: 'string',
        sensitive: true,
        maxLength: 1024,
        description: 'Password of smtp_user. Write-only.',
      },
      email_from: {
        type: 'string',
        required: true,
        maxLength: 320,
        pattern: /^[^\s@]+@[^\s@]+$/,
        patternHint: 'an address like alerts@example.com',
        description: 'Sender address.',
      },
      email_to: {
        type: 'list',
        required: true,
        maxLength: 320,
        pattern: /^[^\s@]+@[^\s@]+$/,
        patternHint: 'addresses like oncall@example.com',
        description: 'Recipient addresses.',
      },
    },
  },
];

export const CONDITIONS = ['broken', 'lag_above', 'dlq_above', 'no_source_event', 'verify_failing'] as const;
export type Condition = (typeof CONDITIONS)[number];

/** The rule, declared like a pipeline (top-level fields, no config object). */
export const alertRuleSpec = {
  title: 'Alert rule',
  description:
    'Watches one pipeline, or every pipeline whose tags match `selector`, ' +
    'and notifies its channels once when the condition starts to hold and ' +
    'once when it stops.',
  fields: {
    condition: {
      type: 'string',
      required: true,
      enum: CONDITIONS,
      description:
        'broken: state Broken for for_seconds. lag_above: sink lag (records) ' +
        'above threshold for for_seconds. dlq_above: DLQ count above threshold ' +
        'for for_seconds. no_source_event: no source event (change or ' +
        'heartbeat) for for_seconds while the source has heartbeats ' +
        'configured. verify_failing: the verify checklist fails for ' +
        'for_seconds (checked at most once a minute).',
    },
    pipeline_id: {
      type: 'string',
      pattern: uuid,
      patternHint: 'the id (uuid) of a pipeline',
      description: 'The pipeline watched. Unset: every pipeline whose tags match selector.',
    },
    selector: {
      type: 'map',
      default: {},
      description:
        'With pipeline_id unset: the tags a pipeline must have (all of them) to be watched. Empty: every pipeline.',
    },
    threshold: {
      type: 'integer',
      default: 0,
      min: 0,
      max: 1_000_000_000_000,
      description: 'lag_above: records; dlq_above: records. Ignored by the other conditions.',
    },
    for_seconds: {
      type: 'integer',
      default: 60,
      min: 0,
      max: 604_800,
      description:
        'How long the condition must hold before the rule fires (no_source_event: how long the source must be silent).',
    },
    channel_ids: {
      type: 'list',
      required: true,
      minItems: 1,
      uniqueItems: true,
      pattern: uuid,
      patternHint: 'ids (uuid) of alert channels',
      description: 'Alert channels notified when the rule fires and when it resolves (at least one, each once).',
    },
    enabled: {
      type: 'boolean',
      default: true,
      description: 'false: the rule is not evaluated (a firing alert resolves).',
    },
  } satisfies Record<string, FieldSpec>,
  /** Pairs of fields of which at most one may be set (a map is set when it has an entry). */
  exclusive: [['pipeline_id', 'selector']] as const,
};

/** Whether a value of a rule field counts as set, for `exclusive`. */
export const isSet = (v: unknown) =>
  v !== undefined && v !== null && !(typeof v === 'object' && !Array.isArray(v) && !Object.keys(v).length);

export const channelSpec = {
  title: 'Alert channel',
  description: 'Where notifications go: a signed webhook, a Slack-compatible incoming webhook or email over SMTP.',
  kindField: {
    type: 'string',
    required: true,
    enum: channelKinds.map((k) => k.kind),
    forcesReplacement: true,
    description: `Kind of channel: ${channelKinds.map((k) => k.kind).join(', ')}.`,
  } satisfies FieldSpec,
  /** Every kind's fields, for Terraform (one resource for all kinds). */
  allFields: Object.fromEntries(
    channelKinds.flatMap((k) =>
      Object.entries(k.fields).map(([n, f]) => [
        n,
        {
          ...f,
          required: false,
          description: `(${k.kind}) ${f.description}${f.required ? ' Required for this kind.' : ''}`,
        },
      ]),
    ),
  ) as Record<string, FieldSpec>,
};

export const findChannelKind = (kind: unknown) => channelKinds.find((k) => k.kind === kind);
