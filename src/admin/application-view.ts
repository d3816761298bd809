// An application as the admin API and the audit trail show it, and what changed between two views.
import type { Application } from '../features/applications/service.ts';

/** An application as the admin API shows it (never its API key: that is shown once, when made). */
export function view(app: Application) {
  return {
    id: app.id,
    name: app.name,
    created_at: new Date(app.createdAt).toISOString(),
    sms_enabled: app.smsEnabled,
    calls_enabled: app.callsEnabled,
    onetouch_enabled: app.onetouchEnabled,
    settings: app.settings,
    allowed_countries: app.allowedCountries ?? [],
    onetouch_callback: app.onetouchCallback ?? null,
  };
}

/** Fields of an application that differ: { field: [before, after] } (after null: deleted). */
export function applicationChanges(before: ReturnType<typeof view>, after: ReturnType<typeof view> | undefined): Record<string, [unknown, unknown]> {
  const out: Record<string, [unknown, unknown]> = {};
  if (!after) return { application: [before.name, null] };
  for (const key of ['name', 'sms_enabled', 'calls_enabled', 'onetouch_enabled', 'allowed_countries', 'onetouch_callback'] as const) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) out[key] = [before[key], after[key]];
  }
  for (const [key, value] of Object.entries(after.settings)) {
    const was = (before.settings as unknown as Record<string, unknown>)[key];
    if (JSON.stringify(was) !== JSON.stringify(value)) out[`settings.${key}`] = [was, value];
  }
  return out;
}
