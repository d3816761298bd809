// Message texts for one-time codes (SMS, voice call, e-mail) in Authy's 35 locales, and the choice
// of locale for a request. Pure code: no I/O, no dependencies.
//
// Conventions kept in every catalog:
// - the application name, the code and the action message are inserted verbatim, never translated;
// - the voice text reads the code one character at a time with the language's natural separator
//   (ASCII digits, so a text-to-speech engine reads each digit) and repeats it once;
// - CJK texts have no spaces between words; Thai separates sentences with a space, not a period;
// - French keeps a plain space (not U+00A0) before ":" so Latin-script SMS stay in GSM-7;
// - Arabic and Hebrew texts are written in their own (right-to-left) order; the Latin app name and
//   the ASCII digits are laid out by the reader's bidi algorithm, no control characters are added.

/** Authy's locales, canonical spelling. */
export const LOCALES: readonly string[] = Object.freeze([
  'af', 'ar', 'ca', 'zh', 'zh-CN', 'zh-HK', 'hr', 'cs', 'da', 'nl', 'en', 'fi', 'fr', 'de', 'el', 'he', 'hi', 'hu',
  'id', 'it', 'ja', 'ko', 'ms', 'nb', 'pl', 'pt-BR', 'pt', 'ro', 'ru', 'es', 'sv', 'tl', 'th', 'tr', 'vi',
]);

export interface MessageVars {
  appName: string;
  code: string;
  minutes: number;
}

// ---------------------------------------------------------------------------------------------
// Locale resolution

const BY_LOWER = new Map(LOCALES.map((l) => [l.toLowerCase(), l]));

/** Legacy or sibling language subtags that have an obvious supported counterpart. */
const LANGUAGE_ALIASES: ReadonlyMap<string, string> = new Map([
  ['iw', 'he'], // pre-1989 code for Hebrew (still sent by old Java/Android)
  ['in', 'id'], // pre-1989 code for Indonesian
  ['no', 'nb'], // Norwegian macrolanguage
  ['nn', 'nb'], // Nynorsk readers read Bokmål
  ['fil', 'tl'], // Filipino is standardised Tagalog
  ['zsm', 'ms'], // Standard Malay
  ['yue', 'zh-HK'], // Cantonese
]);

/** Chinese by region: Simplified for the mainland, Singapore and Malaysia, HK wording for HK and Macau. */
const ZH_BY_REGION: ReadonlyMap<string, string> = new Map([
  ['CN', 'zh-CN'], ['SG', 'zh-CN'], ['MY', 'zh-CN'], ['HK', 'zh-HK'], ['MO', 'zh-HK'], ['TW', 'zh'],
]);

function countries(locale: string, codes: string): [string, string][] {
  return codes.split(' ').map((c) => [c, locale]);
}

/**
 * Language of a phone's country (ISO 3166 alpha-2): the majority or first official language when it
 * is one of the 35. Countries not listed (the US, the UK, most of Africa and Asia…) get English.
 * Judgement calls:
 * - IN → en: Hindi is read by well under half of India and English is the language of business and
 *   of practically every OTP sent there (Devanagari would also force UCS-2, 70 characters a part).
 * - PH → en: English is co-official and the usual language of transactional SMS; Filipino (tl)
 *   stays available through an explicit locale.
 * - ZA/NA → en: Afrikaans is one of many languages; English is the common one.
 * - BE → nl (Flemish majority), CH → de (German majority), LU → fr (language of administration).
 * - All Arab League members → ar (incl. Djibouti and Comoros), Chad → fr.
 * - BY/KZ/KG → ru (Russian is official there); other former Soviet states, UA included, → en.
 * - SK → cs: Czech is fully understood in Slovakia and far closer than English.
 * - TW → zh (generic Chinese is served in Traditional characters), HK/MO → zh-HK, CN/SG → zh-CN.
 */
const REGION_LOCALE: ReadonlyMap<string, string> = new Map([
  ...countries('ar', 'AE BH DJ DZ EG EH IQ JO KM KW LB LY MA MR OM PS QA SA SD SO SY TN YE'),
  ...countries('ca', 'AD'),
  ...countries('zh', 'TW'),
  ...countries('zh-CN', 'CN SG'),
  ...countries('zh-HK', 'HK MO'),
  ...countries('hr', 'HR'),
  ...countries('cs', 'CZ SK'),
  ...countries('da', 'DK FO GL'),
  ...countries('nl', 'NL BE SR AW CW SX BQ'),
  ...countries('fi', 'FI'),
  ...countries('fr', 'FR MC LU BF BI BJ BL CD CF CG CI CM GA GF GN GP HT MF MG ML MQ NC NE PF PM RE SN TD TF TG WF YT'),
  ...countries('de', 'DE AT CH LI'),
  ...countries('el', 'GR CY'),
  ...countries('he', 'IL'),
  ...countries('hu', 'HU'),
  ...countries('id', 'ID'),
  ...countries('it', 'IT SM VA'),
  ...countries('ja', 'JP'),
  ...countries('ko', 'KR KP'),
  ...countries('ms', 'MY BN'),
  ...countries('nb', 'NO SJ BV'),
  ...countries('pl', 'PL'),
  ...countries('pt-BR', 'BR'),
  ...countries('pt', 'PT AO MZ CV GW ST TL'),
  ...countries('ro', 'RO MD'),
  ...countries('ru', 'RU BY KZ KG'),
  ...countries('es', 'ES MX GT HN SV NI CR PA CU DO PR CO VE EC PE BO CL AR UY PY GQ'),
  ...countries('sv', 'SE AX'),
  ...countries('th', 'TH'),
  ...countries('tr', 'TR'),
  ...countries('vi', 'VN'),
]);

/** A supported locale for a BCP 47-ish tag (`pt_BR`, `zh-Hant-TW`, `es-419`, `fr-FR,fr;q=0.9`), if any. */
function fromTag(raw: string): string | undefined {
  const tag = raw.split(/[,;]/)[0]!.trim().replace(/_/g, '-').toLowerCase();
  if (!tag) return undefined;
  const exact = BY_LOWER.get(tag);
  if (exact) return exact;
  const [first, ...rest] = tag.split('-');
  let script: string | undefined;
  let region: string | undefined;
  for (const p of rest) {
    if (!script && !region && /^[a-z]{4}$/.test(p)) script = p;
    else if (!region && /^(?:[a-z]{2}|\d{3})$/.test(p)) region = p.toUpperCase();
  }
  const lang = LANGUAGE_ALIASES.get(first!) ?? first!;
  if (lang === 'zh') {
    if (script === 'hans') return 'zh-CN';
    if (script === 'hant') return region === 'HK' || region === 'MO' ? 'zh-HK' : 'zh';
    return (region && ZH_BY_REGION.get(region)) || 'zh';
  }
  if (lang === 'pt') return region === 'BR' ? 'pt-BR' : 'pt';
  // Any other supported language with an unsupported region (es-MX, en-GB, fr-CA…): the language.
  return lang.includes('-') ? LOCALES.find((l) => l === lang) : BY_LOWER.get(lang);
}

/**
 * Canonical locale for a request: `requested` matched case-insensitively (`zh-cn` → `zh-CN`);
 * `lang-REGION` with an unsupported region falls back to the language (`es-MX` → `es`, `pt-AO` →
 * `pt`, `zh-TW` → `zh`, `zh-SG` → `zh-CN`); unknown or absent → the language of the phone's country
 * (`region`, ISO 3166 alpha-2), else 'en'.
 */
export function resolveLocale(requested: string | undefined, region: string | undefined): string {
  // An unknown locale is English, not the phone's country: the caller asked for something.
  if (requested?.trim()) return fromTag(requested) ?? 'en';
  return (region && REGION_LOCALE.get(region.trim().toUpperCase())) || 'en';
}

// ---------------------------------------------------------------------------------------------
// Texts

interface Catalog {
  /** How "N minutes" reads after the catalog's preposition. */
  minutes(n: number): string;
  /** Separator between the characters of a code read aloud. */
  sep: string;
  sms(app: string, code: string, min: string): string;
  voice(app: string, spoken: string): string;
  subject(app: string): string;
  email(app: string, code: string, min: string): string;
  action(app: string, action: string, code: string, min: string): string;
}

/** `text` ending with `punct` unless it already ends a sentence. */
function sentence(text: string, punct: string): string {
  return /[.!?…。！？।]$/u.test(text) ? text : text + punct;
}

const simple = (one: string, other: string) => (n: number) => `${n} ${n === 1 ? one : other}`;
const invariable = (word: string) => (n: number) => `${n} ${word}`;
/** East Slavic / Croatian: 1, 21, 31… | 2–4, 22–24… | the rest (5–20, 25–30…). */
const slavic = (one: string, few: string, many: string) => (n: number) => {
  const d = n % 10;
  const h = n % 100;
  return `${n} ${d === 1 && h !== 11 ? one : d >= 2 && d <= 4 && (h < 12 || h > 14) ? few : many}`;
};

const CATALOGS: Readonly<Record<string, Catalog>> = {
  en: {
    minutes: simple('minute', 'minutes'),
    sep: ', ',
    sms: (a, c, m) => `Your ${a} verification code is: ${c}. It expires in ${m}.`,
    voice: (a, s) => `Your ${a} verification code is ${s}. Again, your code is ${s}.`,
    subject: (a) => `Your ${a} verification code`,
    email: (a, c, m) => `Your ${a} verification code is: ${c}\n\nIt expires in ${m}. If you did not request this code, you can ignore this email.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Your code is: ${c}. It expires in ${m}.`,
  },
  af: {
    minutes: simple('minuut', 'minute'),
    sep: ', ',
    sms: (a, c, m) => `Jou verifikasiekode vir ${a} is: ${c}. Dit verval oor ${m}.`,
    voice: (a, s) => `Jou verifikasiekode vir ${a} is ${s}. Weereens, jou kode is ${s}.`,
    subject: (a) => `Jou verifikasiekode vir ${a}`,
    email: (a, c, m) => `Jou verifikasiekode vir ${a} is: ${c}\n\nDit verval oor ${m}. As jy nie hierdie kode aangevra het nie, kan jy hierdie e-pos ignoreer.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Jou kode is: ${c}. Dit verval oor ${m}.`,
  },
  ar: {
    // 1: دقيقة واحدة, 2: dual (genitive after خلال), 3–10: plural, 11–99: singular accusative, 100…: singular.
    minutes: (n) => {
      const h = n % 100;
      if (n === 1) return 'دقيقة واحدة';
      if (n === 2) return 'دقيقتين';
      return h >= 3 && h <= 10 ? `${n} دقائق` : `${n} دقيقة`;
    },
    sep: '، ',
    sms: (a, c, m) => `رمز التحقق الخاص بك في ${a} هو: ${c}. تنتهي صلاحيته خلال ${m}.`,
    voice: (a, s) => `رمز التحقق الخاص بك في ${a} هو ${s}. أكرر، رمزك هو ${s}.`,
    subject: (a) => `رمز التحقق الخاص بك في ${a}`,
    email: (a, c, m) => `رمز التحقق الخاص بك في ${a} هو: ${c}\n\nتنتهي صلاحيته خلال ${m}. إذا لم تطلب هذا الرمز، يمكنك تجاهل هذه الرسالة.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} رمزك هو: ${c}. تنتهي صلاحيته خلال ${m}.`,
  },
  ca: {
    minutes: simple('minut', 'minuts'),
    sep: ', ',
    sms: (a, c, m) => `El teu codi de verificació per a ${a} és: ${c}. Caduca d'aquí a ${m}.`,
    voice: (a, s) => `El teu codi de verificació per a ${a} és ${s}. Repeteixo, el teu codi és ${s}.`,
    subject: (a) => `El teu codi de verificació per a ${a}`,
    email: (a, c, m) => `El teu codi de verificació per a ${a} és: ${c}\n\nCaduca d'aquí a ${m}. Si no has sol·licitat aquest codi, pots ignorar aquest correu electrònic.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} El teu codi és: ${c}. Caduca d'aquí a ${m}.`,
  },
  // Generic Chinese: Traditional characters, Taiwan wording (TW resolves here).
  zh: {
    minutes: (n) => `${n}分鐘`,
    sep: '、',
    sms: (a, c, m) => `您的${a}驗證碼為：${c}，${m}內有效。`,
    voice: (a, s) => `您的${a}驗證碼是：${s}。再說一次，您的驗證碼是：${s}。`,
    subject: (a) => `您的${a}驗證碼`,
    email: (a, c, m) => `您的${a}驗證碼為：${c}\n\n此驗證碼將於${m}後失效。如果您沒有要求此驗證碼，請忽略這封電子郵件。`,
    action: (a, x, c, m) => `${a}：${sentence(x, '。')}您的驗證碼為：${c}，${m}內有效。`,
  },
  // Mandarin, Simplified; the 【signature】 prefix is how mainland SMS name their sender.
  'zh-CN': {
    minutes: (n) => `${n}分钟`,
    sep: '、',
    sms: (a, c, m) => `【${a}】您的验证码是：${c}，${m}内有效。`,
    voice: (a, s) => `您的${a}验证码是：${s}。重复一遍，您的验证码是：${s}。`,
    subject: (a) => `您的${a}验证码`,
    email: (a, c, m) => `您的${a}验证码是：${c}\n\n该验证码将在${m}后失效。如果您没有请求此验证码，请忽略此邮件。`,
    action: (a, x, c, m) => `【${a}】${sentence(x, '。')}您的验证码是：${c}，${m}内有效。`,
  },
  // Cantonese, Traditional: written texts in Hong Kong written Chinese, the call in spoken Cantonese.
  'zh-HK': {
    minutes: (n) => `${n}分鐘`,
    sep: '、',
    sms: (a, c, m) => `你的${a}驗證碼是：${c}，有效時間為${m}。`,
    voice: (a, s) => `你嘅${a}驗證碼係：${s}。再講一次，你嘅驗證碼係：${s}。`,
    subject: (a) => `你的${a}驗證碼`,
    email: (a, c, m) => `你的${a}驗證碼是：${c}\n\n此驗證碼將於${m}後失效。如你並無要求此驗證碼，請忽略此電郵。`,
    action: (a, x, c, m) => `${a}：${sentence(x, '。')}你的驗證碼是：${c}，有效時間為${m}。`,
  },
  hr: {
    minutes: slavic('minutu', 'minute', 'minuta'), // accusative after "za"
    sep: ', ',
    sms: (a, c, m) => `Vaš verifikacijski kôd za ${a} je: ${c}. Istječe za ${m}.`,
    voice: (a, s) => `Vaš verifikacijski kôd za ${a} je ${s}. Ponavljam, vaš kôd je ${s}.`,
    subject: (a) => `Vaš verifikacijski kôd za ${a}`,
    email: (a, c, m) => `Vaš verifikacijski kôd za ${a} je: ${c}\n\nIstječe za ${m}. Ako niste zatražili ovaj kôd, možete zanemariti ovu poruku.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Vaš kôd je: ${c}. Istječe za ${m}.`,
  },
  cs: {
    minutes: (n) => `${n} ${n === 1 ? 'minutu' : n >= 2 && n <= 4 ? 'minuty' : 'minut'}`, // accusative after "za"
    sep: ', ',
    sms: (a, c, m) => `Váš ověřovací kód pro ${a} je: ${c}. Platnost vyprší za ${m}.`,
    voice: (a, s) => `Váš ověřovací kód pro ${a} je ${s}. Opakuji, váš kód je ${s}.`,
    subject: (a) => `Váš ověřovací kód pro ${a}`,
    email: (a, c, m) => `Váš ověřovací kód pro ${a} je: ${c}\n\nPlatnost vyprší za ${m}. Pokud jste o tento kód nežádali, můžete tento e-mail ignorovat.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Váš kód je: ${c}. Platnost vyprší za ${m}.`,
  },
  da: {
    minutes: simple('minut', 'minutter'),
    sep: ', ',
    sms: (a, c, m) => `Din bekræftelseskode til ${a} er: ${c}. Den udløber om ${m}.`,
    voice: (a, s) => `Din bekræftelseskode til ${a} er ${s}. Igen, din kode er ${s}.`,
    subject: (a) => `Din bekræftelseskode til ${a}`,
    email: (a, c, m) => `Din bekræftelseskode til ${a} er: ${c}\n\nDen udløber om ${m}. Hvis du ikke har bedt om denne kode, kan du se bort fra denne e-mail.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Din kode er: ${c}. Den udløber om ${m}.`,
  },
  nl: {
    minutes: simple('minuut', 'minuten'),
    sep: ', ',
    sms: (a, c, m) => `Je verificatiecode voor ${a} is: ${c}. De code verloopt over ${m}.`,
    voice: (a, s) => `Je verificatiecode voor ${a} is ${s}. Nogmaals, je code is ${s}.`,
    subject: (a) => `Je verificatiecode voor ${a}`,
    email: (a, c, m) => `Je verificatiecode voor ${a} is: ${c}\n\nDe code verloopt over ${m}. Als je deze code niet hebt aangevraagd, kun je deze e-mail negeren.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Je code is: ${c}. De code verloopt over ${m}.`,
  },
  fi: {
    minutes: (n) => `${n} minuutin`, // genitive before "kuluttua", same for 1 and more
    sep: ', ',
    sms: (a, c, m) => `Vahvistuskoodisi palveluun ${a} on: ${c}. Koodi vanhenee ${m} kuluttua.`,
    voice: (a, s) => `Vahvistuskoodisi palveluun ${a} on ${s}. Toistan, koodisi on ${s}.`,
    subject: (a) => `Vahvistuskoodisi palveluun ${a}`,
    email: (a, c, m) => `Vahvistuskoodisi palveluun ${a} on: ${c}\n\nKoodi vanhenee ${m} kuluttua. Jos et pyytänyt tätä koodia, voit jättää tämän sähköpostin huomiotta.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Koodisi on: ${c}. Koodi vanhenee ${m} kuluttua.`,
  },
  fr: {
    minutes: (n) => `${n} ${n < 2 ? 'minute' : 'minutes'}`,
    sep: ', ',
    sms: (a, c, m) => `Votre code de vérification ${a} est : ${c}. Il expire dans ${m}.`,
    voice: (a, s) => `Votre code de vérification ${a} est ${s}. Je répète, votre code est ${s}.`,
    subject: (a) => `Votre code de vérification ${a}`,
    email: (a, c, m) => `Votre code de vérification ${a} est : ${c}\n\nIl expire dans ${m}. Si vous n'avez pas demandé ce code, vous pouvez ignorer cet e-mail.`,
    action: (a, x, c, m) => `${a} : ${sentence(x, '.')} Votre code est : ${c}. Il expire dans ${m}.`,
  },
  de: {
    minutes: simple('Minute', 'Minuten'),
    sep: ', ',
    sms: (a, c, m) => `Ihr Bestätigungscode für ${a} lautet: ${c}. Er läuft in ${m} ab.`,
    voice: (a, s) => `Ihr Bestätigungscode für ${a} lautet ${s}. Noch einmal, Ihr Code lautet ${s}.`,
    subject: (a) => `Ihr Bestätigungscode für ${a}`,
    email: (a, c, m) => `Ihr Bestätigungscode für ${a} lautet: ${c}\n\nEr läuft in ${m} ab. Falls Sie diesen Code nicht angefordert haben, können Sie diese E-Mail ignorieren.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Ihr Code lautet: ${c}. Er läuft in ${m} ab.`,
  },
  el: {
    minutes: simple('λεπτό', 'λεπτά'),
    sep: ', ',
    sms: (a, c, m) => `Ο κωδικός επαλήθευσης για το ${a} είναι: ${c}. Λήγει σε ${m}.`,
    voice: (a, s) => `Ο κωδικός επαλήθευσης για το ${a} είναι ${s}. Επαναλαμβάνω, ο κωδικός σας είναι ${s}.`,
    subject: (a) => `Κωδικός επαλήθευσης για το ${a}`,
    email: (a, c, m) => `Ο κωδικός επαλήθευσης για το ${a} είναι: ${c}\n\nΛήγει σε ${m}. Αν δεν ζητήσατε αυτόν τον κωδικό, μπορείτε να αγνοήσετε αυτό το μήνυμα.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Ο κωδικός σας είναι: ${c}. Λήγει σε ${m}.`,
  },
  he: {
    minutes: (n) => (n === 1 ? 'דקה אחת' : `${n} דקות`),
    sep: ', ',
    sms: (a, c, m) => `קוד האימות שלך ל-${a} הוא: ${c}. תוקף הקוד יפוג בעוד ${m}.`,
    voice: (a, s) => `קוד האימות שלך ל-${a} הוא ${s}. שוב, הקוד שלך הוא ${s}.`,
    subject: (a) => `קוד האימות שלך ל-${a}`,
    email: (a, c, m) => `קוד האימות שלך ל-${a} הוא: ${c}\n\nתוקף הקוד יפוג בעוד ${m}. אם לא ביקשת את הקוד הזה, אפשר להתעלם מהודעה זו.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} הקוד שלך הוא: ${c}. תוקף הקוד יפוג בעוד ${m}.`,
  },
  hi: {
    minutes: invariable('मिनट'),
    sep: ', ',
    sms: (a, c, m) => `${a} के लिए आपका सत्यापन कोड है: ${c}। यह ${m} में समाप्त हो जाएगा।`,
    voice: (a, s) => `${a} के लिए आपका सत्यापन कोड है ${s}। फिर से, आपका कोड है ${s}।`,
    subject: (a) => `${a} के लिए आपका सत्यापन कोड`,
    email: (a, c, m) => `${a} के लिए आपका सत्यापन कोड है: ${c}\n\nयह ${m} में समाप्त हो जाएगा। यदि आपने यह कोड नहीं माँगा था, तो आप इस ईमेल को अनदेखा कर सकते हैं।`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '।')} आपका कोड है: ${c}। यह ${m} में समाप्त हो जाएगा।`,
  },
  hu: {
    minutes: invariable('perc'), // no plural after a numeral
    sep: ', ',
    // "Az Ön …": the article agrees with "Ön", so any app name reads correctly after it.
    sms: (a, c, m) => `Az Ön ${a} ellenőrző kódja: ${c}. A kód ${m} múlva lejár.`,
    voice: (a, s) => `Az Ön ${a} ellenőrző kódja: ${s}. Még egyszer, az Ön kódja: ${s}.`,
    subject: (a) => `Az Ön ${a} ellenőrző kódja`,
    email: (a, c, m) => `Az Ön ${a} ellenőrző kódja: ${c}\n\nA kód ${m} múlva lejár. Ha nem Ön kérte ezt a kódot, hagyja figyelmen kívül ezt az e-mailt.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Az Ön kódja: ${c}. A kód ${m} múlva lejár.`,
  },
  id: {
    minutes: invariable('menit'),
    sep: ', ',
    sms: (a, c, m) => `Kode verifikasi ${a} Anda adalah: ${c}. Kode ini akan kedaluwarsa dalam ${m}.`,
    voice: (a, s) => `Kode verifikasi ${a} Anda adalah ${s}. Sekali lagi, kode Anda adalah ${s}.`,
    subject: (a) => `Kode verifikasi ${a} Anda`,
    email: (a, c, m) => `Kode verifikasi ${a} Anda adalah: ${c}\n\nKode ini akan kedaluwarsa dalam ${m}. Jika Anda tidak meminta kode ini, abaikan saja email ini.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Kode Anda adalah: ${c}. Kode ini akan kedaluwarsa dalam ${m}.`,
  },
  it: {
    minutes: simple('minuto', 'minuti'),
    sep: ', ',
    sms: (a, c, m) => `Il tuo codice di verifica ${a} è: ${c}. Scade tra ${m}.`,
    voice: (a, s) => `Il tuo codice di verifica ${a} è ${s}. Ripeto, il tuo codice è ${s}.`,
    subject: (a) => `Il tuo codice di verifica ${a}`,
    email: (a, c, m) => `Il tuo codice di verifica ${a} è: ${c}\n\nScade tra ${m}. Se non hai richiesto questo codice, puoi ignorare questa email.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Il tuo codice è: ${c}. Scade tra ${m}.`,
  },
  ja: {
    minutes: (n) => `${n}分`,
    sep: '、',
    sms: (a, c, m) => `${a}の認証コードは${c}です。有効期限は${m}です。`,
    voice: (a, s) => `${a}の認証コードは、${s}です。もう一度繰り返します。認証コードは、${s}です。`,
    subject: (a) => `${a}の認証コード`,
    email: (a, c, m) => `${a}の認証コードは${c}です。\n\nこのコードの有効期限は${m}です。このコードをリクエストしていない場合は、このメールを無視してください。`,
    action: (a, x, c, m) => `${a}：${sentence(x, '。')}認証コードは${c}です。有効期限は${m}です。`,
  },
  ko: {
    minutes: (n) => `${n}분`,
    sep: ', ',
    sms: (a, c, m) => `${a} 인증번호는 ${c}입니다. ${m} 후에 만료됩니다.`,
    voice: (a, s) => `${a} 인증번호는 ${s}입니다. 다시 한번 말씀드립니다. 인증번호는 ${s}입니다.`,
    subject: (a) => `${a} 인증번호`,
    email: (a, c, m) => `${a} 인증번호는 ${c}입니다.\n\n이 번호는 ${m} 후에 만료됩니다. 인증번호를 요청하지 않으셨다면 이 이메일을 무시하셔도 됩니다.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} 인증번호는 ${c}입니다. ${m} 후에 만료됩니다.`,
  },
  ms: {
    minutes: invariable('minit'),
    sep: ', ',
    sms: (a, c, m) => `Kod pengesahan ${a} anda ialah: ${c}. Kod ini akan tamat tempoh dalam ${m}.`,
    voice: (a, s) => `Kod pengesahan ${a} anda ialah ${s}. Sekali lagi, kod anda ialah ${s}.`,
    subject: (a) => `Kod pengesahan ${a} anda`,
    email: (a, c, m) => `Kod pengesahan ${a} anda ialah: ${c}\n\nKod ini akan tamat tempoh dalam ${m}. Jika anda tidak meminta kod ini, abaikan sahaja e-mel ini.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Kod anda ialah: ${c}. Kod ini akan tamat tempoh dalam ${m}.`,
  },
  nb: {
    minutes: simple('minutt', 'minutter'),
    sep: ', ',
    sms: (a, c, m) => `Bekreftelseskoden din for ${a} er: ${c}. Den utløper om ${m}.`,
    voice: (a, s) => `Bekreftelseskoden din for ${a} er ${s}. Igjen, koden din er ${s}.`,
    subject: (a) => `Bekreftelseskoden din for ${a}`,
    email: (a, c, m) => `Bekreftelseskoden din for ${a} er: ${c}\n\nDen utløper om ${m}. Hvis du ikke ba om denne koden, kan du se bort fra denne e-posten.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Koden din er: ${c}. Den utløper om ${m}.`,
  },
  pl: {
    // accusative after "za": 1 minutę | 2–4, 22–24… minuty | the rest minut
    minutes: (n) => {
      const d = n % 10;
      const h = n % 100;
      return `${n} ${n === 1 ? 'minutę' : d >= 2 && d <= 4 && (h < 12 || h > 14) ? 'minuty' : 'minut'}`;
    },
    sep: ', ',
    sms: (a, c, m) => `Twój kod weryfikacyjny ${a} to: ${c}. Kod wygasa za ${m}.`,
    voice: (a, s) => `Twój kod weryfikacyjny ${a} to ${s}. Powtarzam, Twój kod to ${s}.`,
    subject: (a) => `Twój kod weryfikacyjny ${a}`,
    email: (a, c, m) => `Twój kod weryfikacyjny ${a} to: ${c}\n\nKod wygasa za ${m}. Jeśli ten kod nie był przez Ciebie zamawiany, zignoruj tę wiadomość.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Twój kod to: ${c}. Kod wygasa za ${m}.`,
  },
  'pt-BR': {
    minutes: simple('minuto', 'minutos'),
    sep: ', ',
    sms: (a, c, m) => `Seu código de verificação ${a} é: ${c}. Ele expira em ${m}.`,
    voice: (a, s) => `Seu código de verificação ${a} é ${s}. Repetindo, seu código é ${s}.`,
    subject: (a) => `Seu código de verificação ${a}`,
    email: (a, c, m) => `Seu código de verificação ${a} é: ${c}\n\nEle expira em ${m}. Se você não solicitou este código, pode ignorar este e-mail.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Seu código é: ${c}. Ele expira em ${m}.`,
  },
  pt: {
    minutes: simple('minuto', 'minutos'),
    sep: ', ',
    sms: (a, c, m) => `O seu código de verificação ${a} é: ${c}. Expira dentro de ${m}.`,
    voice: (a, s) => `O seu código de verificação ${a} é ${s}. Repito, o seu código é ${s}.`,
    subject: (a) => `O seu código de verificação ${a}`,
    email: (a, c, m) => `O seu código de verificação ${a} é: ${c}\n\nExpira dentro de ${m}. Se não pediu este código, pode ignorar este e-mail.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} O seu código é: ${c}. Expira dentro de ${m}.`,
  },
  ro: {
    // 1 minut | 2–19 (and 101–119…) minute | 20 de minute
    minutes: (n) => {
      const h = n % 100;
      return `${n} ${n === 1 ? 'minut' : n === 0 || (h >= 1 && h <= 19) ? 'minute' : 'de minute'}`;
    },
    sep: ', ',
    sms: (a, c, m) => `Codul tău de verificare ${a} este: ${c}. Expiră în ${m}.`,
    voice: (a, s) => `Codul tău de verificare ${a} este ${s}. Repet, codul tău este ${s}.`,
    subject: (a) => `Codul tău de verificare ${a}`,
    email: (a, c, m) => `Codul tău de verificare ${a} este: ${c}\n\nExpiră în ${m}. Dacă nu ai solicitat acest cod, poți ignora acest e-mail.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Codul tău este: ${c}. Expiră în ${m}.`,
  },
  ru: {
    minutes: slavic('минуту', 'минуты', 'минут'), // accusative after "через"
    sep: ', ',
    sms: (a, c, m) => `Ваш код подтверждения для ${a}: ${c}. Срок действия истекает через ${m}.`,
    voice: (a, s) => `Ваш код подтверждения для ${a}: ${s}. Повторяю, ваш код: ${s}.`,
    subject: (a) => `Код подтверждения для ${a}`,
    email: (a, c, m) => `Ваш код подтверждения для ${a}: ${c}\n\nСрок действия кода истекает через ${m}. Если вы не запрашивали этот код, просто проигнорируйте это письмо.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Ваш код: ${c}. Срок действия истекает через ${m}.`,
  },
  es: {
    minutes: simple('minuto', 'minutos'),
    sep: ', ',
    sms: (a, c, m) => `Tu código de verificación de ${a} es: ${c}. Expira en ${m}.`,
    voice: (a, s) => `Tu código de verificación de ${a} es ${s}. Repito, tu código es ${s}.`,
    subject: (a) => `Tu código de verificación de ${a}`,
    email: (a, c, m) => `Tu código de verificación de ${a} es: ${c}\n\nExpira en ${m}. Si no solicitaste este código, puedes ignorar este correo.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Tu código es: ${c}. Expira en ${m}.`,
  },
  sv: {
    minutes: simple('minut', 'minuter'),
    sep: ', ',
    sms: (a, c, m) => `Din verifieringskod för ${a} är: ${c}. Den går ut om ${m}.`,
    voice: (a, s) => `Din verifieringskod för ${a} är ${s}. Jag upprepar, din kod är ${s}.`,
    subject: (a) => `Din verifieringskod för ${a}`,
    email: (a, c, m) => `Din verifieringskod för ${a} är: ${c}\n\nDen går ut om ${m}. Om du inte har begärt den här koden kan du ignorera det här mejlet.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Din kod är: ${c}. Den går ut om ${m}.`,
  },
  tl: {
    minutes: invariable('minuto'),
    sep: ', ',
    sms: (a, c, m) => `Ang iyong code sa pag-verify para sa ${a} ay: ${c}. Mawawalan ito ng bisa sa loob ng ${m}.`,
    voice: (a, s) => `Ang iyong code sa pag-verify para sa ${a} ay ${s}. Uulitin ko, ang iyong code ay ${s}.`,
    subject: (a) => `Ang iyong code sa pag-verify para sa ${a}`,
    email: (a, c, m) => `Ang iyong code sa pag-verify para sa ${a} ay: ${c}\n\nMawawalan ito ng bisa sa loob ng ${m}. Kung hindi ikaw ang humiling ng code na ito, maaari mong balewalain ang email na ito.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Ang iyong code ay: ${c}. Mawawalan ito ng bisa sa loob ng ${m}.`,
  },
  // Thai ends sentences with a space, not a period.
  th: {
    minutes: invariable('นาที'),
    sep: ' ',
    sms: (a, c, m) => `รหัสยืนยัน ${a} ของคุณคือ ${c} รหัสนี้จะหมดอายุภายใน ${m}`,
    voice: (a, s) => `รหัสยืนยัน ${a} ของคุณคือ ${s} ขอทวนอีกครั้ง รหัสของคุณคือ ${s}`,
    subject: (a) => `รหัสยืนยัน ${a} ของคุณ`,
    email: (a, c, m) => `รหัสยืนยัน ${a} ของคุณคือ ${c}\n\nรหัสนี้จะหมดอายุภายใน ${m} หากคุณไม่ได้ขอรหัสนี้ คุณสามารถเพิกเฉยต่ออีเมลฉบับนี้ได้`,
    action: (a, x, c, m) => `${a}: ${x} รหัสของคุณคือ ${c} รหัสนี้จะหมดอายุภายใน ${m}`,
  },
  tr: {
    minutes: invariable('dakika'), // no plural after a numeral
    sep: ', ',
    // "<app> doğrulama kodunuz": a noun compound, so the app name takes no suffix.
    sms: (a, c, m) => `${a} doğrulama kodunuz: ${c}. Bu kod ${m} boyunca geçerlidir.`,
    voice: (a, s) => `${a} doğrulama kodunuz: ${s}. Tekrar ediyorum, kodunuz: ${s}.`,
    subject: (a) => `${a} doğrulama kodunuz`,
    email: (a, c, m) => `${a} doğrulama kodunuz: ${c}\n\nBu kod ${m} boyunca geçerlidir. Bu kodu siz talep etmediyseniz bu e-postayı dikkate almayabilirsiniz.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Kodunuz: ${c}. Bu kod ${m} boyunca geçerlidir.`,
  },
  vi: {
    minutes: invariable('phút'),
    sep: ', ',
    sms: (a, c, m) => `Mã xác minh ${a} của bạn là: ${c}. Mã sẽ hết hạn sau ${m}.`,
    voice: (a, s) => `Mã xác minh ${a} của bạn là ${s}. Xin nhắc lại, mã của bạn là ${s}.`,
    subject: (a) => `Mã xác minh ${a} của bạn`,
    email: (a, c, m) => `Mã xác minh ${a} của bạn là: ${c}\n\nMã sẽ hết hạn sau ${m}. Nếu bạn không yêu cầu mã này, bạn có thể bỏ qua email này.`,
    action: (a, x, c, m) => `${a}: ${sentence(x, '.')} Mã của bạn là: ${c}. Mã sẽ hết hạn sau ${m}.`,
  },
};

/** The catalog for `locale` (any spelling resolveLocale accepts); English when unknown. */
function catalog(locale: string): Catalog {
  // resolveLocale only ever returns one of LOCALES, so the lookup never reaches Object.prototype.
  return CATALOGS[resolveLocale(locale, undefined)]!;
}

/** Whole minutes, rounded up, at least 1 (a code never "expires in 0 minutes"). */
function wholeMinutes(minutes: number): number {
  if (!Number.isFinite(minutes)) throw new RangeError(`minutes must be a finite number, got ${minutes}`);
  return Math.max(1, Math.ceil(minutes));
}

/** Inserted values on one line: an SMS or a subject must not gain line breaks from an app name. */
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

function prepared(locale: string, v: MessageVars) {
  const cat = catalog(locale);
  return { cat, app: oneLine(v.appName), code: v.code.trim(), min: cat.minutes(wholeMinutes(v.minutes)) };
}

export function smsText(locale: string, v: MessageVars): string {
  const { cat, app, code, min } = prepared(locale, v);
  return cat.sms(app, code, min);
}

/** The code read one character at a time, then once more. */
export function voiceText(locale: string, v: MessageVars): string {
  const { cat, app, code } = prepared(locale, v);
  return cat.voice(app, [...code.replace(/\s+/g, '')].join(cat.sep));
}

export function emailText(locale: string, v: MessageVars): { subject: string; text: string } {
  const { cat, app, code, min } = prepared(locale, v);
  return { subject: cat.subject(app), text: cat.email(app, code, min) };
}

/** The SMS text for an action-bound code (Authy's `action_message`): the action message replaces the generic purpose. */
export function smsActionText(locale: string, v: MessageVars & { actionMessage: string }): string {
  const { cat, app, code, min } = prepared(locale, v);
  const action = oneLine(v.actionMessage);
  return action ? cat.action(app, action, code, min) : cat.sms(app, code, min);
}
