// An application at a glance: totals of the period and charts per day of messages by channel,
// token verifications by result, approvals by outcome and phone verifications by result; the
// period can be changed.
import { h, show, type Child } from '../../../shared/dom.ts';
import { api, type Application, type TrafficDay } from '../api.ts';
import { dailyChart } from '../charts.ts';
import { attempt, count, field, section, statusLine } from '../ui.ts';

const COLOURS = { sms: '#2f6fde', voice: '#8e44ad', email: '#0f7b6c', blocked: '#b42318', approved: '#067647', denied: '#b42318', expired: '#8a6d00', pending: '#57606a', verified: '#067647', dead: '#b42318', valid: '#067647', invalid: '#b42318', reused: '#8a6d00', locked: '#57606a' };
const colour = (k: string) => (COLOURS as Record<string, string>)[k] ?? '#57606a';
const sum = (o: Record<string, number> | undefined) => Object.values(o ?? {}).reduce((a, b) => a + b, 0);

function charts(days: TrafficDay[]): Child[] {
  const dates = days.map((d) => d.date);
  // Sent messages by channel; those the pumping defence blocked as their own series.
  const channels = ['sms', 'voice', 'email'];
  const sentBy = (c: string) => days.map((d) => sum(d.messages[c]) - (d.messages[c]?.blocked ?? 0));
  const blocked = days.map((d) => channels.reduce((a, c) => a + (d.messages[c]?.blocked ?? 0), 0));
  const keysOf = (pick: (d: TrafficDay) => Record<string, number> | undefined, order: string[]) => {
    const seen = new Set(days.flatMap((d) => Object.keys(pick(d) ?? {})));
    return [...order.filter((k) => seen.has(k)), ...[...seen].filter((k) => !order.includes(k)).sort()];
  };
  const byOutcome = (pick: (d: TrafficDay) => Record<string, number> | undefined, order: string[]) =>
    keysOf(pick, order).map((k) => ({ label: k, colour: colour(k), values: days.map((d) => pick(d)?.[k] ?? 0) }));
  const label = { sms: 'SMS', voice: 'voice', email: 'email' } as Record<string, string>;
  return [
    dailyChart({
      testId: 'chart-messages',
      title: 'Messages by channel',
      unit: ['message', 'messages'],
      days: dates,
      series: [...channels.map((c) => ({ label: label[c], colour: colour(c), values: sentBy(c) })), { label: 'blocked', colour: colour('blocked'), values: blocked }],
    }),
    dailyChart({ testId: 'chart-tokens', title: 'Token verifications by result', unit: ['token check', 'token checks'], days: dates, series: byOutcome((d) => d.token_checks, ['valid', 'invalid', 'reused', 'locked']) }),
    dailyChart({ testId: 'chart-approvals', title: 'OneTouch requests by outcome', unit: ['request', 'requests'], days: dates, series: byOutcome((d) => d.approvals, ['approved', 'denied', 'expired', 'pending']) }),
    dailyChart({ testId: 'chart-verifications', title: 'Phone verifications by result', unit: ['phone verification', 'phone verifications'], days: dates, series: byOutcome((d) => d.verifications, ['verified', 'pending', 'expired', 'dead']) }),
  ];
}

export async function overviewPage(app: Application): Promise<Child[]> {
  const status = statusLine();
  const body = h('div', { class: 'overview' });
  const period = h('select', { name: 'days' }, ...[7, 14, 30, 90].map((d) => h('option', { value: d, selected: d === 14 }, `Last ${d} days`))) as HTMLSelectElement;
  const draw = async () => {
    const days = await api.traffic(app.id, Number(period.value));
    const total = (pick: (d: TrafficDay) => number) => days.reduce((a, d) => a + pick(d), 0);
    const messages = total((d) => Object.values(d.messages).reduce((a, by) => a + sum(by), 0));
    const blocked = total((d) => Object.values(d.messages).reduce((a, by) => a + (by.blocked ?? 0), 0));
    const approvals = total((d) => sum(d.approvals));
    const verifications = total((d) => sum(d.verifications));
    const checks = total((d) => sum(d.token_checks));
    const tile = (n: number, unit: [string, string], testId: string) => h('div', { class: 'tile', 'data-testid': testId }, h('strong', {}, n.toLocaleString('en')), h('span', {}, n === 1 ? unit[0] : unit[1]));
    show(
      body,
      h(
        'div',
        {
          class: 'tiles',
          'data-testid': 'traffic-summary',
          'aria-label': `${count(messages, 'message')} (${blocked} blocked by the pumping defence), ${count(checks, 'token check')}, ${count(approvals, 'approval request')}, ${count(verifications, 'phone verification')}`,
        },
        tile(messages, ['message', 'messages'], 'tile-messages'),
        tile(blocked, ['blocked by the pumping defence', 'blocked by the pumping defence'], 'tile-blocked'),
        tile(checks, ['token check', 'token checks'], 'tile-tokens'),
        tile(approvals, ['OneTouch request', 'OneTouch requests'], 'tile-approvals'),
        tile(verifications, ['phone verification', 'phone verifications'], 'tile-verifications'),
      ),
      h('div', { class: 'charts' }, ...charts(days)),
    );
  };
  period.addEventListener('change', () => void attempt(status, draw));
  await attempt(status, draw);
  return [
    h('p', { class: 'meta' }, `Application ${app.id}, created ${app.created_at.slice(0, 10)}.`),
    section('Traffic', null, h('div', { class: 'row-form' }, field('Period', period)), body, status),
  ];
}
