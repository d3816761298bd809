import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getCountries } from 'libphonenumber-js/max';
import { LOCALES, emailText, resolveLocale, smsActionText, smsText, voiceText, type MessageVars } from '../../src/core/i18n.ts';

const AUTHY_LOCALES = 'af ar ca zh zh-CN zh-HK hr cs da nl en fi fr de el he hi hu id it ja ko ms nb pl pt-BR pt ro ru es sv tl th tr vi'.split(' ');

// No digit in the app name and minutes ≠ any code digit run, so digits in a voice text come only from the code.
const vars: MessageVars = { appName: 'Zyxquor', code: '4071935', minutes: 13 };
const action = 'Approve transfer #A-88 to Bob';

/** All texts of a locale, labelled for assertion messages. */
function texts(locale: string): Record<string, string> {
  const mail = emailText(locale, vars);
  return {
    sms: smsText(locale, vars),
    voice: voiceText(locale, vars),
    subject: mail.subject,
    email: mail.text,
    action: smsActionText(locale, { ...vars, actionMessage: action }),
  };
}

test('LOCALES is exactly Authy’s 35, canonical spelling', () => {
  assert.equal(LOCALES.length, 35);
  assert.deepEqual([...LOCALES].sort(), [...AUTHY_LOCALES].sort());
  assert.ok(Object.isFrozen(LOCALES));
});

test('English texts', () => {
  assert.equal(smsText('en', { appName: 'Acme', code: '1234567', minutes: 10 }), 'Your Acme verification code is: 1234567. It expires in 10 minutes.');
  assert.equal(
    voiceText('en', { appName: 'Acme', code: '1234567', minutes: 10 }),
    'Your Acme verification code is 1, 2, 3, 4, 5, 6, 7. Again, your code is 1, 2, 3, 4, 5, 6, 7.',
  );
  assert.equal(smsText('en', { appName: 'Acme', code: '123456', minutes: 1 }), 'Your Acme verification code is: 123456. It expires in 1 minute.');
  const mail = emailText('en', { appName: 'Acme', code: '123456', minutes: 10 });
  assert.equal(mail.subject, 'Your Acme verification code');
  assert.match(mail.text, /^Your Acme verification code is: 123456\n\nIt expires in 10 minutes\. /);
  // The action message replaces the generic purpose: no "verification code" left.
  const act = smsActionText('en', { appName: 'Acme', code: '123456', minutes: 10, actionMessage: 'Approve transfer of $100' });
  assert.equal(act, 'Acme: Approve transfer of $100. Your code is: 123456. It expires in 10 minutes.');
  assert.equal(
    smsActionText('en', { appName: 'Acme', code: '123456', minutes: 10, actionMessage: 'Log in?' }),
    'Acme: Log in? Your code is: 123456. It expires in 10 minutes.',
  );
});

for (const locale of AUTHY_LOCALES) {
  test(`${locale}: every text carries the app name and the code, with nothing left unfilled`, () => {
    const t = texts(locale);
    for (const [kind, s] of Object.entries(t)) {
      assert.equal(typeof s, 'string', `${locale} ${kind}`);
      assert.ok(s.includes(vars.appName), `${locale} ${kind} lacks the app name: ${s}`);
      assert.doesNotMatch(s, /\{\w*\}|\$\{|undefined|NaN|null|\[object/, `${locale} ${kind} has a placeholder: ${s}`);
      assert.doesNotMatch(s, /\s{3,}|^\s|\s$/, `${locale} ${kind} has stray whitespace: ${JSON.stringify(s)}`);
    }
    for (const kind of ['sms', 'email', 'action']) {
      assert.ok(t[kind]!.includes(vars.code), `${locale} ${kind} lacks the code: ${t[kind]}`);
      assert.ok(t[kind]!.includes(String(vars.minutes)), `${locale} ${kind} lacks the lifetime: ${t[kind]}`);
    }
    assert.ok(t.action!.includes(action), `${locale} action lacks the action message: ${t.action}`);
    assert.notEqual(t.action, t.sms, locale);
    assert.ok(!t.subject!.includes('\n'), `${locale} subject spans lines`);
  });

  test(`${locale}: the voice text reads the code digit by digit, twice`, () => {
    const voice = voiceText(locale, vars);
    assert.equal(voice.replace(/[^0-9]/g, ''), vars.code + vars.code, `${locale}: ${voice}`);
    assert.ok(!voice.includes(vars.code), `${locale} voice has the code as one number: ${voice}`);
    assert.ok(!/\d\d/.test(voice), `${locale} voice has adjacent digits: ${voice}`);
  });

  if (locale !== 'en') {
    test(`${locale}: translated, no English left over`, () => {
      const t = texts(locale);
      const en = texts('en');
      for (const [kind, s] of Object.entries(t)) {
        assert.notEqual(s, en[kind], `${locale} ${kind} is the English text`);
        assert.doesNotMatch(s, /\bYour\b|\bverification\b|\bexpires\b|\bAgain\b|If you did not|ignore this/, `${locale} ${kind}: ${s}`);
      }
    });
  }
}

test('no two locales share an SMS text (each has its own catalog)', () => {
  const seen = new Map<string, string>();
  for (const l of LOCALES) {
    const s = smsText(l, vars);
    assert.ok(!seen.has(s), `${l} has the same SMS as ${seen.get(s)}`);
    seen.set(s, l);
  }
});

test('scripts: each language in its own writing system', () => {
  const sms = (l: string) => smsText(l, vars) + voiceText(l, vars) + emailText(l, vars).text;
  assert.match(sms('ru'), /[\u0400-\u04FF]{4}/);
  assert.match(sms('el'), /[\u0370-\u03FF]{4}/);
  assert.match(sms('he'), /[\u0590-\u05FF]{4}/);
  assert.match(sms('ar'), /[\u0600-\u06FF]{4}/);
  assert.match(sms('hi'), /[\u0900-\u097F]{4}/);
  assert.match(sms('th'), /[\u0E00-\u0E7F]{4}/);
  assert.match(sms('ja'), /[\u3040-\u30FF]/); // kana
  assert.match(sms('ja'), /認証/); // kanji
  assert.match(sms('ko'), /[\uAC00-\uD7AF]{3}/);
  assert.match(sms('zh-CN'), /验证码/);
  assert.doesNotMatch(sms('zh-CN'), /驗證碼|鐘/);
  assert.match(sms('zh-HK'), /驗證碼/);
  assert.doesNotMatch(sms('zh-HK'), /验证码|钟/);
  assert.match(sms('zh'), /驗證碼/); // generic Chinese is served to Taiwan: Traditional
  for (const l of ['zh', 'zh-CN', 'zh-HK', 'ja']) {
    // CJK without spaces between words (a space may only sit next to Latin text)
    assert.doesNotMatch(smsText(l, vars), /[\u3000-\u9FFF] [\u3000-\u9FFF]/, l);
  }
});

test('minutes agree in number', () => {
  const m = (l: string, minutes: number) => smsText(l, { ...vars, minutes });
  assert.match(m('en', 1), /in 1 minute\.$/);
  assert.match(m('ru', 1), /через 1 минуту\.$/);
  assert.match(m('ru', 3), /через 3 минуты\.$/);
  assert.match(m('ru', 5), /через 5 минут\.$/);
  assert.match(m('ru', 11), /через 11 минут\.$/);
  assert.match(m('ru', 21), /через 21 минуту\.$/);
  assert.match(m('pl', 1), /za 1 minutę\.$/);
  assert.match(m('pl', 22), /za 22 minuty\.$/);
  assert.match(m('pl', 12), /za 12 minut\.$/);
  assert.match(m('cs', 3), /za 3 minuty\.$/);
  assert.match(m('cs', 10), /za 10 minut\.$/);
  assert.match(m('hr', 2), /za 2 minute\.$/);
  assert.match(m('ro', 10), /în 10 minute\.$/);
  assert.match(m('ro', 20), /în 20 de minute\.$/);
  assert.match(m('fr', 1), /dans 1 minute\.$/);
  assert.match(m('de', 1), /in 1 Minute ab\.$/);
  assert.match(m('ar', 1), /دقيقة واحدة/);
  assert.match(m('ar', 10), /10 دقائق/);
  assert.match(m('ar', 15), /15 دقيقة/);
  assert.match(m('he', 1), /דקה אחת/);
  assert.match(m('he', 10), /10 דקות/);
  // lifetimes are whole minutes, rounded up
  assert.match(m('en', 0.2), /in 1 minute\.$/);
  assert.match(m('en', 4.5), /in 5 minutes\.$/);
  assert.throws(() => m('en', Number.NaN), RangeError);
});

test('text functions: unknown locale → English, known ones in any spelling', () => {
  assert.equal(smsText('xx', vars), smsText('en', vars));
  assert.equal(smsText('', vars), smsText('en', vars));
  assert.equal(smsText('constructor', vars), smsText('en', vars));
  assert.equal(voiceText('klingon', vars), voiceText('en', vars));
  assert.deepEqual(emailText('??', vars), emailText('en', vars));
  assert.equal(smsActionText('__proto__', { ...vars, actionMessage: action }), smsActionText('en', { ...vars, actionMessage: action }));
  assert.equal(smsText('PT-br', vars), smsText('pt-BR', vars));
  assert.equal(smsText('es-MX', vars), smsText('es', vars));
});

test('inserted values are kept verbatim, on one line', () => {
  const s = smsText('de', { appName: 'Acme\nBank', code: '123456', minutes: 5 });
  assert.equal(s, 'Ihr Bestätigungscode für Acme Bank lautet: 123456. Er läuft in 5 Minuten ab.');
  assert.ok(smsText('fr', { appName: '{code}', code: '987654', minutes: 5 }).includes('{code}'));
  // an empty action message is no action: the generic text
  assert.equal(smsActionText('it', { ...vars, actionMessage: '  ' }), smsText('it', vars));
});

test('resolveLocale: requested locale, case-insensitive', () => {
  assert.equal(resolveLocale('zh-cn', undefined), 'zh-CN');
  assert.equal(resolveLocale('ZH-hk', 'US'), 'zh-HK');
  assert.equal(resolveLocale('PT-br', undefined), 'pt-BR');
  assert.equal(resolveLocale('pt_br', undefined), 'pt-BR');
  assert.equal(resolveLocale('FR', undefined), 'fr');
  assert.equal(resolveLocale('  de ', undefined), 'de');
  assert.equal(resolveLocale('Nb', undefined), 'nb');
  for (const l of LOCALES) {
    assert.equal(resolveLocale(l, 'JP'), l);
    assert.equal(resolveLocale(l.toUpperCase(), 'JP'), l);
  }
  // the requested locale wins over the phone's country
  assert.equal(resolveLocale('es', 'FR'), 'es');
  assert.equal(resolveLocale('en', 'BR'), 'en');
});

test('resolveLocale: unsupported region → the language', () => {
  assert.equal(resolveLocale('es-MX', undefined), 'es');
  assert.equal(resolveLocale('es-419', undefined), 'es');
  assert.equal(resolveLocale('en-GB', 'FR'), 'en');
  assert.equal(resolveLocale('fr-CA', undefined), 'fr');
  assert.equal(resolveLocale('de-AT', undefined), 'de');
  assert.equal(resolveLocale('pt-AO', undefined), 'pt');
  assert.equal(resolveLocale('pt-PT', undefined), 'pt');
  assert.equal(resolveLocale('zh-TW', undefined), 'zh');
  assert.equal(resolveLocale('zh-SG', undefined), 'zh-CN');
  assert.equal(resolveLocale('zh-MO', undefined), 'zh-HK');
  assert.equal(resolveLocale('zh-Hans', undefined), 'zh-CN');
  assert.equal(resolveLocale('zh-Hant', undefined), 'zh');
  assert.equal(resolveLocale('zh-Hant-HK', undefined), 'zh-HK');
  assert.equal(resolveLocale('zh-Hans-HK', undefined), 'zh-CN');
  assert.equal(resolveLocale('fr-FR,fr;q=0.9,en;q=0.8', undefined), 'fr');
  // legacy and sibling codes
  assert.equal(resolveLocale('iw', undefined), 'he');
  assert.equal(resolveLocale('in', undefined), 'id');
  assert.equal(resolveLocale('no', undefined), 'nb');
  assert.equal(resolveLocale('fil', undefined), 'tl');
  assert.equal(resolveLocale('yue', undefined), 'zh-HK');
});

test('resolveLocale: detected from the phone’s country', () => {
  const cases: [string, string][] = [
    ['FR', 'fr'], ['BR', 'pt-BR'], ['HK', 'zh-HK'], ['JP', 'ja'], ['US', 'en'], ['GB', 'en'],
    ['PT', 'pt'], ['AO', 'pt'], ['MZ', 'pt'], ['MO', 'zh-HK'], ['CN', 'zh-CN'], ['SG', 'zh-CN'], ['TW', 'zh'],
    ['DE', 'de'], ['AT', 'de'], ['CH', 'de'], ['LI', 'de'], ['BE', 'nl'], ['NL', 'nl'],
    ['MX', 'es'], ['AR', 'es'], ['CO', 'es'], ['ES', 'es'], ['CL', 'es'],
    ['SA', 'ar'], ['EG', 'ar'], ['MA', 'ar'], ['AE', 'ar'], ['IQ', 'ar'],
    ['NO', 'nb'], ['SE', 'sv'], ['DK', 'da'], ['FI', 'fi'], ['IL', 'he'], ['MY', 'ms'], ['ID', 'id'],
    ['RU', 'ru'], ['GR', 'el'], ['CY', 'el'], ['TR', 'tr'], ['VN', 'vi'], ['TH', 'th'], ['KR', 'ko'],
    ['PL', 'pl'], ['CZ', 'cs'], ['HU', 'hu'], ['RO', 'ro'], ['HR', 'hr'], ['IT', 'it'], ['AD', 'ca'],
    ['IN', 'en'], ['PH', 'en'], ['ZA', 'en'], ['UA', 'en'],
  ];
  for (const [region, locale] of cases) {
    assert.equal(resolveLocale(undefined, region), locale, region);
    assert.equal(resolveLocale(undefined, region.toLowerCase()), locale, region);
  }
});

test('resolveLocale: an unknown locale is English (wire reference §1.7, issue 3); empty = absent', () => {
  assert.equal(resolveLocale('xx', 'FR'), 'en');
  assert.equal(resolveLocale('klingon', 'BR'), 'en');
  assert.equal(resolveLocale('sr-Latn-RS', 'HR'), 'en');
  assert.equal(resolveLocale('', 'JP'), 'ja');
  assert.equal(resolveLocale('  ', 'JP'), 'ja');
  assert.equal(resolveLocale('xx', 'ZZ'), 'en');
  assert.equal(resolveLocale('xx', undefined), 'en');
  assert.equal(resolveLocale(undefined, undefined), 'en');
  assert.equal(resolveLocale(undefined, ''), 'en');
  assert.equal(resolveLocale('toString', 'constructor'), 'en');
  assert.equal(resolveLocale('__proto__', '__proto__'), 'en');
});

test('resolveLocale: every country resolves to one of the 35', () => {
  const langs = new Set<string>();
  for (const region of getCountries()) {
    const l = resolveLocale(undefined, region);
    assert.ok(LOCALES.includes(l), `${region} → ${l}`);
    langs.add(l);
  }
  // every locale but the ones deliberately only reachable by request is some country's language
  assert.deepEqual(LOCALES.filter((l) => !langs.has(l)).sort(), ['af', 'hi', 'tl']);
});
