// What the CLI accepts, and its help: kept apart from the commands so that `--help` answers
// without loading the server, the store or their dependencies.
import { parseArgs } from 'node:util';
import type { Settings } from '../features/applications/service.ts';

export const USAGE = `Usage: openfactor <command>

  serve                          run the HTTP server (default)
  migrate                        create or upgrade the database schema
  apps create --name NAME [--json]   create an application and print its API key (names are
                                 unique, ignoring case)
  apps list [--json]             list applications
  apps rename --app ID --name NAME [--json]
                                 rename an application (names are unique, ignoring case)
  apps delete --app ID --confirm NAME [--json]
                                 delete an application and all its data (users, devices,
                                 messages, logs…) at once; its API key stops working
  apps settings --app ID [--json] [--token-length 6..8] [--code-ttl SECONDS] [--generic-tokens on|off]
                [--verify-max-failures N] [--verify-failure-window SECONDS] [--verify-lockout SECONDS]
                [--sends-per-hour N] [--sms-fallback-voice on|off] [--sync-tokens on|off]
                [--number-matching on|off] [--custom-message on|off] [--custom-code on|off]
                [--phone-export on|off] [--unregistered-verify check|legacy] [--recovery-codes-on-devices on|off]
                [--daily-send-budget N] [--sends-per-number-hour N] [--sends-per-number-day N]
                [--prefix-sends-per-window N] [--country-sends-per-window N] [--countries PT,BR,…|""]
                                 show an application's settings, changing those given
  apps providers --app ID [--sms URLS] [--voice URLS] [--email URLS] [--json]
                                 show an application's own provider lists (credentials hidden),
                                 changing those given; an empty list ("") returns that channel
                                 to the service's providers
  apps callback --app ID [--url URL] [--method POST|GET] [--json]
                                 show or set where answered and expired OneTouch requests are
                                 reported (signed with the API key); --url "" removes it
  apps dashboard-keys --app ID [--json]
                                 new access key and API signing key for the webhooks API
                                 (shown only now; the old ones stop working)
  keys rotate --app ID [--json]  replace an application's API key (the old one stops working)
  keys reseal [--json]           seal every secret again with the current master key (after
                                 OPENFACTOR_MASTER_KEY changed, the old key in
                                 OPENFACTOR_PREVIOUS_MASTER_KEYS), and values of the older
                                 sealed format (v1) in the current one; the server may be running
  users import --app ID --file FILE|- [--dry-run] [--json]
                                 import users, one JSON object per line: email, cellphone (or
                                 phone_number) and country_code, or e164; authy_id keeps the
                                 id they had at Authy; authenticator_secret (base32) keeps
                                 their authenticator app working. Progress on stderr; with
                                 --json each line's outcome on stdout
  backup --to FILE               SQLite: a consistent copy of the database, taken while the
                                 server runs (PostgreSQL: says how with pg_dump)
  restore --from FILE            SQLite, with OpenFactor stopped: check a backup (integrity, the
                                 master key opens it), upgrade it and put it in place; the
                                 database it replaces is kept beside it
  verify accounts create --name NAME [--json]
                                 a Twilio Verify v2 account (AC…) and its auth token, printed
                                 only now (Basic auth on /v2/…; it will sign Verify webhooks)
  verify accounts list [--json]  Verify accounts (never their auth tokens)
  verify keys create --account AC… [--name NAME] [--json]
                                 an API key (SK…) of the account and its secret, printed only now
  verify keys list --account AC… [--json]
                                 the account's API keys (never their secrets)
  admins add --email EMAIL --role owner|admin|support|read_only [--name NAME] [--app ID] [--json]
                                 an administrator of the console; the password is read from
                                 standard input; prints their authenticator (otpauth link, QR)
  admins add … --sso-only        no password: they sign in through single sign-on only
  admins list [--json]           administrators, with role and last sign-in
  admins disable --id ID         no more sign-in; their sessions end at once
  admins onetouch --id ID --app ID --authy-id ID | --off
                                 the user (with a registered device) whose OneTouch approvals
                                 are this administrator's second factor; --off unlinks
  tokens create --name NAME --role owner|admin|support|read_only [--app ID] [--json]
                                 an API token for automation (Bearer on /admin/…), printed only
                                 now; --app limits it to one application
  tokens list [--json]           API tokens, with role, application and last use (never the token)
  tokens revoke --id ID [--json] revoke an API token: it stops at once
  audit verify [--json]          check the audit trail's chain: exit 1, naming the entries, if one
                                 was edited or deleted (or entries cut from its end)
  audit export [--app ID]        the audit trail as JSON lines, oldest first
  outbox [--app ID] [--limit N] [--json]
                                 recent messages, newest first, with status, provider and attempts;
                                 texts of console-delivered ones (the development provider)
                                 included, so you can read your code

Environment: PORT, HOST, OPENFACTOR_DATA_DIR, DATABASE_URL, OPENFACTOR_MASTER_KEY, LOG_LEVEL,
OPENFACTOR_PREVIOUS_MASTER_KEYS, OPENFACTOR_SEAL_FORMAT, OPENFACTOR_PUBLIC_URL, OPENFACTOR_ADMIN_TOKEN,
OPENFACTOR_OUTBOX_WORKER, OPENFACTOR_SMS_PROVIDERS, OPENFACTOR_VOICE_PROVIDERS, OPENFACTOR_EMAIL_PROVIDERS,
OPENFACTOR_CONFIG (see README)`;

/** `apps settings` flags → settings; values are checked against SETTING_BOUNDS. */
export const SETTING_FLAGS: Record<string, keyof Settings> = {
  'token-length': 'tokenLength',
  'code-ttl': 'codeTtlSeconds',
  'generic-tokens': 'genericTokensEnabled',
  'verify-max-failures': 'verifyMaxFailures',
  'verify-failure-window': 'verifyFailureWindowSeconds',
  'verify-lockout': 'verifyLockoutSeconds',
  'sends-per-hour': 'sendsPerHour',
  'sms-fallback-voice': 'smsFallbackToVoice',
  'sync-tokens': 'syncTokens',
  'number-matching': 'numberMatching',
  'custom-message': 'customMessageAllowed',
  'custom-code': 'customCodeAllowed',
  'phone-export': 'phoneExportEnabled',
  'daily-send-budget': 'dailySendBudget',
  'sends-per-number-hour': 'sendsPerNumberHour',
  'sends-per-number-day': 'sendsPerNumberDay',
  'prefix-sends-per-window': 'prefixSendsPerWindow',
  'country-sends-per-window': 'countrySendsPerWindow',
  'unregistered-verify': 'unregisteredVerifyLegacy',
  'recovery-codes-on-devices': 'recoveryCodesOnDevices',
};

/** Settings named by a word rather than on/off. */
export const SETTING_WORDS: Partial<Record<keyof Settings, Record<string, number>>> = {
  unregisteredVerifyLegacy: { legacy: 1, check: 0 },
};


export type Args = ReturnType<typeof readArgs>;

/** The command line, parsed (throws on an unknown option, with the option named). */
export function readArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      confirm: { type: 'string' },
      role: { type: 'string' },
      id: { type: 'string' },
      app: { type: 'string' },
      account: { type: 'string' },
      limit: { type: 'string' },
      sms: { type: 'string' },
      voice: { type: 'string' },
      email: { type: 'string' },
      url: { type: 'string' },
      countries: { type: 'string' },
      method: { type: 'string' },
      file: { type: 'string' },
      to: { type: 'string' },
      from: { type: 'string' },
      'authy-id': { type: 'string' },
      'sso-only': { type: 'boolean', default: false },
      off: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
      ...Object.fromEntries(Object.keys(SETTING_FLAGS).map((f) => [f, { type: 'string' as const }])),
    },
  });
}
