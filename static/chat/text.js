// @ts-check
/**
 * Pure helpers for what the page shows: filling translated strings,
 * finding links in message text, message times and nickname colours.
 * Nothing here touches the DOM, so tests import it outside a browser.
 *
 * @module
 */

/** Colour classes for nicknames; style.css defines --nick-0 to --nick-7 */
const NICK_COLOURS = 8;

/**
 * Fills `{name}` placeholders in a translated string, as lib/web/i18n.ts does.
 * An unknown one is left as written, so a missing value shows, not vanishes.
 * @param {string} template
 * @param {Record<string, string | number>} [vars]
 * @returns {string}
 */
export function format(template, vars = {}) {
  return template.replace(
    /\{([a-z_]+)\}/g,
    (whole, /** @type {string} */ name) =>
      Object.hasOwn(vars, name) ? String(vars[name]) : whole,
  );
}

// RFC 3986 characters only: chat text in Chinese has no spaces, so a link
// must stop at the first CJK character or full-width punctuation
const URL_PATTERN =
  /(?<![A-Za-z0-9])https?:\/\/[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+/gi;

/**
 * Drops the punctuation that ends a sentence rather than a link, and a
 * closing bracket that has no opening one inside the link
 * @param {string} url
 * @returns {string}
 */
function trimUrlTail(url) {
  let out = url;
  for (;;) {
    const last = out.at(-1);
    if (last === undefined) return out;
    if (".,;:!?'*".includes(last)) {
      out = out.slice(0, -1);
      continue;
    }
    const open = last === ")" ? "(" : last === "]" ? "[" : undefined;
    if (open !== undefined) {
      const opens = out.split(open).length - 1;
      const closes = out.split(last).length - 1;
      if (closes > opens) {
        out = out.slice(0, -1);
        continue;
      }
    }
    return out;
  }
}

// Format characters (bidi controls, zero-width spaces and joiners) end the
// pattern's match, so the link would stop where the reader does not see it
// stop: "https://evil\u202Emoc.elgoog" would link "https://evil" beside a
// "google.com" drawn backwards
const FORMAT_CHAR = /^\p{Cf}/u;

/**
 * Whether a parsed candidate may become a link: http(s) with a host, and no
 * userinfo, since "https://google.com@evil.example/" goes to evil.example
 * @param {string} candidate
 * @returns {string | undefined} the href, or undefined to leave it as text
 */
function safeHref(candidate) {
  let url;
  try {
    url = new URL(candidate);
  } catch {
    // Not a URL after all, e.g. "http://": it stays text
    return undefined;
  }
  // The pattern already insists on http(s); this guards the parser's view
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  if (!url.host) return undefined;
  // Any "@" before the path counts, even an empty "https://@host" the parser
  // drops, so what is shown is always scheme, host and path
  const authority = candidate.slice(candidate.indexOf("//") + 2)
    .split(/[/?#]/, 1)[0];
  if (authority.includes("@") || url.username || url.password) {
    return undefined;
  }
  return url.href;
}

/**
 * Splits message text into plain runs and http(s) links, to render as text.
 * A link carries the parsed href; its text is what the person typed. URLs
 * with userinfo, or running into a format character, stay text.
 * @param {string} text
 * @returns {{ text: string, href?: string }[]}
 */
export function linkSegments(text) {
  /** @type {{ text: string, href?: string }[]} */
  const out = [];
  let done = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const start = match.index ?? 0;
    const end = start + match[0].length;
    if (FORMAT_CHAR.test(text.slice(end, end + 1))) continue;
    const candidate = trimUrlTail(match[0]);
    const href = safeHref(candidate);
    if (href === undefined) continue;
    if (start > done) out.push({ text: text.slice(done, start) });
    out.push({ text: candidate, href });
    done = start + candidate.length;
  }
  if (done < text.length) out.push({ text: text.slice(done) });
  return out;
}

/**
 * A colour class for a nickname, the same on every page load.
 * @param {string} nickname
 * @returns {string}
 */
export function nickColourClass(nickname) {
  let hash = 0;
  for (const ch of nickname) {
    hash = (hash * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  }
  return `nick-c${hash % NICK_COLOURS}`;
}

/**
 * The CSS rules that give each nickColourClass its palette colour.
 * Made here from the same count, so the classes and their rules cannot
 * disagree; style.css keeps the palette itself, light and dark.
 * @returns {string[]}
 */
export function nickColourRules() {
  return Array.from(
    { length: NICK_COLOURS },
    (_, i) => `.nick-c${i} { color: var(--nick-${i}); }`,
  );
}

/**
 * Message times in one language. The formatters are made once: making an
 * Intl.DateTimeFormat (which toLocaleString does on every call) costs far
 * more than using one, and a busy room asks for a time per message.
 * @param {string} lang
 */
export function createClock(lang) {
  const timeOnly = new Intl.DateTimeFormat(lang, {
    hour: "numeric",
    minute: "2-digit",
  });
  const dated = new Intl.DateTimeFormat(lang, {
    month: "short",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
  });
  // What toLocaleString shows, without a new formatter each time
  const full = new Intl.DateTimeFormat(lang, {
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
    second: "2-digit",
  });
  let dayStart = 0;
  let dayEnd = 0;
  // Messages of a burst share their minute, so the last text is reused;
  // every time zone in use today is offset by whole minutes
  let lastMinute = NaN;
  let lastToday = false;
  let lastText = "";
  return {
    /**
     * Hours and minutes for a time today, with the date before otherwise.
     * @param {number} ts
     * @param {number} [now]
     * @returns {string}
     */
    short(ts, now = Date.now()) {
      if (now < dayStart || now >= dayEnd) {
        const day = new Date(now);
        day.setHours(0, 0, 0, 0);
        dayStart = day.getTime();
        day.setDate(day.getDate() + 1);
        dayEnd = day.getTime();
      }
      const today = ts >= dayStart && ts < dayEnd;
      const minute = Math.floor(ts / 60_000);
      if (minute !== lastMinute || today !== lastToday) {
        lastText = (today ? timeOnly : dated).format(ts);
        lastMinute = minute;
        lastToday = today;
      }
      return lastText;
    },

    /**
     * The date and time to the second, for a tooltip.
     * @param {number} ts
     * @returns {string}
     */
    full(ts) {
      return full.format(ts);
    },
  };
}
